"""The real-device recordings folder (../shared/snmprec) and a parser for its .snmprec files."""

from __future__ import annotations

import os
from pathlib import Path

SNMPREC_ENV = "AVFLEET_SNMPREC_DIR"


def repo_root() -> Path:
    return Path(__file__).resolve().parents[3]


def snmprec_dir() -> Path:
    """$AVFLEET_SNMPREC_DIR, else ../shared/snmprec beside the repository."""
    override = os.environ.get(SNMPREC_ENV)
    return Path(override) if override else repo_root().parent / "shared" / "snmprec"


def recording_files() -> list[Path]:
    folder = snmprec_dir()
    return sorted(folder.glob("*.snmprec")) if folder.is_dir() else []


def parse_snmprec(path: Path) -> dict[str, tuple[str, int | str | bytes]]:
    """OID -> (tag, value) with the value decoded as snmpsim serves it (4x hex -> bytes, numbers -> int)."""
    records: dict[str, tuple[str, int | str | bytes]] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        oid, tag, value = line.split("|", 2)
        base = tag.split(":")[0]
        if base.endswith("x"):
            records[oid] = (base[:-1], bytes.fromhex(value))
        elif base in ("2", "65", "66", "67", "70"):
            records[oid] = (base, int(value))
        else:
            records[oid] = (base, value)
    return records


def text(value: int | str | bytes | None) -> str | None:
    """A recorded value as the poller should show it: NULs and surrounding blanks dropped."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.rstrip(b"\0").decode("utf-8", "replace")
    return str(value).strip() or None


def column(records: dict, prefix: str) -> dict[str, int | str | bytes]:
    """Rows of a table column: index suffix -> value."""
    start = prefix + "."
    return {oid[len(start):]: value for oid, (_, value) in records.items() if oid.startswith(start)}
