"""`avfleet report inventory` as a user runs it: a subprocess with --config FILE on a SQLite database."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
from typer.testing import CliRunner, Result

from avfleet.cli.main import build_app
from avfleet.controller.db import create_db_engine
from avfleet.controller.migrate import upgrade
from avfleet.controller.reports.service import ReportService
from avfleet.controller.settings import load_settings
from tests.controller.reports.support import JKPG, YEAR, build_fleet


def avfleet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "avfleet.cli.main", "report", "inventory", *args],
                          capture_output=True, text=True, timeout=180)


def in_process(*args: str) -> Result:
    """The same command without a new interpreter (each costs seconds of imports on a loaded machine)."""
    return CliRunner().invoke(build_app(), ["report", "inventory", *args])


def test_the_report_command_writes_the_file_and_names_the_known_municipalities(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'avfleet.db'}"
    engine = create_db_engine(url)
    upgrade(engine)
    build_fleet(engine)
    config = tmp_path / "controller.yaml"
    config.write_text(f"database_url: '{url}'\n", encoding="utf-8")

    out = tmp_path / "jönköping.xlsx"
    done = avfleet("--municipality", JKPG, "--year", str(YEAR), "--format", "xlsx", "--lang", "en", "--out", str(out),
                   "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert f"written to {out}" in done.stdout
    book = openpyxl.load_workbook(io.BytesIO(out.read_bytes()))
    cells = {c for ws in book.worksheets for row in ws.iter_rows(values_only=True) for c in row if c is not None}
    assert {"Mean time to repair", "Ekhagens skola", 170} <= cells

    csv_out = tmp_path / "county.csv"
    done = in_process("--year", str(YEAR), "--format", "csv", "--out", str(csv_out), "--config", str(config))
    assert done.exit_code == 0, done.output
    # The same content as the service answers the API (only the line with the moment it was made differs).
    with engine.connect() as conn:
        same = ReportService(load_settings(demo=True)).report_file(conn, None, YEAR, "csv", "sv", datetime.now(UTC))
    cli_lines = csv_out.read_bytes().decode("utf-8-sig").splitlines()
    api_lines = same.body.decode("utf-8-sig").splitlines()
    assert cli_lines[2:] == api_lines[2:] and "Likvärdighet mellan kommunerna" in "\n".join(cli_lines)

    unknown = in_process("--municipality", "Atlantis", "--year", str(YEAR), "--format", "pdf", "--out",
                         str(tmp_path / "x.pdf"), "--config", str(config))
    assert unknown.exit_code == 2
    assert "no municipality 'Atlantis'; known: Jönköping, Nässjö, Värnamo" in unknown.output
    assert not (tmp_path / "x.pdf").exists()
    bad = in_process("--year", str(YEAR), "--format", "docx", "--out", str(tmp_path / "x.docx"), "--config",
                     str(config))
    assert bad.exit_code == 2 and "--format must be one of csv, xlsx, pdf" in bad.output
    engine.dispose()
