"""`avfleet users add|list|disable|unlock` and `avfleet tokens create|list|revoke` on the controller's database.

Each change is recorded in the audit trail as done by `cli:<login name>` from the local machine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from avfleet.cli.database import controller_database

ConfigOption = typer.Option(None, "--config", help="YAML file of controller settings")
DatabaseOption = typer.Option(None, "--database-url")


def _run(config: Path | None, database_url: str | None, action: str, target: str,
         work: Callable[[Any], Any], detail: dict | None = None) -> Any:
    """Do one change in an audited transaction; a refused change prints `error:` and exits 2."""
    import getpass

    from avfleet.controller.auth.audit import audited
    from avfleet.controller.auth.principal import Principal
    from avfleet.controller.errors import DomainError

    who = Principal(name=f"cli:{getpass.getuser()}"[:64], role="admin", via="cli", client_ip="local")
    with controller_database(config, database_url) as engine:
        try:
            with audited(engine, who, action, target, detail) as conn:
                return work(conn)
        except DomainError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None


def _read(config: Path | None, database_url: str | None, work: Callable[[Any], Any]) -> Any:
    with controller_database(config, database_url) as engine, engine.connect() as conn:
        return work(conn)


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


def register(app: typer.Typer) -> None:
    users = typer.Typer(help="Users of the controller's API and dashboard (docs/users.md).", no_args_is_help=True)
    tokens = typer.Typer(help="API tokens of users, for scripts (docs/users.md).", no_args_is_help=True)
    app.add_typer(users, name="users")
    app.add_typer(tokens, name="tokens")

    @users.command("add")
    def users_add(name: str = typer.Argument(..., help="Login name"),
                  role: str = typer.Option(..., "--role", help="admin | technician | viewer"),
                  municipality: list[str] = typer.Option([], "--municipality",
                                                         help="Limit to this municipality (repeat for more)"),
                  password_file: Path | None = typer.Option(None, "--password-file",
                                                            help="A file whose first line is the password; "
                                                            "without it the user logs in with tokens only"),
                  config: Path | None = ConfigOption, database_url: str | None = DatabaseOption) -> None:
        """Add a user."""
        from avfleet.controller.auth import service

        password = None
        if password_file is not None:
            try:
                password = password_file.read_text().splitlines()[0] if password_file.stat().st_size else ""
            except OSError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from None
        user = _run(config, database_url, "user.add", name,
                    lambda conn: service.create_user(conn, name, role, municipality, password),
                    {"role": role, "municipalities": municipality})
        where = ", ".join(user["municipalities"]) or "county-wide"
        typer.echo(f"user {user['name']} added: {user['role']}, {where}")

    @users.command("list")
    def users_list(config: Path | None = ConfigOption, database_url: str | None = DatabaseOption) -> None:
        """List users."""
        from avfleet.controller.auth import service

        for u in _read(config, database_url, service.list_users):
            flags = [f for f in ("disabled", "locked") if u[f]]
            typer.echo(f"{u['name']}\t{u['role']}\t{','.join(u['municipalities']) or 'county-wide'}"
                       f"\t{','.join(flags) or 'active'}")

    @users.command("disable")
    def users_disable(name: str, config: Path | None = ConfigOption,
                      database_url: str | None = DatabaseOption) -> None:
        """Disable a user: its sessions end and its tokens stop working."""
        from avfleet.controller.auth import service

        _run(config, database_url, "user.disable", name, lambda conn: service.set_user_flags(conn, name, disabled=True))
        typer.echo(f"user {name} disabled")

    @users.command("unlock")
    def users_unlock(name: str, config: Path | None = ConfigOption,
                     database_url: str | None = DatabaseOption) -> None:
        """Lift the lockout after repeated failed logins."""
        from avfleet.controller.auth import service

        _run(config, database_url, "user.unlock", name, lambda conn: service.set_user_flags(conn, name, locked=False))
        typer.echo(f"user {name} unlocked")

    @tokens.command("create")
    def tokens_create(user: str = typer.Option(..., "--user", help="Whose token"),
                      name: str = typer.Option("", "--name", help="A label: what the token is for"),
                      config: Path | None = ConfigOption, database_url: str | None = DatabaseOption) -> None:
        """Create a token; it is printed this once and stored only as its SHA-256."""
        from avfleet.controller.auth import service

        secret, item = _run(config, database_url, "token.create", user,
                            lambda conn: service.create_token(conn, user, name), {"label": name})
        typer.echo(f"token {item['id']} for {user} ({name or 'no label'}); shown this once:", err=True)
        typer.echo(secret)

    @tokens.command("list")
    def tokens_list(user: str | None = typer.Option(None, "--user"), config: Path | None = ConfigOption,
                    database_url: str | None = DatabaseOption) -> None:
        """List tokens (never the tokens themselves)."""
        from avfleet.controller.auth import service

        for t in _read(config, database_url, lambda conn: service.list_tokens(conn, user)):
            state = f"revoked {_when(t['revoked_at'])}" if t["revoked_at"] else "active"
            typer.echo(f"{t['id']}\t{t['user']}\t{t['label'] or '-'}\t{t['prefix']}…\tlast used "
                       f"{_when(t['last_used_at'])}\t{state}")

    @tokens.command("revoke")
    def tokens_revoke(token_id: int = typer.Argument(..., help="The token's id (tokens list)"),
                      config: Path | None = ConfigOption, database_url: str | None = DatabaseOption) -> None:
        """Revoke a token: it stops working at once."""
        from avfleet.controller.auth import service

        _run(config, database_url, "token.revoke", str(token_id), lambda conn: service.revoke_token(conn, token_id))
        typer.echo(f"token {token_id} revoked")
