"""Age bands of the inventory report, including units a report of an earlier year must not age yet."""

from __future__ import annotations

import pytest

from avfleet.controller.reports.indicators import age_band


@pytest.mark.parametrize(("age", "band"), [(None, "unknown"), (-0.5, "unknown"), (0, "0_1"), (0.99, "0_1"),
                                           (1, "1_3"), (4.2, "3_5"), (7.9, "5_8"), (8, "8_plus"), (5000, "8_plus")])
def test_age_band(age: float | None, band: str) -> None:
    # Found by schemathesis (tests/controller/auth/test_schemathesis_roles.py): a report for a year before a
    # unit's purchase raised StopIteration from here and answered 500.
    assert age_band(age) == band
