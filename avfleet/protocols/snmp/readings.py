"""Turning raw SNMP values into status readings, as a profile's value specs describe (pure, no I/O)."""

from __future__ import annotations

import re
from typing import Any

from avfleet.profiles.schema import Reading, ValueSpec, specs
from avfleet.protocols.snmp.values import SnmpScalar, as_mac, as_text
from avfleet.protocols.status import FaultLevel

_FAULT_ORDER = {FaultLevel.ok: 0, FaultLevel.warning: 1, FaultLevel.error: 2}


class UnparsableValue(ValueError):
    """The device answered with a value the profile cannot turn into a reading."""


def _matches_null(raw: SnmpScalar, nulls: list[int | str]) -> bool:
    if not nulls:
        return False
    text = as_text(raw)
    return any(raw == n or text == str(n) for n in nulls)


def _text(raw: SnmpScalar) -> str:
    return (as_text(raw) or "").strip()


def evaluate(spec: ValueSpec, raw: SnmpScalar, *, where: str = "") -> Any:
    """One spec applied to one raw value; None when there is no value (absent, empty, null value)."""
    label = where or spec.source or "constant"
    if spec.source is None:
        raw = spec.value  # a constant still goes through enum/parse
    if raw is None or _matches_null(raw, spec.null_values):
        return None
    value: Any = raw
    if spec.regex is not None:
        match = re.search(spec.regex, _text(value))
        if match is None:
            return None
        groups = match.groupdict()
        value = groups["value"] if "value" in groups else (match.group(1) if match.groups() else match.group(0))
    if spec.split is not None:
        parts = _text(value).split(spec.split.separator)
        if not -len(parts) <= spec.split.index < len(parts):
            return None
        value = parts[spec.split.index].strip()
    if spec.enum is not None:
        key = _text(value)
        if key in spec.enum:
            value = spec.enum[key]
        elif spec.enum_default is not None:
            value = spec.enum_default
        else:
            raise UnparsableValue(f"{label}: unexpected value {key!r} (known: {', '.join(spec.enum)})")
        if value is None:
            return None
    return _parse(spec, value, label)


def _parse(spec: ValueSpec, value: Any, label: str) -> Any:
    kind = spec.parse
    if kind == "mac":
        return as_mac(value if isinstance(value, str | bytes) else None)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        text = _text(value).lower()
        if text in ("true", "on", "yes", "1"):
            return True
        if text in ("false", "off", "no", "0"):
            return False
        raise UnparsableValue(f"{label}: {text!r} is not a yes/no value")
    if kind in ("int", "float"):
        if isinstance(value, bool):
            raise UnparsableValue(f"{label}: expected a number, got {value!r}")
        try:
            number: float = value if isinstance(value, int) else float(_text(value))
        except ValueError:
            raise UnparsableValue(f"{label}: {_text(value)!r} is not a number") from None
        if spec.scale is not None:
            number = number * spec.scale
        return round(number) if kind == "int" else float(number)
    if isinstance(value, bool | int | float):
        return str(value) if not isinstance(value, bool) else value
    text = _text(value)
    return text or None


def read(reading: Reading | None, values: dict[str, SnmpScalar], *, index: str | None = None) -> Any:
    """A reading from the fetched values: the first spec that yields a value wins."""
    for spec in specs(reading):
        oid = spec.instance(index) if (spec.column is not None and index is not None) else spec.oid
        raw = values.get(oid) if oid else None
        result = evaluate(spec, raw, where=oid or "")
        if result is not None:
            return result
    return None


def read_fault(reading: Reading | None, values: dict[str, SnmpScalar]) -> FaultLevel:
    """The worst level any spec reports; unknown when none yields a value."""
    worst: FaultLevel | None = None
    for spec in specs(reading):
        raw = values.get(spec.oid) if spec.oid else None
        result = evaluate(spec, raw, where=spec.oid or "")
        if result is None:
            continue
        level = FaultLevel(result)
        if level == FaultLevel.unknown:
            continue
        if worst is None or _FAULT_ORDER[level] > _FAULT_ORDER[worst]:
            worst = level
    return worst or FaultLevel.unknown


def oids_of(reading: Reading | None, index: str | None = None) -> list[str]:
    out = []
    for spec in specs(reading):
        if spec.oid is not None:
            out.append(spec.oid)
        elif spec.column is not None and index is not None:
            out.append(spec.instance(index))
    return out
