"""Device URLs of DESIGN.md, parsed once into typed targets.

    pjlink://[:PASSWORD@]HOST[:PORT]
    snmp://[COMMUNITY@]HOST[:PORT][?profile=NAME]
    snmp://USER@HOST[:PORT]?auth=SHA&auth_key=..&priv=AES&priv_key=..[&profile=NAME]

A URL is read whole or refused: trailing garbage (a path, a fragment, a second `@`), a bad or
empty port, bad percent-encoding, a space or control character, or a parameter given twice is an
error, never silently cut off (Python's urlsplit drops tabs and newlines, ignores a path and keeps
the last of two parameters; none of that may decide which device the agent talks to).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

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
        raise DeviceUrlError(f"{_safe(url)}: the port is not a number between 1 and 65535") from None
    if port is None and parts.netloc.endswith(":"):
        raise DeviceUrlError(f"{_safe(url)}: empty port after ':'; write HOST:PORT or leave the port out")
    if port == 0:
        raise DeviceUrlError(f"{_safe(url)}: the port is not a number between 1 and 65535")
    return default if port is None else port


_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_.])?$")


def _decode(text: str, what: str, url: str) -> str:
    """Percent-decode one part strictly: every % takes two hex digits, and the bytes are UTF-8."""
    if _PERCENT.search(text):
        raise DeviceUrlError(f"{_safe(url)}: bad percent-encoding in the {what} (% takes two hex digits)")
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise DeviceUrlError(f"{_safe(url)}: the {what} is not UTF-8 once percent-decoded") from None


def _check_whole(url: str, parts) -> None:
    """Refuse anything urlsplit would drop or ignore."""
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        raise DeviceUrlError(f"{_safe(url)}: a space or control character in the URL (percent-encode it)")
    if not url.isascii():
        raise DeviceUrlError(
            f"{_safe(url)}: a character outside ASCII in the URL (percent-encode it; a host name in its xn-- form)"
        )
    if parts.path not in ("", "/"):
        raise DeviceUrlError(f"{_safe(url)}: unexpected text after the host and port ({parts.path[:20]!r})")
    if parts.fragment or "#" in url:
        raise DeviceUrlError(f"{_safe(url)}: a device URL takes no #fragment")
    if parts.netloc.count("@") > 1:
        raise DeviceUrlError(f"{_safe(url)}: more than one '@'; percent-encode an @ in a password as %40")
    host = parts.netloc.rpartition("@")[2]
    if host.startswith("["):
        inner, sep, rest = host[1:].partition("]")
        try:
            ipaddress.IPv6Address(inner)
        except ValueError:
            raise DeviceUrlError(f"{_safe(url)}: {inner!r} in brackets is not an IPv6 address") from None
        if not sep or (rest and not rest.startswith(":")):
            raise DeviceUrlError(f"{_safe(url)}: unexpected text after the IPv6 address")
    else:
        name = host.rpartition(":")[0] if ":" in host else host
        if not _HOSTNAME.match(name):
            raise DeviceUrlError(f"{_safe(url)}: {name!r} is not a host name or IP address")


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


def check_community(value: str, where: str = "community") -> None:
    """An SNMP community or v3 user name must be sendable: pysnmp sends it as Latin-1 octets, so a
    character beyond U+00FF (or a NUL) would fail deep inside a request; refuse it here instead."""
    try:
        encoded = value.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise DeviceUrlError(
            f"{where}: the community or user name holds {value[exc.start]!r}, which SNMP cannot send "
            "(only characters up to U+00FF)"
        ) from None
    if not encoded or b"\x00" in encoded:
        raise DeviceUrlError(f"{where}: the community or user name is empty or holds a NUL")


def parse_device_url(url: str, profile: str | None = None) -> DeviceTarget:
    """Parse a device URL. `profile` (from a config file) wins over `?profile=` in the URL."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise DeviceUrlError(f"not a URL ({exc}); expected {_EXAMPLES}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("pjlink", "snmp"):
        raise DeviceUrlError(f"unknown scheme {parts.scheme!r}; expected {_EXAMPLES}")
    if not parts.hostname:
        raise DeviceUrlError(f"{_safe(url)}: no host; expected {_EXAMPLES}")
    _check_whole(url, parts)
    if scheme == "pjlink":
        if parts.query:
            raise DeviceUrlError(f"{_safe(url)}: pjlink URLs take no query parameters")
        if parts.username:
            raise DeviceUrlError(
                f"{_safe(url)}: PJLink has no user name; write the password as pjlink://:PASSWORD@HOST"
            )
        password = _decode(parts.password, "password", url) if parts.password else None
        return PJLinkTarget(host=parts.hostname, port=_port(parts, PJLINK_PORT, url), password=password)
    if scheme == "snmp":
        return _parse_snmp(url, parts, profile)
    raise DeviceUrlError(f"unknown scheme {parts.scheme!r}; expected {_EXAMPLES}")


def _parse_snmp(url: str, parts, profile: str | None) -> SnmpTarget:
    known = {"profile", "auth", "auth_key", "priv", "priv_key"}
    query: dict[str, str] = {}
    for item in parts.query.split("&") if parts.query else ():
        key, sep, value = item.partition("=")
        if not key or not sep:
            raise DeviceUrlError(f"{_safe(url)}: query part {_decode(key, 'query', url)[:20]!r} is not NAME=VALUE")
        key = _decode(key, "query", url)
        if key in query:
            raise DeviceUrlError(f"{_safe(url)}: parameter {key} given twice")
        query[key] = _decode(value.replace("+", " "), f"parameter {key}", url)
    unknown = sorted(set(query) - known)
    if unknown:
        raise DeviceUrlError(f"{_safe(url)}: unknown parameter(s) {', '.join(unknown)}; known: {sorted(known)}")
    chosen_profile = profile or query.get("profile") or None
    port = _port(parts, SNMP_PORT, url)
    user = _decode(parts.username, "community or user name", url) if parts.username else None
    if user is not None:
        check_community(user, _safe(url))
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
