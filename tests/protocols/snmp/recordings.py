"""The real-device recordings in tests/fixtures/snmp and a parser for their .snmprec files.

They live in the repository (public LibreNMS test data, see the README there), so a fresh clone runs
its own suite: nothing here reads outside the clone.
"""

from __future__ import annotations

from pathlib import Path


def repo_root() -> Path:
    return Path(__file__).resolve().parents[3]


def snmprec_dir() -> Path:
    return repo_root() / "tests" / "fixtures" / "snmp"


def recording_files() -> list[Path]:
    """Every recording; an empty or missing folder is a broken checkout, not a missing component."""
    files = sorted(snmprec_dir().glob("*.snmprec"))
    if not files:
        raise FileNotFoundError(f"no SNMP recordings in {snmprec_dir()} (they belong to the repository)")
    return files


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
