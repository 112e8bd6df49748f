"""Every Swedish public and de facto holiday of 2026 and 2027, and the school-day rule around them."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.engine import Engine

from avfleet.controller.calendars.service import Holidays, SchoolDays, replace_calendar
from avfleet.controller.db import write_transaction

EXPECTED = {
    2026: {
        date(2026, 1, 1): "Nyårsdagen", date(2026, 1, 6): "Trettondedag jul", date(2026, 4, 3): "Långfredagen",
        date(2026, 4, 5): "Påskdagen", date(2026, 4, 6): "Annandag påsk", date(2026, 5, 1): "Första maj",
        date(2026, 5, 14): "Kristi himmelsfärdsdag", date(2026, 5, 24): "Pingstdagen",
        date(2026, 6, 6): "Nationaldagen", date(2026, 6, 19): "Midsommarafton", date(2026, 6, 20): "Midsommardagen",
        date(2026, 10, 31): "Alla helgons dag", date(2026, 12, 24): "Julafton", date(2026, 12, 25): "Juldagen",
        date(2026, 12, 26): "Annandag jul", date(2026, 12, 31): "Nyårsafton",
    },
    2027: {
        date(2027, 1, 1): "Nyårsdagen", date(2027, 1, 6): "Trettondedag jul", date(2027, 3, 26): "Långfredagen",
        date(2027, 3, 28): "Påskdagen", date(2027, 3, 29): "Annandag påsk", date(2027, 5, 1): "Första maj",
        date(2027, 5, 6): "Kristi himmelsfärdsdag", date(2027, 5, 16): "Pingstdagen",
        date(2027, 6, 6): "Nationaldagen", date(2027, 6, 25): "Midsommarafton", date(2027, 6, 26): "Midsommardagen",
        date(2027, 11, 6): "Alla helgons dag", date(2027, 12, 24): "Julafton", date(2027, 12, 25): "Juldagen",
        date(2027, 12, 26): "Annandag jul", date(2027, 12, 31): "Nyårsafton",
    },
}


@pytest.mark.parametrize("year", [2026, 2027])
def test_every_public_and_de_facto_holiday(year: int) -> None:
    found = Holidays().year(year)
    assert found == EXPECTED[year]  # exactly these: no ordinary Sunday is listed


@pytest.mark.parametrize("year", [2026, 2027])
def test_holiday_weekdays_are_no_school_days_and_other_weekdays_are(engine: Engine, year: int) -> None:
    with engine.connect() as conn:
        days = SchoolDays(conn)
        for day, name in EXPECTED[year].items():
            assert not days.is_school_day("Jönköping", None, day)
            if day.isoweekday() < 6:
                assert days.why_not("Jönköping", None, day) == name
        assert days.is_school_day("Jönköping", None, date(year, 2, 2 if year == 2026 else 1))  # a plain Monday
        assert days.why_not(None, None, date(2026, 3, 1)) == "söndag"


def test_breaks_study_days_and_a_school_override(engine: Engine) -> None:
    with write_transaction(engine) as conn:
        replace_calendar(conn, "Vetlanda", None, [
            {"start": date(2026, 10, 26), "end": date(2026, 10, 30), "kind": "break", "name": "höstlov"},
            {"start": date(2026, 11, 12), "end": date(2026, 11, 12), "kind": "study_day", "name": "studiedag"}])
        replace_calendar(conn, "Vetlanda", "Njudungsgymnasiet", [
            {"start": date(2026, 11, 2), "end": date(2026, 11, 6), "kind": "break", "name": "höstlov"}])
    with engine.connect() as conn:
        days = SchoolDays(conn)
        assert days.why_not("Vetlanda", None, date(2026, 10, 28)) == "höstlov"
        assert days.why_not("Vetlanda", "Ekbackeskolan", date(2026, 11, 12)) == "studiedag"  # no own calendar
        assert days.is_school_day("Vetlanda", None, date(2026, 11, 2))
        # The school's own calendar replaces the municipality's.
        assert days.is_school_day("Vetlanda", "Njudungsgymnasiet", date(2026, 10, 28))
        assert days.why_not("Vetlanda", "Njudungsgymnasiet", date(2026, 11, 4)) == "höstlov"
        assert days.is_school_day("Eksjö", None, date(2026, 10, 28))  # another municipality
