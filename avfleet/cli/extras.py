"""The `controller` extra: which imports need it, and the one line that says how to get it.

`pip install avfleet` is the lean agent for the Pi (agent, probe, discover, simulate); the
controller's packages come with `pip install 'avfleet[controller]'`. Every command imports its
dependencies inside its body, so a missing controller package shows up as a ModuleNotFoundError when
such a command runs; `main()` turns that into one line and exit status 2 for any command, present or
future, instead of a traceback.
"""

from __future__ import annotations

import re

EXTRA = "controller"
INSTALL_HINT = "pip install 'avfleet[controller]'"

# Import names of the extra's packages, for a source tree without installed metadata. The metadata
# of an installed avfleet adds whatever the extra lists later (report and dashboard libraries).
KNOWN_MODULES = frozenset({
    "alembic", "amqtt", "fastapi", "httpx", "jinja2", "prometheus_client", "psycopg", "pydantic_settings",
    "sqlalchemy", "sqlmodel", "starlette", "uvicorn",
})


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def controller_modules() -> frozenset[str]:
    """Top-level import names that belong to the controller extra."""
    from importlib import metadata  # only on the error path: it costs a noticeable part of start-up

    names = set(KNOWN_MODULES)
    try:
        requirements = metadata.requires("avfleet") or []
    except metadata.PackageNotFoundError:
        requirements = []
    for requirement in requirements:
        if re.search(rf"""extra\s*==\s*["']{EXTRA}["']""", requirement):
            match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
            if match:
                names.add(_normalized(match.group(0)))
    return frozenset(names)


def missing_extra_message(exc: ModuleNotFoundError) -> str | None:
    """The one line to print when `exc` means the controller extra is not installed, else None."""
    name = (exc.name or "").split(".")[0]
    if not name or _normalized(name) not in controller_modules():
        return None
    return f"error: this command needs the controller's packages ({name} is not installed): {INSTALL_HINT}"
