"""Rated watts per device: the agent's configured profile, else the PJLink identity's profile match."""

from __future__ import annotations

from typing import Any

from avfleet.controller.energy.compute import Watts
from avfleet.profiles.library import ProfileLibrary, load_library
from avfleet.profiles.schema import Profile


class WattsResolver:
    """Looks profiles up once per (profile name, maker, model, class); the library loads on first use."""

    def __init__(self, library: ProfileLibrary | None = None) -> None:
        self._library = library
        self._cache: dict[tuple[str | None, ...], Watts | None] = {}

    def for_device(self, configured_profile: str | None, status: dict[str, Any] | None,
                   model: str | None = None) -> Watts | None:
        identity = (status or {}).get("identity") or {}
        protocol = (status or {}).get("protocol")
        return self.lookup(configured_profile, identity.get("manufacturer"), identity.get("model") or model,
                           identity.get("pjlink_class"), protocol)

    def lookup(self, configured_profile: str | None, manufacturer: str | None, model: str | None,
               pjlink_class: str | None, protocol: str | None) -> Watts | None:
        key = (configured_profile, manufacturer, model, pjlink_class, protocol)
        if key not in self._cache:
            self._cache[key] = self._lookup(*key)
        return self._cache[key]

    def _lookup(self, configured: str | None, manufacturer: str | None, model: str | None,
                pjlink_class: str | None, protocol: str | None) -> Watts | None:
        library = self._library if self._library is not None else self._load()
        profile: Profile | None = library.find(configured) if configured else None
        if profile is None and protocol in (None, "pjlink") and (manufacturer or model):
            match = library.match_pjlink(manufacturer, model, pjlink_class)
            profile = match.profile if match is not None else None
        if profile is None or profile.rated_watts is None:
            return None  # no rated figure: time without a measurement is a gap
        rated = profile.rated_watts
        return Watts(on=rated.on, standby=rated.standby, networked_standby=rated.networked_standby)

    def _load(self) -> ProfileLibrary:
        self._library = load_library()
        return self._library


def configured_profiles(configured_devices: list[dict[str, Any]] | None) -> dict[str, str]:
    """device id → profile name, from the agent's birth (`configured_devices`)."""
    return {d["id"]: d["profile"] for d in configured_devices or [] if d.get("id") and d.get("profile")}
