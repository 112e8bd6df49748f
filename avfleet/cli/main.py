"""Entry point of the `avfleet` console script.

The app is assembled by a factory so importing this module does no work; each command module
imports its heavy dependencies inside the command body. That keeps the lean install (no `controller`
extra) usable: agent, probe, discover and simulate never touch the controller's packages, and a
controller command run without them exits 2 naming the extra (avfleet/cli/extras.py).
"""

from __future__ import annotations

import sys

import typer


def build_app() -> typer.Typer:
    from avfleet.cli import agent, calendar, controller, inventory, probe, report, simulate, users

    app = typer.Typer(
        name="avfleet",
        help="Classroom AV fleet: agents, controller, emulators and tools.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    probe.register(app)
    simulate.register(app)
    agent.register(app)
    controller.register(app)
    calendar.register(app)
    inventory.register(app)
    report.register(app)
    users.register(app)
    return app


def main() -> None:
    try:
        build_app()()
    except ModuleNotFoundError as exc:
        # A controller command run on a lean install (the Pi's): one line naming the extra, exit 2.
        from avfleet.cli.extras import missing_extra_message

        message = missing_extra_message(exc)
        if message is None:
            raise
        print(message, file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
