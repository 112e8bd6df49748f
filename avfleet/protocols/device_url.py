"""Device URLs of DESIGN.md, parsed once into typed targets.

    pjlink://[:PASSWORD@]HOST[:PORT]
    snmp://[COMMUNITY@]HOST[:PORT][?profile=NAME]
    snmp://USER@HOST[:PORT]?auth=SHA&auth_key=..&priv=AES&priv_key=..[&profile=NAME]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

PJLINK_PORT = 4352
SNMP_PORT = 161

SNMP_AUTH_PROTOCOLS = ("MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512")
SNMP_PRIV_PROTOCOLS = ("DES", "3DES", "AES", "AES128", "AES192", "AES256")


class DeviceUrlError(ValueError):
    """A device URL that cannot be used; the message says what is wrong and how to write it."""


@dataclass(frozen=True)
class PJLinkTarget:
    host: str
    port: int = PJLINK_PORT
    password: str | None = field(default=None, repr=False)

    @property
    def scheme(self) -> str:
        return "pjlink"

    def redacted(self) -> str:
        auth = ":***@" if self.password else ""
        return f"pjlink://{auth}{self.host}:{self.port}"


@dataclass(frozen=True)
class SnmpV3Credentials:
    user: str
    auth_protocol: str | None = None
    auth_key: str | None = field(default=None, repr=False)
    priv_protocol: str | None = None
    priv_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SnmpTarget:
    host: str
    port: int = SNMP_PORT
    community: str | None = field(default="public", repr=False)
    v3: SnmpV3Credentials | None = None
    profile: str | None = None

    @property
    def scheme(self) -> str:
        return "snmp"

    def redacted(self) -> str:
        who = f"{self.v3.user}@" if self.v3 else "***@"
        query = f"?profile={self.profile}" if self.profile else ""
        return f"snmp://{who}{self.host}:{self.port}{query}"


DeviceTarget = PJLinkTarget | SnmpTarget

_EXAMPLES = (
    "pjlink://[:PASSWORD@]HOST[:PORT] or snmp://[COMMUNITY@]HOST[:PORT][?profile=NAME] "
    "or snmp://USER@HOST?auth=SHA&auth_key=..&priv=AES&priv_key=.."
)


def _port(parts, default: int, url: str) -> int:
    try:
        port = parts.port
    except ValueError:
        raise DeviceUrlError(f"{_safe(url)}: the port is not a number between 0 and 65535") from None
    return default if port is None else port


def _safe(url: str) -> str:
    """The URL with any secret removed, for error messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    host = parts.hostname or ""
    port = f":{parts.port}" if _port_or_none(parts) else ""
    return f"{parts.scheme}://{'***@' if '@' in parts.netloc else ''}{host}{port}"


def _port_or_none(parts) -> int | None:
    try:
        return parts.port
    except ValueError:
        return None


def parse_device_url(url: str, profile: str | None = None) -> DeviceTarget:
    """Parse a device URL. `profile` (from a config file) wins over `?profile=` in the URL."""
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:
        raise DeviceUrlError(f"not a URL ({exc}); expected {_EXAMPLES}") from None
    if not parts.hostname:
        raise DeviceUrlError(f"{_safe(url)}: no host; expected {_EXAMPLES}")
    scheme = parts.scheme.lower()
    if scheme == "pjlink":
        if parts.query:
            raise DeviceUrlError(f"{_safe(url)}: pjlink URLs take no query parameters")
        if parts.username:
            raise DeviceUrlError(
                f"{_safe(url)}: PJLink has no user name; write the password as pjlink://:PASSWORD@HOST"
            )
        password = unquote(parts.password) if parts.password else None
        return PJLinkTarget(host=parts.hostname, port=_port(parts, PJLINK_PORT, url), password=password)
    if scheme == "snmp":
        return _parse_snmp(url, parts, profile)
    raise DeviceUrlError(f"unknown scheme {parts.scheme!r}; expected {_EXAMPLES}")


def _parse_snmp(url: str, parts, profile: str | None) -> SnmpTarget:
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    known = {"profile", "auth", "auth_key", "priv", "priv_key"}
    unknown = sorted(set(query) - known)
    if unknown:
        raise DeviceUrlError(f"{_safe(url)}: unknown parameter(s) {', '.join(unknown)}; known: {sorted(known)}")
    chosen_profile = profile or query.get("profile") or None
    port = _port(parts, SNMP_PORT, url)
    user = unquote(parts.username) if parts.username else None
    if parts.password:
        raise DeviceUrlError(f"{_safe(url)}: SNMP URLs take COMMUNITY@ or USER@, not USER:PASSWORD@")
    is_v3 = any(k in query for k in ("auth", "auth_key", "priv", "priv_key"))
    if not is_v3:
        return SnmpTarget(host=parts.hostname, port=port, community=user or "public", profile=chosen_profile)
    if not user:
        raise DeviceUrlError(f"{_safe(url)}: SNMPv3 needs a user name: snmp://USER@HOST?auth=SHA&auth_key=..")
    auth = query.get("auth", "").upper() or None
    priv = query.get("priv", "").upper() or None
    auth_key = query.get("auth_key") or None
    priv_key = query.get("priv_key") or None
    if auth and auth not in SNMP_AUTH_PROTOCOLS:
        raise DeviceUrlError(f"{_safe(url)}: auth={auth} unknown; use one of {', '.join(SNMP_AUTH_PROTOCOLS)}")
    if priv and priv not in SNMP_PRIV_PROTOCOLS:
        raise DeviceUrlError(f"{_safe(url)}: priv={priv} unknown; use one of {', '.join(SNMP_PRIV_PROTOCOLS)}")
    if bool(auth) != bool(auth_key):
        raise DeviceUrlError(f"{_safe(url)}: auth and auth_key go together")
    if bool(priv) != bool(priv_key):
        raise DeviceUrlError(f"{_safe(url)}: priv and priv_key go together")
    if priv and not auth:
        raise DeviceUrlError(f"{_safe(url)}: privacy (priv) needs authentication (auth) too")
    for name, key in (("auth_key", auth_key), ("priv_key", priv_key)):
        if key is not None and len(key) < 8:
            raise DeviceUrlError(f"{_safe(url)}: {name} must be at least 8 characters (RFC 3414)")
    creds = SnmpV3Credentials(user, auth, auth_key, priv, priv_key)
    return SnmpTarget(host=parts.hostname, port=port, community=None, v3=creds, profile=chosen_profile)
