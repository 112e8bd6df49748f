"""The device-profile library: every YAML in `firmware_configs/profiles/`, validated and indexed.

    library = ProfileLibrary.load()                     # or ProfileLibrary.load(some_dir)
    library.get("raritan-px3")                          # by name or alias; UnknownProfile otherwise
    library.match_snmp(sys_object_id, sys_descr)        # -> ProfileMatch(profile, reason)
    library.match_pjlink(inf1, inf2, pjlink_class)      # -> ProfileMatch(profile, reason)

Loading is explicit (no import-time work, no module-level cache): whoever needs the library loads
it once and passes it on. Errors name file, line and field.
"""

from __future__ import annotations

import difflib
import importlib.resources
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.comments import CommentedMap

from avfleet.profiles.schema import Profile, ProtocolName
from avfleet.yamlcheck import YamlCheckError, YamlProblem, line_of, plain, read_yaml_file, validation_problems

PROFILES_DIR_ENV = "AVFLEET_PROFILES_DIR"


def firmware_configs_dir() -> Path:
    """`firmware_configs/`: inside the installed package (wheel) or at the repository root (editable)."""
    try:
        packaged = importlib.resources.files("avfleet") / "firmware_configs"
        if packaged.is_dir():
            return Path(str(packaged))
    except (ModuleNotFoundError, NotADirectoryError):
        pass
    import avfleet

    return Path(avfleet.__file__).resolve().parents[1] / "firmware_configs"


def profiles_dir() -> Path:
    """Where the shipped profiles are; $AVFLEET_PROFILES_DIR overrides it."""
    override = os.environ.get(PROFILES_DIR_ENV)
    return Path(override) if override else firmware_configs_dir() / "profiles"


ProfileProblem = YamlProblem  # file, line (1-based), field, message, suggestion


