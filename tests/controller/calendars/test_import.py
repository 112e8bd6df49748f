"""`avfleet calendar import`: CSV and ICS, every row's fate with its line, nothing written on a bad row."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

from sqlalchemy.engine import Engine

from avfleet.controller.calendars.service import get_calendar

GOOD_CSV = """start,end,kind,name
2026-10-26,2026-10-30,break,höstlov
2026-12-21,2027-01-08,break,jullov

2027-02-15,2027-02-19,break,sportlov
2027-03-05,2027-03-05,study_day,studiedag
"""

BAD_CSV = """start,end,kind,name
2026-10-26,2026-10-30,break,höstlov
2026-12-21,2026-12-01,break,jullov
2027-02-15,2027-02-19,semester,sportlov
2027-03-05,inte-ett-datum,study_day,studiedag
2027-04-01,2027-04-02
"""

ICS_HEAD = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//avfleet//SV\r\n"


def vevent(uid: str, start: str, end: str, summary: str, extra: str = "") -> str:
    return (f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:{start}\r\n"
            f"DTEND;VALUE=DATE:{end}\r\nSUMMARY:{summary}\r\n{extra}END:VEVENT\r\n")


def run_import(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "avfleet.cli.main", "calendar", "import", "--database-url", db_url,
                           *args], capture_output=True, text=True, timeout=120)


def test_csv_import_writes_every_row(tmp_path: Path, db_url: str, engine: Engine) -> None:
    path = tmp_path / "jkpg.csv"
    path.write_text(GOOD_CSV)
    done = run_import(db_url, "--municipality", "Jönköping", str(path))
    assert done.returncode == 0, done.stderr
    assert "line 2: ok 2026-10-26..2026-10-30 break höstlov" in done.stdout
    assert "line 5: ok 2027-02-15..2027-02-19 break sportlov" in done.stdout  # the blank line 4 counts
    with engine.connect() as conn:
        days = get_calendar(conn, "Jönköping")["days"]
    assert [(d["start"], d["kind"], d["name"]) for d in days] == [
        (date(2026, 10, 26), "break", "höstlov"), (date(2026, 12, 21), "break", "jullov"),
        (date(2027, 2, 15), "break", "sportlov"), (date(2027, 3, 5), "study_day", "studiedag")]


def test_csv_with_bad_rows_reports_each_by_line_and_writes_nothing(tmp_path: Path, db_url: str,
                                                                   engine: Engine) -> None:
    good = tmp_path / "good.csv"
    good.write_text(GOOD_CSV)
    assert run_import(db_url, "--municipality", "Jönköping", str(good)).returncode == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_CSV)
    done = run_import(db_url, "--municipality", "Jönköping", str(bad))
    assert done.returncode == 2
    lines = done.stdout.splitlines()
    assert lines[0].startswith("line 2: ok")
    assert lines[1].startswith("line 3: error:") and "before start" in lines[1]
    assert lines[2].startswith("line 4: error: kind")
    assert lines[3].startswith("line 5: error: end")
    assert lines[4].startswith("line 6: error: expected start,end,kind,name")
    assert "nothing written" in done.stderr
    with engine.connect() as conn:
        assert len(get_calendar(conn, "Jönköping")["days"]) == 4  # the earlier import stands untouched


def test_ics_import_with_exclusive_dtend_and_kinds(tmp_path: Path, db_url: str, engine: Engine) -> None:
    path = tmp_path / "vaggeryd.ics"
    path.write_text(ICS_HEAD + vevent("a", "20261026", "20261031", "Höstlov")
                    + vevent("b", "20270305", "20270306", "Studiedag för personal")
                    + vevent("c", "20270329", "20270403", "Påsklov", "CATEGORIES:break\r\n") + "END:VCALENDAR\r\n",
                    newline="")
    done = run_import(db_url, "--municipality", "Vaggeryd", "--school", "Fenix", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "line 4: ok 2026-10-26..2026-10-30 break Höstlov" in done.stdout
    with engine.connect() as conn:
        days = get_calendar(conn, "Vaggeryd", "Fenix")["days"]
        assert get_calendar(conn, "Vaggeryd")["days"] == []  # written as the school's own calendar
    assert [(d["start"], d["end"], d["kind"]) for d in days] == [
        (date(2026, 10, 26), date(2026, 10, 30), "break"), (date(2027, 3, 5), date(2027, 3, 5), "study_day"),
        (date(2027, 3, 29), date(2027, 4, 2), "break")]


def test_ics_with_bad_events_reports_each_by_line_and_writes_nothing(tmp_path: Path, db_url: str,
                                                                     engine: Engine) -> None:
    path = tmp_path / "bad.ics"
    text = (ICS_HEAD + vevent("a", "20261026", "20261031", "Höstlov")
            + vevent("b", "20270305", "20270306", "Konsert", "CATEGORIES:konsert\r\n")
            + "BEGIN:VEVENT\r\nUID:c\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Utan datum\r\nEND:VEVENT\r\n"
            + "END:VCALENDAR\r\n")
    path.write_text(text, newline="")
    done = run_import(db_url, "--municipality", "Vaggeryd", str(path))
    assert done.returncode == 2
    lines = done.stdout.splitlines()
    assert lines[0].startswith("line 4: ok")
    assert lines[1].startswith("line 11: error: kind")
    assert lines[2] == "line 19: error: VEVENT without DTSTART"
    with engine.connect() as conn:
        assert get_calendar(conn, "Vaggeryd")["days"] == []
