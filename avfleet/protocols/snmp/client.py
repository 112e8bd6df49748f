"""Asyncio SNMP client on pysnmp 7 (`pysnmp.hlapi.v3arch.asyncio`).

`SnmpEngineContext` owns the one pysnmp engine of an event loop (an engine costs ~0.45 s to build,
caches v3 engine-ID discovery, and hangs when used from another loop). Make one per process/loop,
hand it to every `SnmpClient`/poller, close it at shutdown (an agent does this through
`avfleet.protocols.snmp.shared.SnmpShared`, which also shares the profile library):

    async with SnmpEngineContext() as snmp:
        client = snmp.client(target)
        values = await client.get("1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0")

Reads use numeric OIDs with MIB lookup off, `timeout=1.5, retries=1` by default (a dead host fails
in ~3 s, not pysnmp's 6.4 s), and walks are bounded three ways: `lexicographicMode=False` (stop at
the end of the subtree), a row cap, and an overall deadline, and they stop on the first error
indication (pysnmp's bulk walk otherwise retries a dead host for ever).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    bulk_walk_cmd,
    get_cmd,
    set_cmd,
    walk_cmd,
)
from pysnmp.hlapi.v3arch.asyncio import auth as _auth
from pysnmp.proto import errind

from avfleet.protocols.device_url import SnmpTarget
from avfleet.protocols.snmp.errors import (
    SnmpAgentError,
    SnmpAuthError,
    SnmpBadValue,
    SnmpError,
    SnmpNoSuchObject,
    SnmpNotWritable,
    SnmpPduError,
    SnmpProtocolError,
    SnmpTimeout,
    SnmpWrongType,
)
from avfleet.protocols.snmp.values import SnmpScalar, is_absent, to_python, to_snmp

DEFAULT_TIMEOUT = 1.5
DEFAULT_RETRIES = 1
DEFAULT_MAX_ROWS = 20_000
# Agents refuse or truncate very large PDUs (snmpsim answers at most 64 varbinds); split GETs.
MAX_VARBINDS_PER_GET = 40
MAX_CACHED_VARBINDS = 100_000

_AUTH_PROTOCOLS = {
    "MD5": _auth.USM_AUTH_HMAC96_MD5,
    "SHA": _auth.USM_AUTH_HMAC96_SHA,
    "SHA224": _auth.USM_AUTH_HMAC128_SHA224,
    "SHA256": _auth.USM_AUTH_HMAC192_SHA256,
    "SHA384": _auth.USM_AUTH_HMAC256_SHA384,
    "SHA512": _auth.USM_AUTH_HMAC384_SHA512,
}
_PRIV_PROTOCOLS = {
    "DES": _auth.USM_PRIV_CBC56_DES,
    "3DES": _auth.USM_PRIV_CBC168_3DES,
    "AES": _auth.USM_PRIV_CFB128_AES,
    "AES128": _auth.USM_PRIV_CFB128_AES,
    "AES192": _auth.USM_PRIV_CFB192_AES,
    "AES256": _auth.USM_PRIV_CFB256_AES,
}

# Error indications that mean "these credentials will not work" (v3 USM reports).
_AUTH_INDICATIONS = (
    errind.WrongDigest,
    errind.DecryptionError,
    errind.UnknownUserName,
    errind.UnknownSecurityName,
    errind.UnsupportedSecurityLevel,
    errind.AuthenticationError,
    errind.AuthenticationFailure,
    errind.UnsupportedAuthProtocol,
    errind.UnsupportedPrivProtocol,
    errind.NoAuthentication,
    errind.NoEncryption,
)

# RFC 3416 error-status values, by what the caller can do about them.
_PDU_ERRORS: dict[int, tuple[str, type[SnmpPduError]]] = {
    1: ("tooBig", SnmpAgentError),
    2: ("noSuchName", SnmpNoSuchObject),
    3: ("badValue", SnmpBadValue),
    4: ("readOnly", SnmpNotWritable),
    5: ("genErr", SnmpAgentError),
    6: ("noAccess", SnmpNotWritable),
    7: ("wrongType", SnmpWrongType),
    8: ("wrongLength", SnmpWrongType),
    9: ("wrongEncoding", SnmpWrongType),
    10: ("wrongValue", SnmpBadValue),
    11: ("noCreation", SnmpNotWritable),
    12: ("inconsistentValue", SnmpBadValue),
    13: ("resourceUnavailable", SnmpAgentError),
    14: ("commitFailed", SnmpAgentError),
    15: ("undoFailed", SnmpAgentError),
    16: ("authorizationError", SnmpNotWritable),
    17: ("notWritable", SnmpNotWritable),
    18: ("inconsistentName", SnmpNotWritable),
}


def normalize_oid(oid: str) -> str:
    """'.1.3.6.1' and '1.3.6.1' are the same OID; reject anything that is not dotted numbers."""
    text = oid.strip().lstrip(".")
    parts = text.split(".")
    if not text or not all(p.isdigit() for p in parts):
        raise ValueError(f"not a numeric OID: {oid!r} (write it as dotted numbers, e.g. 1.3.6.1.2.1.1.1.0)")
    return ".".join(str(int(p)) for p in parts)


def oid_in_subtree(oid: str, root: str) -> bool:
    return oid == root or oid.startswith(root + ".")


def _raise_for_indication(indication: object, target: SnmpTarget, timeout: float, retries: int) -> None:
    where = f"{target.host}:{target.port}"
    if isinstance(indication, errind.RequestTimedOut):
        raise SnmpTimeout(f"no answer from {where} within {timeout:g} s x {retries + 1} tries")
    if isinstance(indication, _AUTH_INDICATIONS):
        raise SnmpAuthError(f"{where} refused the SNMPv3 credentials: {indication}")
    raise SnmpProtocolError(f"{where}: {indication}")


def _raise_for_status(status: object, index: object, binds: list, oids: list[str]) -> None:
    code = int(status)
    position = int(index) - 1 if index else -1
    oid = oids[position] if 0 <= position < len(oids) else None
    name, cls = _PDU_ERRORS.get(code, (f"error-status {code}", SnmpAgentError))
    raise cls(f"agent answered {name}" + (f" for {oid}" if oid else ""), status=name, oid=oid)


class SnmpClient:
    """Requests to one SNMP agent. Cheap to create; the transport is made on first use."""

    def __init__(
        self,
        context: SnmpEngineContext,
        target: SnmpTarget,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        context_name: str = "",
    ) -> None:
        if timeout <= 0 or retries < 0:
            raise ValueError("timeout must be > 0 and retries >= 0")
        self._context = context
        self.target = target
        self.timeout = timeout
        self.retries = retries
        self._auth = self._auth_data(target)
        self._context_data = ContextData(contextName=context_name.encode())
        self._transport: UdpTransportTarget | None = None

    def __repr__(self) -> str:
        return f"SnmpClient({self.target.redacted()}, timeout={self.timeout}, retries={self.retries})"

    @property
    def worst_case_seconds(self) -> float:
        """How long one request can take to fail."""
        return self.timeout * (self.retries + 1)

    @staticmethod
    def _auth_data(target: SnmpTarget) -> Any:
        if target.v3 is None:
            return CommunityData(target.community or "public", mpModel=1)
        v3 = target.v3
        kwargs: dict[str, Any] = {}
        if v3.auth_protocol:
            kwargs["authKey"] = v3.auth_key
            kwargs["authProtocol"] = _AUTH_PROTOCOLS[v3.auth_protocol]
        if v3.priv_protocol:
            kwargs["privKey"] = v3.priv_key
            kwargs["privProtocol"] = _PRIV_PROTOCOLS[v3.priv_protocol]
        return UsmUserData(v3.user, **kwargs)

    async def _target(self) -> UdpTransportTarget:
        if self._transport is None:
            try:
                self._transport = await UdpTransportTarget.create(
                    (self.target.host, self.target.port), timeout=self.timeout, retries=self.retries
                )
            except Exception as exc:  # pysnmp raises its own error for unresolvable names
                raise SnmpTimeout(f"cannot resolve {self.target.host}: {exc}") from exc
        return self._transport

    async def get(self, *oids: str) -> dict[str, SnmpScalar]:
        """Read scalars; a missing object reads as None (a v2c/v3 agent says noSuchObject/noSuchInstance)."""
        wanted = [normalize_oid(o) for o in oids]
        result: dict[str, SnmpScalar] = {}
        for start in range(0, len(wanted), MAX_VARBINDS_PER_GET):
            chunk = wanted[start : start + MAX_VARBINDS_PER_GET]
            result.update(await self._get_chunk(chunk))
        return result

    async def _get_chunk(self, oids: list[str]) -> dict[str, SnmpScalar]:
        engine = self._context.engine
        target = await self._target()
        indication, status, index, binds = await get_cmd(
            engine,
            self._auth,
            target,
            self._context_data,
            *(self._context.object_type(o) for o in oids),
            lookupMib=False,
        )
        if indication:
            _raise_for_indication(indication, self.target, self.timeout, self.retries)
        if status:
            _raise_for_status(status, index, binds, oids)
        return {oid: to_python(value) for oid, (_, value) in zip(oids, binds, strict=False)}

    async def get_value(self, oid: str) -> int | str | bytes:
        """One object that must exist; raises SnmpNoSuchObject otherwise."""
        key = normalize_oid(oid)
        value = (await self.get(key))[key]
        if value is None:
            raise SnmpNoSuchObject(f"{self.target.host} has no object {key}", status="noSuchObject", oid=key)
        return value

    async def walk(
        self, oid: str, *, max_rows: int = DEFAULT_MAX_ROWS, deadline: float | None = None
    ) -> list[tuple[str, SnmpScalar]]:
        """GETNEXT walk of one subtree (for v1 agents or agents with a broken GETBULK)."""
        return await self._walk(oid, bulk=False, max_rows=max_rows, deadline=deadline, max_repetitions=0)

    async def bulk_walk(
        self,
        oid: str,
        *,
        max_repetitions: int = 25,
        max_rows: int = DEFAULT_MAX_ROWS,
        deadline: float | None = None,
    ) -> list[tuple[str, SnmpScalar]]:
        """GETBULK walk of one subtree: [(oid, value)] in agent order, at most `max_rows` rows.

        `deadline` bounds the whole walk in seconds (default: room for every request of a full walk
        to time out once, at least 10 s).
        """
        return await self._walk(
            oid, bulk=True, max_rows=max_rows, deadline=deadline, max_repetitions=max_repetitions
        )

    async def _walk(
        self, oid: str, *, bulk: bool, max_rows: int, deadline: float | None, max_repetitions: int
    ) -> list[tuple[str, SnmpScalar]]:
        root = normalize_oid(oid)
        if max_rows <= 0:
            raise ValueError("max_rows must be positive")
        if deadline is None:
            per_call = max(1, max_repetitions)
            deadline = max(10.0, self.worst_case_seconds + 0.002 * max_rows + 0.05 * math.ceil(max_rows / per_call))
        try:
            return await asyncio.wait_for(self._walk_rows(root, bulk, max_rows, max_repetitions), deadline)
        except TimeoutError:
            raise SnmpTimeout(f"walk of {root} on {self.target.host} did not finish within {deadline:g} s") from None

    async def _walk_rows(
        self, root: str, bulk: bool, max_rows: int, max_repetitions: int
    ) -> list[tuple[str, SnmpScalar]]:
        engine = self._context.engine
        target = await self._target()
        start = ObjectType(ObjectIdentity(root))
        common = {"lexicographicMode": False, "lookupMib": False, "maxRows": max_rows}
        if bulk:
            generator = bulk_walk_cmd(
                engine, self._auth, target, self._context_data, 0, max_repetitions, start, **common
            )
        else:
            generator = walk_cmd(engine, self._auth, target, self._context_data, start, **common)
        rows: list[tuple[str, SnmpScalar]] = []
        try:
            async for indication, status, index, binds in generator:
                if indication:
                    # Mandatory break: on a dead host pysnmp's walk yields timeouts for ever.
                    _raise_for_indication(indication, self.target, self.timeout, self.retries)
                if status:
                    if int(status) == 2:  # v1 noSuchName: the end of the MIB view
                        break
                    _raise_for_status(status, index, binds, [root])
                for name, value in binds:
                    oid = str(name)
                    if is_absent(value) or not oid_in_subtree(oid, root):
                        return rows
                    rows.append((oid, to_python(value)))
                    if len(rows) >= max_rows:
                        return rows
        finally:
            await generator.aclose()
        return rows

    async def set(self, oid: str, value: int | str | bytes, type_name: str = "integer") -> SnmpScalar:
        """SET one object to a typed value ('integer', 'unsigned', 'string', 'hex', 'oid', ...).

        Returns the value the agent echoed. Raises SnmpWrongType, SnmpNotWritable, SnmpBadValue,
        SnmpNoSuchObject by the agent's error status.
        """
        key = normalize_oid(oid)
        typed = to_snmp(value, type_name)
        engine = self._context.engine
        target = await self._target()
        indication, status, index, binds = await set_cmd(
            engine, self._auth, target, self._context_data, ObjectType(ObjectIdentity(key), typed), lookupMib=False
        )
        if indication:
            _raise_for_indication(indication, self.target, self.timeout, self.retries)
        if status:
            _raise_for_status(status, index, binds, [key])
        return to_python(binds[0][1]) if binds else None


class SnmpEngineContext:
    """The one pysnmp engine of an event loop, made on first use; `client()` hands out clients on it."""

    def __init__(self) -> None:
        self._engine: SnmpEngine | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._object_types: dict[str, ObjectType] = {}
        # Engines this context has built (1 for its life unless closed and used again): lets tests and
        # benchmarks check that a fleet shares one engine instead of building one per device.
        self.engines_built = 0

    def object_type(self, oid: str) -> ObjectType:
        """A GET varbind for `oid`, kept once pysnmp has resolved it: resolving an OID against the MIB
        view costs far more than the rest of a request, and pysnmp skips it for a resolved varbind."""
        found = self._object_types.get(oid)
        if found is None:
            if len(self._object_types) >= MAX_CACHED_VARBINDS:
                self._object_types.clear()
            found = self._object_types[oid] = ObjectType(ObjectIdentity(oid))
        return found

    @property
    def engine(self) -> SnmpEngine:
        loop = asyncio.get_running_loop()
        if self._engine is None:
            self._engine = SnmpEngine()
            self._loop = loop
            self.engines_built += 1
        elif self._loop is not loop:
            # pysnmp binds its dispatcher to the first loop; from another one requests hang for ever.
            raise RuntimeError("this SnmpEngineContext belongs to another event loop; make one per loop")
        return self._engine

    def client(
        self,
        target: SnmpTarget,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        context_name: str = "",
    ) -> SnmpClient:
        return SnmpClient(self, target, timeout=timeout, retries=retries, context_name=context_name)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close_dispatcher()
            self._engine = None
            self._loop = None

    async def __aenter__(self) -> SnmpEngineContext:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "SnmpClient",
    "SnmpEngineContext",
    "SnmpError",
    "normalize_oid",
    "oid_in_subtree",
]
