"""`avfleet controller`, `avfleet db upgrade`, `avfleet broker config`, `avfleet agents add`, `avfleet demo`."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import typer


def _setup_logging(verbose: bool) -> None:
    from avfleet.logsetup import setup_logging

    setup_logging(logging.DEBUG if verbose else logging.INFO)


def _fail(message: str, code: int = 2) -> typer.Exit:
    for line in message.splitlines() or [""]:  # settings errors: one problem per line
        typer.echo(f"error: {line}", err=True)
    return typer.Exit(code)


def register(app: typer.Typer) -> None:
    @app.command("controller")
    def controller(config: Path | None = typer.Option(None, "--config", help="YAML file of controller settings"),
                   verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
        """The central service: ingest, fleet state, API and dashboard."""
        from avfleet.controller.app import Controller, ControllerError, run_until_signalled
        from avfleet.controller.ingest.worker import IngestError
        from avfleet.controller.settings import SettingsError, load_settings

        _setup_logging(verbose)
        try:
            settings = load_settings(config)
            ctl = Controller(settings, tune_gc=True)
        except (SettingsError, OSError) as exc:
            raise _fail(str(exc)) from None

        def start() -> None:
            ctl.start()
            if ctl.settings.default_schedules:
                from avfleet.controller.db import write_transaction
                from avfleet.controller.schedules.service import ensure_defaults

                with write_transaction(ctl.engine) as conn:
                    ensure_defaults(conn)  # a new installation's: off at 17:30, hourly on non-school days
            for line in ctl.ready_lines(login=ctl.settings.demo):
                typer.echo(line)
            sys.stdout.flush()

        try:
            run_until_signalled(start, ctl.stop)
        except (ControllerError, IngestError) as exc:
            raise _fail(str(exc), 1) from None

    db = typer.Typer(help="Database schema, backups and restores.", no_args_is_help=True)
    app.add_typer(db, name="db")
    from avfleet.cli import db as db_commands

    db_commands.register(db)  # backup, restore

    @db.command("upgrade")
    def db_upgrade(config: Path | None = typer.Option(None, "--config", help="YAML file of controller settings"),
                   database_url: str | None = typer.Option(None, "--database-url")) -> None:
        """Run the migrations up to the newest schema."""
        from avfleet.cli.database import controller_database
        from avfleet.controller.migrate import current_revision

        _setup_logging(False)
        with controller_database(config, database_url) as engine:  # upgrades on the way in
            typer.echo(f"database at revision {current_revision(engine)}")

    broker = typer.Typer(help="Mosquitto configuration.", no_args_is_help=True)
    app.add_typer(broker, name="broker")

    @broker.command("config")
    def broker_config(out: Path = typer.Option(..., "--out", help="Directory to write into"),
                      agents_port: int = typer.Option(8883, help="TLS listener for agents"),
                      controller_port: int = typer.Option(1883, help="Loopback listener for the controller"),
                      hostname: list[str] = typer.Option([], "--hostname",
                                                         help="Name or address agents use (repeatable)"),
                      no_tls: bool = typer.Option(False, "--no-tls", help="Plain listener for agents (testing only)"),
                      ) -> None:
        """Write mosquitto.conf, password file, ACL, TLS certificates and the controller's broker secret."""
        from avfleet.controller.broker.config import BrokerLayout, write_broker_config

        layout = BrokerLayout(out, agents_port=agents_port, controller_port=controller_port,
                              hostnames=list(hostname), tls=not no_tls)
        controller_yaml = write_broker_config(layout)
        typer.echo(f"wrote {layout.conf}")
        typer.echo(f"controller settings: {controller_yaml}")
        typer.echo(f"start: mosquitto -c {layout.conf.resolve()}")

    agents = typer.Typer(help="Agent credentials.", no_args_is_help=True)
    app.add_typer(agents, name="agents")

    @agents.command("add")
    def agents_add(agent_id: str = typer.Argument(..., help="The agent id (= MQTT user name = client id)"),
                   broker_dir: Path = typer.Option(Path("broker"), "--broker-dir",
                                                   help="The directory `avfleet broker config` wrote"),
                   broker_host: str = typer.Option("127.0.0.1", "--broker-host", help="Host agents connect to"),
                   municipality: str = typer.Option(..., "--municipality"),
                   school: str = typer.Option(..., "--school"),
                   room: str | None = typer.Option(None, "--room")) -> None:
        """Create (or rotate) an agent's broker password and write its config file."""
        from avfleet.controller.broker.config import add_agent, read_layout

        try:
            creds = add_agent(read_layout(broker_dir), agent_id, broker_host=broker_host,
                              municipality=municipality, school=school, room=room)
        except (ValueError, FileNotFoundError) as exc:
            raise _fail(str(exc)) from None
        typer.echo(f"agent config: {creds.config_file}")
        typer.echo(f"agent secret: {creds.secret_file} (mode 0600)")
        typer.echo("reload the broker to apply: kill -HUP <mosquitto pid>")

    @app.command("demo")
    def demo(devices: int = typer.Option(64, "--devices", min=1, max=2000,
                                         help="Projectors to emulate (13 or more reach every municipality)"),
             port: int = typer.Option(8080, "--port", min=0, max=65535, help="Dashboard and API port"),
             data_dir: Path | None = typer.Option(None, "--data-dir", help="Keep the demo database here"),
             broker: str = typer.Option("auto", "--broker", help="auto (Mosquitto if installed), mosquitto or "
                                        "embedded (the amqtt development broker)"),
             verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
        """Broker, controller, an emulated fleet and its agents, in one command. Ctrl-C stops everything."""
        from avfleet.demo.errors import DemoError
        from avfleet.demo.run import run_demo

        if broker not in ("auto", "mosquitto", "embedded"):
            raise _fail(f"--broker must be auto, mosquitto or embedded, not {broker!r}")
        _setup_logging(verbose)

        def out(line: str) -> None:
            typer.echo(line)
            sys.stdout.flush()

        try:
            run_demo(devices=devices, port=port, data_dir=data_dir, broker=broker, out=out)
        except DemoError as exc:
            raise _fail(str(exc), 1) from None
