"""Placeholder: commands of this module are being built (see the open issues)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