class ProfileError(ValueError):
    """One or more profile files are invalid; each problem names file, line and field."""

    def __init__(self, problems: list[ProfileProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class UnknownProfile(KeyError):
    """No profile has this name or alias."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"no device profile named {name!r}{hint}")

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class ProfileMatch:
    profile: Profile
    reason: str


@dataclass
class _Source:
    path: Path
    data: CommentedMap


def _read_sources(directory: Path) -> tuple[list[_Source], list[ProfileProblem]]:
    sources: list[_Source] = []
    problems: list[ProfileProblem] = []
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    for path in files:
        try:
            data = read_yaml_file(path)
        except YamlCheckError as exc:
            problems.extend(exc.problems)
            continue
        if not isinstance(data, CommentedMap):
            problems.append(ProfileProblem(str(path), 1, "(top level)", "a profile file is one mapping of keys"))
            continue
        sources.append(_Source(path, data))
    return sources, problems


def _validate(sources: list[_Source]) -> tuple[list[Profile], list[ProfileProblem]]:
    by_name = {str(s.data.get("name")): s for s in sources if s.data.get("name")}
    profiles: list[Profile] = []
    problems: list[ProfileProblem] = []
    for source in sources:
        chain = [source]
        seen = {str(source.data.get("name"))}
        cursor = source
        broken = False
        while cursor.data.get("extends"):
            parent_name = str(cursor.data["extends"])
            parent = by_name.get(parent_name)
            if parent is None or parent_name in seen:
                reason = "extends itself in a loop" if parent_name in seen else f"no profile named {parent_name!r}"
                problems.append(
                    ProfileProblem(str(cursor.path), line_of(cursor.data, ("extends",)), "extends", reason)
                )
                broken = True
                break
            seen.add(parent_name)
            chain.append(parent)
            cursor = parent
        if broken:
            continue
        merged: dict[str, Any] = {}
        origin: dict[str, _Source] = {}
        for layer in reversed(chain):
            for key, value in layer.data.items():
                if layer is not source and key in ("name", "extends", "aliases", "recognition"):
                    continue  # identity of the parent is not inherited
                merged[str(key)] = value
                origin[str(key)] = layer
        try:
            profiles.append(Profile.model_validate(plain(merged, str_keys=True)))
        except ValidationError as exc:

            def locate(loc: tuple[Any, ...], origin: dict[str, _Source] = origin, source: _Source = source
                       ) -> tuple[str, Any]:
                # A top-level key may come from a parent profile: its problem is in the parent's file.
                layer = origin.get(str(loc[0]) if loc else "", source)
                return str(layer.path), layer.data

            problems += validation_problems(exc, merged, str(source.path), model=Profile, locate=locate,
                                            unknown_key="unknown key (not in the profile schema)")
    return profiles, problems


class ProfileLibrary:
    """The validated profiles, with lookups by name/alias, SNMP identity and PJLink INF1/INF2."""

    def __init__(self, profiles: Iterable[Profile], *, origin: str = "(in memory)") -> None:
        self._profiles = sorted(profiles, key=lambda p: p.name)
        self.origin = origin
        self._by_name: dict[str, Profile] = {}
        problems: list[ProfileProblem] = []
        for profile in self._profiles:
            for name in profile.all_names:
                key = name.lower()
                other = self._by_name.get(key)
                if other is not None and other is not profile:
                    clash = f"{name!r} names both {other.name} and {profile.name}"
                    problems.append(ProfileProblem(origin, None, "name/aliases", clash))
                self._by_name[key] = profile
        if problems:
            raise ProfileError(problems)

    @classmethod
    def load(cls, directory: Path | None = None) -> ProfileLibrary:
        directory = directory or profiles_dir()
        if not directory.is_dir():
            raise ProfileError([ProfileProblem(str(directory), None, "(directory)", "no such profile directory")])
        sources, problems = _read_sources(directory)
        names: dict[str, _Source] = {}
        for source in sources:
            name = source.data.get("name")
            if name in names:
                problems.append(
                    ProfileProblem(
                        str(source.path), line_of(source.data, ("name",)), "name",
                        f"{name!r} is already the name of {names[name].path.name}",
                    )
                )
            elif name is not None:
                names[name] = source
        profiles, more = _validate(sources)
        problems += more
        if problems:  # a parent's problem is also each child's: say it once
            raise ProfileError(list(dict.fromkeys(problems)))
        return cls(profiles, origin=str(directory))

    def __iter__(self) -> Iterator[Profile]:
        return iter(self._profiles)

    def __len__(self) -> int:
        return len(self._profiles)

    def names(self) -> list[str]:
        return [p.name for p in self._profiles]

    def find(self, name: str) -> Profile | None:
        return self._by_name.get(name.strip().lower())

    def get(self, name: str) -> Profile:
        found = self.find(name)
        if found is None:
            raise UnknownProfile(name, difflib.get_close_matches(name.lower(), list(self._by_name), n=3))
        return found

    def fallback(self, protocol: ProtocolName, pjlink_class: str | None = None) -> Profile | None:
        for profile in self._profiles:
            rec = profile.recognition
            if not rec.fallback or protocol not in profile.protocols:
                continue
            if protocol == ProtocolName.pjlink:
                wanted = pjlink_class or "1"
                if rec.pjlink is None or (rec.pjlink.pjlink_class or "1") != wanted:
                    continue
            elif profile.snmp is None:
                continue
            return profile
        return None

    def match_snmp(self, sys_object_id: str | None, sys_descr: str | None) -> ProfileMatch | None:
        """The profile for an SNMP agent: the longest sysObjectID prefix wins; sysDescr breaks ties and
        is the second test; the fallback profile (generic host) when nothing matches."""
        oid = (sys_object_id or "").strip().lstrip(".")
        descr = sys_descr or ""
        best: list[tuple[int, Profile, str]] = []
        for profile in self._profiles:
            rec = profile.recognition.snmp
            if rec is None:
                continue
            for prefix in rec.sys_object_id:
                if oid and (oid == prefix or oid.startswith(prefix + ".")):
                    best.append((len(prefix.split(".")), profile, prefix))
        if best:
            top = max(length for length, _, _ in best)
            tied = [(p, prefix) for length, p, prefix in best if length == top]
            for profile, prefix in tied:
                pattern = self._descr_match(profile, descr)
                if pattern:
                    return ProfileMatch(
                        profile,
                        f"sysObjectID {oid} is under {prefix} and sysDescr matches /{pattern}/ ({profile.name})",
                    )
            profile, prefix = tied[0]
            return ProfileMatch(profile, f"sysObjectID {oid} is under {prefix} ({profile.name}, longest prefix)")
        for profile in self._profiles:
            pattern = self._descr_match(profile, descr)
            if pattern:
                return ProfileMatch(profile, f"sysDescr {descr[:60]!r} matches /{pattern}/ ({profile.name})")
        fallback = self.fallback(ProtocolName.snmp)
        if fallback is None:
            return None
        return ProfileMatch(
            fallback,
            f"no profile recognizes sysObjectID {oid or '(none)'} / sysDescr {descr[:60]!r}; "
            f"using the fallback {fallback.name}",
        )

    @staticmethod
    def _descr_match(profile: Profile, descr: str) -> str | None:
        rec = profile.recognition.snmp
        if rec is None or not descr:
            return None
        for pattern in rec.sys_descr:
            if re.search(pattern, descr, re.IGNORECASE):
                return pattern
        return None

    def match_pjlink(
        self, inf1: str | None, inf2: str | None, pjlink_class: str | None = None
    ) -> ProfileMatch | None:
        """The profile for a PJLink projector from INF1 (maker) and INF2 (model).

        A profile matching both wins over one matching INF2 only, which wins over INF1 only (a
        vendor family); then the generic profile of the PJLink class.
        """
        scored: list[tuple[int, int, Profile, str]] = []
        for profile in self._profiles:
            rec = profile.recognition.pjlink
            if rec is None or (not rec.inf1 and not rec.inf2):
                continue
            hit1 = next((p for p in rec.inf1 if inf1 and re.search(p, inf1, re.IGNORECASE)), None)
            hit2 = next((p for p in rec.inf2 if inf2 and re.search(p, inf2, re.IGNORECASE)), None)
            if rec.inf1 and rec.inf2 and not (hit1 and hit2):
                continue  # a model profile needs both the maker and the model to match
            if not (hit1 or hit2):
                continue
            score = (2 if hit2 else 0) + (1 if hit1 else 0)
            why = " and ".join(
                x for x in (hit1 and f"INF1 {inf1!r} matches /{hit1}/", hit2 and f"INF2 {inf2!r} matches /{hit2}/") if x
            )
            scored.append((score, len(hit2 or hit1 or ""), profile, why))
        if scored:
            scored.sort(key=lambda t: (t[0], t[1]), reverse=True)
            _, _, profile, why = scored[0]
            return ProfileMatch(profile, f"{why} ({profile.name})")
        fallback = self.fallback(ProtocolName.pjlink, pjlink_class)
        if fallback is None:
            return None
        return ProfileMatch(
            fallback,
            f"no profile recognizes INF1 {inf1!r} / INF2 {inf2!r}; using {fallback.name} for PJLink class "
            f"{pjlink_class or '1'}",
        )


def load_library(directory: Path | None = None) -> ProfileLibrary:
    """Load and validate every profile (the shipped ones unless `directory` is given)."""
    return ProfileLibrary.load(directory)
