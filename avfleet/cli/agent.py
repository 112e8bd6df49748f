"""`avfleet agent --config FILE [--check-config]` (the Pi program) and `avfleet discover`."""

from __future__ import annotations

from pathlib import Path

import typer

EXIT_CONFIG = 2


def register(app: typer.Typer) -> None:
    @app.command("agent")
    def agent(
        config_file: Path | None = typer.Argument(None, metavar="CONFIG", show_default=False,
                                                  help="Agent config file; the same as --config."),
        config: Path | None = typer.Option(None, "--config", "-c", help="Agent config file (YAML, version 1)."),
        check_config: bool = typer.Option(False, "--check-config", help="Validate the config and exit."),
    ) -> None:
        """Run the agent: poll the configured devices and report over MQTT."""
        from avfleet.agent.config import ConfigError, load_config

        # `avfleet agent --check-config FILE` (issue 8) reads as naturally as `--config FILE --check-config`.
        config = config or config_file
        if config is None:
            raise typer.BadParameter("give the agent config file: avfleet agent --config FILE", param_hint="--config")
        try:
            loaded = load_config(config)
        except ConfigError as exc:
            for issue in exc.issues:
                typer.echo(f"config error: {issue}", err=True)
            raise typer.Exit(EXIT_CONFIG) from None
        if check_config:
            typer.echo(
                f"{config}: ok (agent {loaded.agent_id}, {len(loaded.devices)} device(s), "
                f"outbox {loaded.outbox_path()})"
            )
            raise typer.Exit(0)
        from avfleet.agent.runtime import configure_logging, run_agent

        configure_logging(loaded.log_level)
        raise typer.Exit(run_agent(loaded))

    @app.command("discover")
    def discover(
        timeout: float = typer.Option(5.0, "--timeout", help="Seconds to listen for answers."),
        mdns: bool = typer.Option(True, "--mdns/--no-mdns", help="Browse mDNS (_pjlink._tcp and similar)."),
        pjlink: bool = typer.Option(True, "--pjlink/--no-pjlink", help="Send a PJLink Class 2 search (SRCH)."),
        target: list[str] = typer.Option(
            [], "--target", help="HOST[:PORT] to send the search to (default: broadcast 255.255.255.255:4352)."
        ),
        interface: list[str] = typer.Option([], "--interface", help="Local address to browse mDNS on (default: all)."),
        json_out: bool = typer.Option(False, "--json", help="One JSON object per line."),
    ) -> None:
        """Find projectors on the LAN and print them, one per line."""
        import asyncio
        import json

        from avfleet.agent.discovery import discover as run_discover
        from avfleet.protocols.pjlink.codec import PJLINK_PORT

        targets = []
        for item in target:
            host, _, port = item.partition(":")
            if port and not port.isdigit():
                typer.echo(f"--target {item!r}: the port must be a number", err=True)
                raise typer.Exit(2)
            targets.append((host, int(port) if port else PJLINK_PORT))
        found = asyncio.run(
            run_discover(
                timeout=timeout, pjlink=pjlink, mdns=mdns, interfaces=interface or None,
                search_targets=targets or (("255.255.255.255", PJLINK_PORT),),
            )
        )
        for item in found:
            if json_out:
                typer.echo(json.dumps({"source": item.source, "host": item.host, "port": item.port, "mac": item.mac,
                                       "name": item.name, "service": item.service, "url": item.url()}))
            else:
                extra = " ".join(x for x in (item.mac and f"mac={item.mac}", item.name and f"name={item.name!r}",
                                              item.service and f"service={item.service}") if x)
                typer.echo(f"{item.source:14} {item.url() or f'{item.host}:{item.port}'} {extra}".rstrip())
        if not json_out:
            typer.echo(f"{len(found)} found", err=True)
