"""CSV import and export of the register on SQLite and PostgreSQL: fates, all-or-nothing, --partial, round trip."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from avfleet.controller.db import write_transaction
from avfleet.controller.inventory import importer, repairs
from avfleet.controller.inventory.models import InventoryChange, InventoryUnit
from avfleet.inventory import csvfile
from tests.controller.inventory.support import BAD_KINDS, NOW, build, good_row

UNITS = InventoryUnit.__table__
HISTORY = InventoryChange.__table__


def run_import(engine: Engine, text: str, **kw) -> dict:
    with write_transaction(engine) as conn:
        return importer.import_csv(conn, text, by="test", now=NOW, **kw)


def export(engine: Engine) -> str:
    with engine.connect() as conn:
        return importer.export_csv(conn)


def count(engine: Engine, table: sa.Table = UNITS) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def csv_of(*rows: dict[str, str]) -> str:
    return csvfile.write(rows)


def errors_by_line(report: dict) -> dict[int, list[str]]:
    return {f.line: [e["field"] for e in f.errors] for f in report["rows"] if f.fate == "error"}


def test_5000_rows_with_every_kind_of_bad_row(engine: Engine) -> None:
    # Two units the register already has: one whose MAC a row claims for another serial, one in repair.
    run_import(engine, csv_of({**good_row(900_001), "serial": "HAS-MAC", "mac": "0a:0a:0a:0a:0a:0a"},
                              {**good_row(900_002), "serial": "IN-REPAIR", "mac": ""}))
    with write_transaction(engine) as conn:
        unit = conn.execute(sa.select(UNITS.c.id).where(UNITS.c.serial == "IN-REPAIR")).scalar_one()
        repairs.open_case(conn, unit_id=unit, ticket_id=None, by="test", now=NOW, details={})
    built = build(5000)
    # The two kinds only the register can tell, appended as the file's last rows.
    tail = io.StringIO(newline="")
    writer = csv.writer(tail)
    writer.writerow([{**good_row(900_003), "serial": "NEW-1", "mac": "0a:0a:0a:0a:0a:0a"}[c] for c in csvfile.COLUMNS])
    writer.writerow([{**good_row(900_002), "serial": "IN-REPAIR", "mac": "", "lifecycle": "spare"}[c]
                     for c in csvfile.COLUMNS])
    last = built.text.count("\n") + 1
    text = built.text + tail.getvalue()
    expected = {**built.bad, last: "mac", last + 1: "lifecycle"}
    assert len(BAD_KINDS) + 2 >= 20  # kinds of bad rows, each once at least
    before = (count(engine), count(engine, HISTORY))

    report = run_import(engine, text)
    got = errors_by_line(report)
    assert set(got) == set(expected), "exactly the bad lines are errors"
    for line, column in expected.items():
        assert column in got[line], (line, column, got[line])
    assert report["written"] is False
    assert report["counts"] == {"created": len(built.good_serials), "updated": 0, "unchanged": 0,
                                "error": len(expected)}
    assert (count(engine), count(engine, HISTORY)) == before, "nothing half-written"

    dry = run_import(engine, text, partial=True, dry_run=True)
    assert dry["written"] is False and (count(engine), count(engine, HISTORY)) == before

    partial = run_import(engine, text, partial=True)
    assert partial["written"] is True
    with engine.connect() as conn:
        serials = set(conn.execute(sa.select(UNITS.c.serial)).scalars())
        case = conn.execute(sa.select(UNITS.c.lifecycle).where(UNITS.c.serial == "IN-REPAIR")).scalar_one()
    assert serials == set(built.good_serials) | {"HAS-MAC", "IN-REPAIR"}, "exactly the good rows"
    assert case == "in_repair"
    assert count(engine, HISTORY) == before[1] + len(built.good_serials) + 0  # one "created" entry each

    # An export imported again changes nothing, and exports the same bytes.
    first = export(engine)
    again = run_import(engine, first)
    assert again["counts"] == {"created": 0, "updated": 0, "unchanged": count(engine), "error": 0}
    assert export(engine) == first
    assert "Jönköping" in first and "rad ett\nrad två" in first


def test_updates_are_matched_by_serial_then_mac_and_kept_in_the_history(engine: Engine) -> None:
    a = {**good_row(1), "serial": "SN-A", "mac": "00:00:00:00:00:0a"}
    b = {**good_row(2), "serial": "", "mac": "00:00:00:00:00:0b", "firmware": "1.0"}
    run_import(engine, csv_of(a, b))
    report = run_import(engine, csv_of({**a, "room": "Sal 99", "mac": "00-00-00-00-00-0A"},
                                       {**b, "serial": "SN-B", "notes": "", "firmware": ""}))
    fates = [(f.fate, sorted(f.fields)) for f in report["rows"]]
    assert fates == [("updated", ["room"]), ("updated", ["notes", "serial"])]  # empty firmware keeps it
    with engine.connect() as conn:
        rows = {r.serial: r for r in conn.execute(sa.select(UNITS))}
        history = conn.execute(sa.select(HISTORY.c.field, HISTORY.c.old, HISTORY.c.new, HISTORY.c.by)
                               .where(HISTORY.c.unit_id == rows["SN-A"].id).order_by(HISTORY.c.id)).all()
    assert rows["SN-A"].room == "Sal 99" and rows["SN-A"].mac == "00:00:00:00:00:0a"
    assert rows["SN-B"].firmware == "1.0" and rows["SN-B"].notes is None
    assert [tuple(h) for h in history] == [("created", None, "import", "test"), ("room", "Sal 1", "Sal 99", "test")]
    # A row whose serial and MAC name two different units is refused, naming the MAC.
    clash = run_import(engine, csv_of({**a, "mac": "00:00:00:00:00:0b"}))
    assert errors_by_line(clash) == {2: ["mac"]} and clash["written"] is False


@pytest.mark.parametrize("header, problem", [
    ("municipality,school", "missing"),
    (",".join((*csvfile.COLUMNS, "colour")), "unknown"),
    ("", "empty"),
])
def test_a_bad_header_refuses_the_file(engine: Engine, header: str, problem: str) -> None:
    with pytest.raises(csvfile.CsvFileError, match=problem):
        run_import(engine, header + ("\n" if header else ""))
    assert count(engine) == 0


def test_non_utf8_is_refused() -> None:
    with pytest.raises(csvfile.CsvFileError, match="not UTF-8"):
        csvfile.decode("Jönköping".encode("latin-1"))
    assert csvfile.decode("\ufeffJönköping".encode()) == "Jönköping"
