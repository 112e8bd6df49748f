"""The pure rules: which conditions a status raises, which it clears, and the forecast date."""

from __future__ import annotations

from datetime import date

from avfleet.controller.tickets.rules import LifeThresholds, RatedLife, device_conditions, forecast_date
from avfleet.protocols.status import DeviceStatus, Faults, Lamp

LIMITS = LifeThresholds()
LIFE = RatedLife(lamp_h=5000, filter_h=10000)


def status(**kw) -> DeviceStatus:
    base = {"device_id": "pj", "kind": "projector", "protocol": "pjlink", "availability": "online", "power": "on",
            "faults": Faults(fan="ok", lamp="ok", temperature="ok", cover="ok", filter="ok", other="ok"),
            "lamps": [Lamp(hours=1000, on=True)], "filter_hours": 100}
    return DeviceStatus(**{**base, **kw})


def test_each_reported_flag_is_its_own_condition_at_its_level():
    c = device_conditions(status(faults=Faults(fan="error", lamp="warning", temperature="ok", cover="ok",
                                               filter="unknown", other="ok")), LIFE, LIMITS)
    assert c.active == {"fan": "error", "lamp": "warning"}
    assert "filter" not in c.clear and "filter" not in c.active  # unknown says neither
    assert {"temperature", "cover", "other", "unreachable", "auth_failed", "lamp_life"} <= c.clear


def test_unreachable_neither_raises_nor_clears_faults():
    c = device_conditions(status(availability="unreachable", faults=Faults()), LIFE, LIMITS)
    assert c.active == {"unreachable": "error"}
    assert c.clear == {"auth_failed"}


def test_standby_is_not_a_fault():
    c = device_conditions(status(power="standby"), LIFE, LIMITS)
    assert c.active == {}


def test_lamp_and_filter_life_thresholds():
    assert device_conditions(status(lamps=[Lamp(hours=4499, on=True)]), LIFE, LIMITS).active == {}
    assert device_conditions(status(lamps=[Lamp(hours=4500, on=True)]), LIFE, LIMITS).active == {"lamp_life": "warning"}
    assert device_conditions(status(lamps=[Lamp(hours=10, on=True), Lamp(hours=5000, on=False)]), LIFE,
                             LIMITS).active == {"lamp_life": "error"}
    assert device_conditions(status(filter_hours=9100), LIFE, LIMITS).active == {"filter_life": "warning"}
    # A laser projector (no rated lamp life) never gets a lamp_life condition.
    assert "lamp_life" not in device_conditions(status(lamps=[Lamp(hours=90_000, on=True)]),
                                                RatedLife(filter_h=None), LIMITS).active


def test_forecast_date():
    today = date(2026, 12, 1)
    assert forecast_date(4000, 5000, 10.0, today) == date(2027, 3, 11)  # 1000 h at 10 h a day
    assert forecast_date(5200, 5000, 10.0, today) == today
    assert forecast_date(4000, 5000, None, today) is None
    assert forecast_date(4000, 5000, 0.0, today) is None
    assert forecast_date(None, 5000, 3.0, today) is None
