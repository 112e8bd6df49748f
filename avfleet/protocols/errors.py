"""The command errors every poller raises from `execute()`; a leaf module, it imports nothing of ours.

They are typed by what the caller can do: the agent answers a command `rejected` on
CommandUnsupported, retries CommandRetryable until the command expires, and reports any other
CommandError as `failed` with the message. Protocol-specific errors (PJLinkError, SnmpError) stay in
their protocol packages and are translated into these at the poller boundary.
"""

from __future__ import annotations


class CommandError(Exception):
    """A command the device did not carry out; the message is shown to the technician."""


class CommandUnsupported(CommandError):
    """The device or protocol cannot do this action at all (reject, do not retry)."""


class CommandRetryable(CommandError):
    """The device is busy now (warming up, cooling down); the same command may work later."""
