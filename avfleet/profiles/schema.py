"""The schema of a device profile (`firmware_configs/profiles/*.yaml`), one pydantic model.

A profile says what a model *is* (vendor, model, white-label aliases, kind, protocols,
capabilities, rated watts, lamp and filter life), how to *recognize* it (PJLink INF1/INF2, SNMP
sysObjectID prefix or sysDescr pattern), and, for SNMP, which OID gives which reading of the
normalized status and how to convert it. Unknown keys are refused everywhere so a typo fails at
load time with file, line and field instead of being silently ignored.

Value specs (`ValueSpec`) describe one reading: where it is (`oid` for a scalar, `column` for a
per-outlet table column whose row index is appended) and a chain of transforms applied in this
order: `null_values` -> `regex` -> `split` -> `enum` -> `parse` -> `scale`.
Where a reading accepts a list of specs, the first one that yields a value wins (fallbacks), except
for faults, where the worst level of all specs wins.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from avfleet.profiles.vocabulary import FAULT_COMPONENTS, FaultLevel, Kind, Power

_OID_RE = re.compile(r"^\.?\d+(\.\d+)*$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_oid(value: str | None) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if not _OID_RE.match(text):
        raise ValueError(f"{value!r} is not a numeric OID (dotted numbers, e.g. 1.3.6.1.2.1.1.1.0)")
    return text.lstrip(".")


def _check_regex(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"bad regular expression {value!r}: {exc}") from None
    return value


class Capability(StrEnum):
    power_control = "power_control"
    power_state = "power_state"
    input_select = "input_select"
    av_mute = "av_mute"
    lamp_hours = "lamp_hours"
    filter_hours = "filter_hours"
    error_status = "error_status"
    identity = "identity"
    temperature = "temperature"
    outlet_power = "outlet_power"
    outlet_energy = "outlet_energy"
    outlet_switching = "outlet_switching"
    inlet_power = "inlet_power"


class ProtocolName(StrEnum):
    pjlink = "pjlink"
    snmp = "snmp"


class Split(Strict):
    separator: str = Field(min_length=1)
    index: int = 0


class ValueSpec(Strict):
    """One reading: where it comes from and how to turn the raw value into the status value."""

    oid: str | None = None  # a scalar (with its instance, usually .0)
    column: str | None = None  # a table column; the row index is appended (per-outlet readings)
    suffix: str | None = None  # appended after the row index (Raritan: <outlet>.<sensorType>)
    null_values: list[int | str] = Field(default_factory=list)  # raw values meaning "not supported"
    regex: str | None = None  # applied to the text; group 'value' or group 1 (or the whole match)
    split: Split | None = None
    enum: dict[str, str | int | float | bool | None] | None = None  # raw (as text) -> value
    enum_default: str | int | float | bool | None = None  # for raw values missing from `enum`
    parse: Literal["text", "int", "float", "mac", "bool"] = "text"
    scale: float | None = None  # multiply after parsing (APC tenths: 0.1; kWh -> Wh: 1000)
    value: str | int | float | bool | None = None  # a constant, when neither oid nor column is set

    @field_validator("oid", "column")
    @classmethod
    def _oids(cls, v: str | None) -> str | None:
        return _check_oid(v)

    @field_validator("regex")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        return _check_regex(v)

    @field_validator("suffix")
    @classmethod
    def _suffix(cls, v: str | None) -> str | None:
        if v is None:
            return None
        if not _OID_RE.match(v.lstrip(".")):
            raise ValueError(f"suffix {v!r} must be dotted numbers")
        return v.lstrip(".")

    @model_validator(mode="after")
    def _one_source(self) -> ValueSpec:
        sources = [x for x in (self.oid, self.column) if x is not None]
        if len(sources) > 1:
            raise ValueError("give either oid (a scalar) or column (a table), not both")
        if not sources and self.value is None:
            raise ValueError("a value needs an oid, a column, or a constant value")
        if self.suffix is not None and self.column is None:
            raise ValueError("suffix only applies to a column")
        if self.scale is not None and self.parse not in ("int", "float"):
            raise ValueError("scale needs parse: int or float")
        return self

    @property
    def source(self) -> str | None:
        return self.oid or self.column

    def instance(self, index: str) -> str:
        """The OID of this column for one row."""
        if self.column is None:
            raise ValueError("not a column spec")
        return ".".join(x for x in (self.column, index, self.suffix) if x)


# A reading: one spec, or a list of fallbacks (the first that yields a value wins).
Reading = ValueSpec | list[ValueSpec]


def specs(reading: Reading | None) -> list[ValueSpec]:
    if reading is None:
        return []
    return list(reading) if isinstance(reading, list) else [reading]


class SetValue(Strict):
    value: int | str
    type: Literal["integer", "unsigned", "gauge", "string", "hex", "oid", "ipaddress"] = "integer"


class ScalarCommand(SetValue):
    """A device-level SET (e.g. Epson power)."""

    oid: str

    @field_validator("oid")
    @classmethod
    def _oid(cls, v: str) -> str:
        return _check_oid(v) or ""


class OutletSwitch(Strict):
    column: str  # the control column; the outlet index is appended
    on: SetValue
    off: SetValue

    @field_validator("column")
    @classmethod
    def _oid(cls, v: str) -> str:
        return _check_oid(v) or ""


class OutletTable(Strict):
    """Per-outlet readings. Rows are found by walking `index_column` once at discovery."""

    index_column: str
    name: Reading | None = None
    power_w: Reading | None = None
    energy_wh: Reading | None = None
    on: Reading | None = None
    switch: OutletSwitch | None = None
    max_outlets: int = Field(default=64, ge=1, le=1024)

    @field_validator("index_column")
    @classmethod
    def _oid(cls, v: str) -> str:
        return _check_oid(v) or ""

    @model_validator(mode="after")
    def _columns(self) -> OutletTable:
        for field_name in ("name", "power_w", "energy_wh", "on"):
            for spec in specs(getattr(self, field_name)):
                if spec.oid is not None:
                    raise ValueError(f"outlets.{field_name}: per-outlet readings use column, not oid")
        return self


class Identity(Strict):
    manufacturer: Reading | None = None
    model: Reading | None = None
    serial: Reading | None = None
    firmware: Reading | None = None
    name: Reading | None = None
    mac: Reading | None = None


class Faults(Strict):
    fan: Reading | None = None
    lamp: Reading | None = None
    temperature: Reading | None = None
    cover: Reading | None = None
    filter: Reading | None = None
    other: Reading | None = None


class Lamp(Strict):
    hours: Reading
    on: Reading | None = None  # when absent: on while the power state is on or warming


class SnmpMap(Strict):
    """Which OID gives which reading of the normalized status."""

    identity: Identity = Field(default_factory=Identity)
    power: Reading | None = None  # must yield a Power value (use enum)
    lamps: list[Lamp] = Field(default_factory=list)
    filter_hours: Reading | None = None
    input: Reading | None = None
    av_mute: Reading | None = None
    power_w: Reading | None = None  # an inlet/device reading; else the sum of the outlets
    faults: Faults = Field(default_factory=Faults)
    outlets: OutletTable | None = None
    power_on: ScalarCommand | None = None
    power_off: ScalarCommand | None = None
    mac_from_interfaces: bool = True  # walk ifPhysAddress once at discovery when identity.mac is unset

    @model_validator(mode="after")
    def _scalars(self) -> SnmpMap:
        for label, reading in self.scalar_readings():
            for spec in specs(reading):
                if spec.column is not None:
                    raise ValueError(f"{label}: a device-level reading uses oid, not column")
        for spec in specs(self.power):
            allowed = {p.value for p in Power}
            for mapped in [*(spec.enum or {}).values(), spec.enum_default]:
                if mapped is not None and mapped not in allowed:
                    raise ValueError(f"power: enum value {mapped!r} is not one of {sorted(allowed)}")
            if spec.enum is None and spec.value is None:
                raise ValueError("power: map the raw values to power states with enum")
        levels = {f.value for f in FaultLevel}
        for name in FAULT_COMPONENTS:
            for spec in specs(getattr(self.faults, name)):
                if spec.enum is None:
                    raise ValueError(f"faults.{name}: map the raw values to ok/warning/error with enum")
                for mapped in [*spec.enum.values(), spec.enum_default]:
                    if mapped is not None and mapped not in levels:
                        raise ValueError(f"faults.{name}: enum value {mapped!r} is not one of {sorted(levels)}")
        return self

    def scalar_readings(self) -> list[tuple[str, Reading | None]]:
        """Every device-level reading with a dotted label (for validation and the library test)."""
        out: list[tuple[str, Reading | None]] = [
            (f"identity.{k}", getattr(self.identity, k)) for k in Identity.model_fields
        ]
        out += [(k, getattr(self, k)) for k in ("power", "filter_hours", "input", "av_mute", "power_w")]
        out += [(f"faults.{k}", getattr(self.faults, k)) for k in Faults.model_fields]
        for i, lamp in enumerate(self.lamps):
            out += [(f"lamps[{i}].hours", lamp.hours), (f"lamps[{i}].on", lamp.on)]
        return out

    def table_readings(self) -> list[tuple[str, Reading | None]]:
        if self.outlets is None:
            return []
        return [(f"outlets.{k}", getattr(self.outlets, k)) for k in ("name", "power_w", "energy_wh", "on")]


class RatedWatts(Strict):
    """Rated consumption per power state, in W (data sheet figures)."""

    on: float = Field(gt=0)
    eco: float | None = Field(default=None, gt=0)
    standby: float | None = Field(default=None, ge=0)
    networked_standby: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _order(self) -> RatedWatts:
        if self.eco is not None and not self.on > self.eco:
            raise ValueError(f"on ({self.on} W) must be more than eco ({self.eco} W)")
        low = self.eco if self.eco is not None else self.on
        if self.standby is not None and not low >= self.standby:
            raise ValueError(f"standby ({self.standby} W) must not exceed eco/on ({low} W)")
        if self.networked_standby is not None and not low >= self.networked_standby:
            raise ValueError(f"networked_standby ({self.networked_standby} W) must not exceed eco/on ({low} W)")
        return self


class Life(Strict):
    rated_hours: int = Field(gt=0)
    eco_hours: int | None = Field(default=None, gt=0)


class PJLinkRecognition(Strict):
    """Regular expressions matched (case-insensitively, anywhere) against INF1 (maker) and INF2 (model)."""

    inf1: list[str] = Field(default_factory=list)
    inf2: list[str] = Field(default_factory=list)
    pjlink_class: Literal["1", "2"] | None = None

    @field_validator("inf1", "inf2")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        for item in v:
            _check_regex(item)
        return v


class SnmpRecognition(Strict):
    sys_object_id: list[str] = Field(default_factory=list)  # prefixes, matched on whole arcs
    sys_descr: list[str] = Field(default_factory=list)  # regular expressions (search, case-insensitive)

    @field_validator("sys_object_id")
    @classmethod
    def _oids(cls, v: list[str]) -> list[str]:
        return [_check_oid(x) or "" for x in v]

    @field_validator("sys_descr")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        for item in v:
            _check_regex(item)
        return v


class Recognition(Strict):
    pjlink: PJLinkRecognition | None = None
    snmp: SnmpRecognition | None = None
    fallback: bool = False  # the profile used when nothing else matches (one per protocol)


class Profile(Strict):
    """One model or family of devices."""

    name: str  # the key used in configs and URLs (?profile=NAME): lower-case, digits, dashes
    extends: str | None = None  # inherit every top-level key not given here from that profile
    vendor: str
    model: str
    aliases: list[str] = Field(default_factory=list)  # white-label and sibling model names
    kind: Kind
    description: str | None = None
    protocols: list[ProtocolName] = Field(min_length=1)
    capabilities: list[Capability] = Field(default_factory=list)
    rated_watts: RatedWatts | None = None
    light_source: Literal["lamp", "laser", "led", "none"] | None = None
    lamp: Life | None = None
    filter: Life | None = None
    recognition: Recognition = Field(default_factory=Recognition)
    snmp: SnmpMap | None = None
    sources: list[str] = Field(default_factory=list)  # where the figures and OIDs come from

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError(f"{v!r}: use lower-case letters, digits and dashes (e.g. epson-eb-2250u)")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Profile:
        if ProtocolName.snmp in self.protocols and self.snmp is None:
            raise ValueError("protocols lists snmp but there is no snmp: object map")
        if self.snmp is not None and ProtocolName.snmp not in self.protocols:
            raise ValueError("an snmp: object map needs snmp in protocols")
        if self.recognition.snmp and ProtocolName.snmp not in self.protocols:
            raise ValueError("recognition.snmp needs snmp in protocols")
        if self.recognition.pjlink and ProtocolName.pjlink not in self.protocols:
            raise ValueError("recognition.pjlink needs pjlink in protocols")
        if self.light_source in ("laser", "led", "none") and self.lamp is not None and self.kind != Kind.projector:
            raise ValueError("lamp life given for a device without a lamp")
        return self

    @property
    def all_names(self) -> list[str]:
        return [self.name, *self.aliases]
