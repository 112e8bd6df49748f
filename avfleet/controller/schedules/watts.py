"""Rated on and standby watts of a device, from its profile (like tickets' rated life), cached per model."""

from __future__ import annotations

from typing import Any


class RatedWattsLookup:
    """(on_w, standby_w) for a device's status; (None, None) when no profile names its watts.

    A projector that answers PJLink in standby has network standby on, so its standby draw is the
    profile's `networked_standby` figure when there is one (docs/schedules.md).
    """

    def __init__(self) -> None:
        self._library: Any = None
        self._cache: dict[tuple[str | None, str | None, str | None], tuple[float | None, float | None]] = {}

    def of(self, status: dict[str, Any] | None) -> tuple[float | None, float | None]:
        ident = (status or {}).get("identity") or {}
        key = (ident.get("manufacturer"), ident.get("model"), ident.get("pjlink_class"))
        if key not in self._cache:
            self._cache[key] = self._lookup(*key)
        return self._cache[key]

    def _lookup(self, manufacturer: str | None, model: str | None,
                pjlink_class: str | None) -> tuple[float | None, float | None]:
        if manufacturer is None and model is None:
            return None, None
        if self._library is None:
            from avfleet.profiles.library import load_library

            self._library = load_library()
        match = self._library.match_pjlink(manufacturer, model, pjlink_class)
        rated = getattr(match.profile, "rated_watts", None) if match is not None else None
        if rated is None:
            return None, None
        standby = rated.networked_standby if rated.networked_standby is not None else rated.standby
        return rated.on, standby or 0.0
