"""The fleet file: a YAML mix of emulated projectors for tests and the demo.

    version: 1
    defaults: {warmup_s: 5, cooldown_s: 5}          # any ProjectorConfig key, for every projector
    models:                                          # named model data, any ProjectorConfig key
      epson-eb-l735u: {manufacturer: EPSON, model: EB-L735U, pjlink_class: 2, lamp_count: 0,
                       avmt_both_only: true, inputs: ["11", "31", "32", "52"]}
    projectors:                                      # entries: model, count, port + any ProjectorConfig key
                                                     # (`class` is accepted for pjlink_class)
      - {model: epson-eb-l735u, count: 10, password: secret, power: on}
      - {model: epson-eb-l735u, name: Aula, faults: {filter: 1, lamp_failure: true}}
      - reply_delay_s: [1.0, 1.5]                    # a slow projector: each answer 1-1.5 s late
        bad_answers: {POWR: out_of_spec, LAMP: truncated, INF1: non_ascii, ERST: garbage, FILT: none}
        stray_lines: {"*": [notify_powr, late, echo]}   # also notify_lkup, notify_erst, notify_inpt

Names, serials and MACs are made unique per projector unless an entry with count 1 sets them.
Unknown keys are refused, with the file, line and the known keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from avfleet.emulator.pjlink_config import ProjectorConfig

_ENTRY_KEYS = ("model", "count", "port")
_ALIASES = {"class": "pjlink_class"}  # the short spelling people write, as in `--class`


class FleetFileError(ValueError):
    """A fleet file that cannot be used; the message names the file, line and field."""


class ProjectorEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    count: int = Field(default=1, ge=1, le=10000)
    port: int | None = Field(default=None, ge=1, le=65535)
    settings: dict[str, Any] = Field(default_factory=dict)


class FleetFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    defaults: dict[str, Any] = Field(default_factory=dict)
    models: dict[str, dict[str, Any]] = Field(default_factory=dict)
    projectors: list[ProjectorEntry] = Field(default_factory=list)


class PlannedProjector(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: ProjectorConfig
    port: int | None = None


def _line(node: Any, key: Any) -> int | None:
    lc = getattr(node, "lc", None)
    if lc is None:
        return None
    try:
        return (lc.key(key) if isinstance(key, str) else lc.item(key))[0] + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        return None


def _where(path: str, line: int | None, field: str) -> str:
    return f"{path}:{line}: {field}" if line else f"{path}: {field}"


def _dealias(settings: Any) -> Any:
    if not isinstance(settings, dict):
        return settings
    return {_ALIASES.get(k, k): v for k, v in settings.items()}


def _unknown(keys: set[str], where: str) -> None:
    unknown = sorted(keys - set(ProjectorConfig.model_fields))
    if unknown:
        known = ", ".join(sorted(ProjectorConfig.model_fields))
        raise FleetFileError(f"{where}: unknown key(s) {', '.join(unknown)}; known keys: {known}")


def load_fleet_file(path: str | Path) -> list[PlannedProjector]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise FleetFileError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        data = YAML(typ="rt").load(text)
    except YAMLError as exc:
        raise FleetFileError(f"{path}: not valid YAML: {exc}") from None
    return plan_fleet(data, source=path)


def plan_fleet(data: Any, *, source: str = "<fleet>") -> list[PlannedProjector]:
    """Validate a parsed fleet document and expand it into one config per projector."""
    if not isinstance(data, dict):
        raise FleetFileError(f"{source}: the fleet file must be a mapping with a 'projectors' list")
    raw_entries = data.get("projectors") or []
    if not isinstance(raw_entries, list):
        raise FleetFileError(_where(source, _line(data, "projectors"), "projectors must be a list"))
    entries = []
    for i, raw in enumerate(raw_entries):
        where = _where(source, _line(raw_entries, i), f"projectors[{i}]")
        if not isinstance(raw, dict):
            raise FleetFileError(f"{where}: each projector entry must be a mapping")
        settings = _dealias({k: v for k, v in raw.items() if k not in _ENTRY_KEYS})
        _unknown(set(settings), where)
        entries.append({**{k: raw[k] for k in _ENTRY_KEYS if k in raw}, "settings": settings})
    doc = {k: v for k, v in data.items() if k != "projectors"}
    if "defaults" in doc:
        doc["defaults"] = _dealias(doc["defaults"])
    if isinstance(doc.get("models"), dict):
        doc["models"] = {name: _dealias(model) for name, model in doc["models"].items()}
    try:
        fleet = FleetFile.model_validate({**doc, "projectors": entries})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise FleetFileError(f"{source}: {loc}: {first['msg']}") from None
    if fleet.version != 1:
        raise FleetFileError(_where(source, _line(data, "version"), f"version {fleet.version} unknown; use 1"))
    _unknown(set(fleet.defaults), _where(source, _line(data, "defaults"), "defaults"))
    for name, model in fleet.models.items():
        _unknown(set(model), _where(source, _line(data.get("models"), name), f"models.{name}"))

    planned: list[PlannedProjector] = []
    for i, entry in enumerate(fleet.projectors):
        where = _where(source, _line(raw_entries, i), f"projectors[{i}]")
        if entry.model is not None and entry.model not in fleet.models:
            known = ", ".join(sorted(fleet.models)) or "none defined"
            raise FleetFileError(f"{where}: model {entry.model!r} is not under models (known: {known})")
        if entry.port is not None and entry.count > 1:
            raise FleetFileError(f"{where}: port is for a single projector; drop it or count")
        if entry.count > 1 and "mac" in entry.settings:
            raise FleetFileError(f"{where}: mac must be unique; set it only on entries with count 1")
        base = {**fleet.defaults, **(fleet.models.get(entry.model, {}) if entry.model else {}), **entry.settings}
        for k in range(entry.count):
            n = len(planned) + 1
            values = dict(base)
            values.setdefault("mac", f"02:00:00:{(n >> 16) & 0xFF:02x}:{(n >> 8) & 0xFF:02x}:{n & 0xFF:02x}")
            if "serial" not in entry.settings or entry.count > 1:
                values["serial"] = f"{values.get('serial', 'EMU')}{n:07d}"[-32:]
            if "name" not in values:
                values["name"] = f"Projector {n}"
            elif entry.count > 1:
                values["name"] = f"{values['name']} {k + 1}"[-64:]
            try:
                config = ProjectorConfig.model_validate(values)
            except ValidationError as exc:
                first = exc.errors()[0]
                loc = ".".join(str(p) for p in first["loc"]) or "value"
                raise FleetFileError(f"{where}: {loc}: {first['msg']}") from None
            planned.append(PlannedProjector(config=config, port=entry.port))
    return planned
