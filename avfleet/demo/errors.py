"""The demo's one error type (a leaf module, so every demo module can raise it)."""


class DemoError(RuntimeError):
    """The demo could not start; the message says what to do."""
