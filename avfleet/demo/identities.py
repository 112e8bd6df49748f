"""What each emulated device of the demo says it is, in agreement with its model profile.

Vendor spelling, model, PJLink class, light source (no lamp on a laser) and filter come from the
profile library (firmware_configs/profiles/), so the controller recognises every unit as the model
it claims to be. What profiles do not hold (serial number format, firmware version, the INFO text,
replacement part numbers) is kept here per model, in the style of the real units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from avfleet.demo.county import Room
from avfleet.profiles.schema import Profile


@dataclass(frozen=True)
class ProjectorModel:
    profile: str  # profile name in firmware_configs/profiles/
    inf1: str  # the manufacturer as the unit spells it in PJLink INF1
    serial_prefix: str
    serial_digits: int
    firmware: str  # SVER on Class 2; on Class 1, where PJLink has no SVER, it is what INFO answers
    info: str  # INFO on Class 2 units
    lamp_part: str = ""
    filter_part: str = ""


def projector_models() -> tuple[ProjectorModel, ...]:
    """The five classroom models of the profile library; a school buys one of them."""
    return (
        ProjectorModel("epson-eb-2250u", "EPSON", "X4JF", 6, "W82S0102", "EB-2250U 3LCD", "ELPLP95", "ELPAF60"),
        ProjectorModel("nec-me403u", "NEC", "0Y3", 6, "1.00.005", "ME403U LCD"),
        ProjectorModel("panasonic-pt-vmz51", "Panasonic", "DA", 7, "1.03", "PT-VMZ51 LASER", "", "ET-RFV500"),
        ProjectorModel("benq-mw560", "BenQ", "PDK8", 8, "V1.05", ""),
        ProjectorModel("epson-eb-l630u", "EPSON", "X8AL", 6, "L66J1001", "EB-L630U LASER"),
    )


def serial_number(model: ProjectorModel, index: int) -> str:
    """Deterministic, unique per (model, index), in the model's format."""
    return f"{model.serial_prefix}{(48271 * (index + 1)) % 10**model.serial_digits:0{model.serial_digits}d}"


def mac_address(index: int, kind: int = 0x10) -> str:
    """A locally administered MAC (02:...), unique per device index and kind."""
    return f"02:a5:{kind:02x}:{(index >> 16) & 0xFF:02x}:{(index >> 8) & 0xFF:02x}:{index & 0xFF:02x}"


def _pjlink_class(profile: Profile) -> int:
    rec = profile.recognition.pjlink
    return int(rec.pjlink_class) if rec is not None and rec.pjlink_class else 1


def identity_settings(model: ProjectorModel, profile: Profile, index: int) -> dict[str, Any]:
    """The ProjectorConfig keys that make an emulator answer like a unit of `model`."""
    pjlink_class = _pjlink_class(profile)
    has_lamp = profile.light_source == "lamp"
    settings: dict[str, Any] = {
        "manufacturer": model.inf1,
        "model": profile.model,
        "serial": serial_number(model, index),
        "firmware": model.firmware,
        # Class 1 has no SVER: what a Class 1 unit tells of its firmware is in INFO.
        "info": model.info if pjlink_class == 2 else model.firmware,
        "pjlink_class": pjlink_class,
        "mac": mac_address(index),
        "lamp_count": 1 if has_lamp else 0,
        "has_filter": profile.filter is not None,
        "replacement_lamps": model.lamp_part,
        "replacement_filters": model.filter_part,
    }
    return settings


def projector_settings(index: int, room: Room, n: int, model: ProjectorModel, profile: Profile) -> dict[str, Any]:
    """Identity, state and faults of projector `index` (the `n`-th in `room`), deterministic.

    A few units carry trouble for the dashboard and tickets: lamps near their rated life, lamp and
    filter warnings (only where there is a lamp or a filter), a fan error, a dead lamp, one that
    accepts TCP but never answers (unreachable) and one whose password the agent gets wrong (auth_failed).
    """
    settings = identity_settings(model, profile, index)
    has_lamp, has_filter = settings["lamp_count"] > 0, settings["has_filter"]
    settings.update({
        "name": f"{room.school[:40]} {room.room}" + (f" {n}" if len(room.projectors) > 1 else ""),
        "power": "on" if index % 3 == 0 else "standby",
        "warmup_s": 3.0,
        "cooldown_s": 3.0,
    })
    life = profile.lamp.rated_hours if profile.lamp else 5000
    if has_lamp:
        settings["lamp_hours"] = (300 + 997 * index) % life
        if index % 10 == 3:  # a few lamps near the end of their life: tickets and the report's forecast
            settings["lamp_hours"] = life - 60 - 7 * (index % 20)
    if has_filter:
        settings["filter_hours"] = (50 + 331 * index) % (profile.filter.rated_hours if profile.filter else 10000)
    faults: dict[str, Any] = {}
    if index % 11 == 4:
        faults["lamp" if has_lamp else "temperature"] = 1
    if index % 13 == 6:
        faults["fan"] = 2
    if index % 9 == 7 and has_filter:
        faults["filter"] = 1
    if index == 20 and has_lamp:
        faults["lamp_failure"] = True
    if index == 8:
        faults["silent"] = True
    if faults:
        settings["faults"] = faults
    if index == 14:
        settings["password"] = "s3cret"  # the agent is given another one: auth_failed
    return settings


def display_readings(index: int) -> dict[str, Any]:
    """A 65-inch classroom panel (generic-display profile: identity from ENTITY-MIB)."""
    return {
        "identity.manufacturer": "Samsung",
        "identity.model": "QB65B",
        "identity.serial": f"0T2H3NAR{(7919 * (index + 1)) % 10**6:06d}",
        "identity.firmware": "T-KTM2ELAKUC-2120.3",
    }


def pdu_readings() -> dict[str, Any]:
    """An APC switched, outlet-metered rack PDU (apc-rack-pdu profile)."""
    return {
        "identity.model": "AP8959EU3",
        "identity.serial": "5A2136E04417",
        "identity.firmware": "v6.9.6",
    }
