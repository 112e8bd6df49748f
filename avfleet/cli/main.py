"""Entry point of the `avfleet` console script.

The app is assembled by a factory so importing this module does no work; each command module
imports its heavy dependencies inside the command body.
"""

from __future__ import annotations

import typer


def build_app() -> typer.Typer:
    from avfleet.cli import agent, controller, probe, simulate

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
    return app


def main() -> None:
    build_app()()


if __name__ == "__main__":
    main()
