"""`avfleet inventory import|export` as a user runs them: a subprocess, with --config FILE, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.inventory.models import InventoryChange, InventoryUnit
from avfleet.inventory import csvfile
from tests.controller.inventory.support import good_row

UNITS = InventoryUnit.__table__


def avfleet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "avfleet.cli.main", "inventory", *args], capture_output=True,
                          text=True, timeout=120)


def units(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r.serial: r.room for r in conn.execute(sa.select(UNITS.c.serial, UNITS.c.room))}


def test_import_and_export_commands(tmp_path: Path, db_url: str, engine: Engine) -> None:
    config = tmp_path / "controller.yaml"
    config.write_text(f"database_url: '{db_url}'\n", encoding="utf-8")
    good = [{**good_row(n), "municipality": "Jönköping", "school": "Ådalens skola", "room": f"Sal {n}"}
            for n in range(3)]
    bad = {**good_row(9), "warranty_end": "2024-02-30"}
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes(csvfile.write([*good, bad]).encode("utf-8"))

    refused = avfleet("import", str(mixed), "--config", str(config))
    assert refused.returncode == 2, refused.stderr
    assert "line 5: error: warranty_end: '2024-02-30' is not an ISO date" in refused.stdout
    assert "line 2: created" in refused.stdout and "nothing written" in refused.stdout
    assert units(engine) == {}

    dry = avfleet("import", str(mixed), "--partial", "--dry-run", "--config", str(config))
    assert dry.returncode == 2 and "nothing written (dry run)" in dry.stdout and units(engine) == {}

    partial = avfleet("import", str(mixed), "--partial", "--config", str(config))
    assert partial.returncode == 2 and "written (the good rows only)" in partial.stdout
    assert units(engine) == {"SN-000000": "Sal 0", "SN-000001": "Sal 1", "SN-000002": "Sal 2"}
    with engine.connect() as conn:
        by = conn.execute(sa.select(InventoryChange.__table__.c.by).limit(1)).scalar_one()
    assert by.startswith("cli:")

    out = tmp_path / "export.csv"
    exported = avfleet("export", "--out", str(out), "--config", str(config))
    assert exported.returncode == 0, exported.stderr
    assert "3 unit(s) written" in exported.stdout
    text = out.read_bytes().decode("utf-8")
    assert text.splitlines()[0] == ",".join(csvfile.COLUMNS) and "Ådalens skola" in text and "Jönköping" in text

    again = avfleet("import", str(out), "--config", str(config))
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("unchanged") == 4 and "0 created, 0 updated, 3 unchanged, 0 error" in again.stdout

    edited = tmp_path / "edited.csv"
    edited.write_text(text.replace("Sal 1", "Sal 11"), encoding="utf-8")
    updated = avfleet("import", str(edited), "--config", str(config))
    assert updated.returncode == 0 and "updated unit" in updated.stdout and "(room)" in updated.stdout
    assert units(engine)["SN-000001"] == "Sal 11"

    missing = avfleet("import", str(tmp_path / "nope.csv"), "--config", str(config))
    assert missing.returncode == 2 and "error:" in missing.stderr
    header = tmp_path / "header.csv"
    header.write_text("serial\nSN-1\n", encoding="utf-8")
    wrong = avfleet("import", str(header), "--config", str(config))
    assert wrong.returncode == 2 and "line 1: the header" in wrong.stderr
