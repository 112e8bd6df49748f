"""SNMP errors, typed by what the caller can do about them.

Two channels reach us from pysnmp: the *error indication* (transport and security: no answer,
wrong key, unknown user) and the PDU *error status* (the agent answered but refused a varbind).
Both are turned into the classes below in `client.py`, so no pysnmp type leaves this package.

Wrong community versus dead host: an SNMPv1/v2c agent silently drops a request whose community it
does not know (RFC 3584 §4; net-snmp and snmpsim both do), so on the wire a wrong community *is*
a timeout. The client cannot tell them apart from one request; it raises `SnmpTimeout`. Whoever
knows more (the host answered before, or answers ICMP/PJLink) may word it as "no answer (wrong
community?)", which is what the poller does. SNMPv3 is different: a wrong auth key comes back as a
`usmStatsWrongDigests` report, a wrong privacy key as `usmStatsDecryptionErrors`, an unknown user
as `usmStatsUnknownUserNames`: those raise `SnmpAuthError`.
"""

from __future__ import annotations


class SnmpError(Exception):
    """Base of every SNMP failure raised by `avfleet.protocols.snmp`."""


class SnmpTimeout(SnmpError):
    """No answer within timeout x (retries + 1): host down, filtered, or (v1/v2c) a wrong community.

    Retry later; do not treat as "powered off".
    """


class SnmpAuthError(SnmpError):
    """SNMPv3 security failure (wrong auth or privacy key, unknown user, unsupported level).

    Re-configure the credentials; retrying with the same ones will not help.
    """


class SnmpProtocolError(SnmpError):
    """The engine could not complete the exchange for another reason (malformed reply, too big...)."""


class SnmpPduError(SnmpError):
    """The agent answered with an error status for one varbind."""

    def __init__(self, message: str, *, status: str, oid: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.oid = oid


class SnmpNoSuchObject(SnmpPduError):
    """The object is not there (noSuchObject/noSuchInstance/endOfMibView, or v1 noSuchName).

    A reading the device does not support: not an outage.
    """


class SnmpWrongType(SnmpPduError):
    """A SET carried a value of the wrong ASN.1 type, length or encoding for that object."""


class SnmpBadValue(SnmpPduError):
    """A SET value of the right type that the agent refused (wrongValue, inconsistentValue, badValue)."""


class SnmpNotWritable(SnmpPduError):
    """A SET on an object that is read-only or not accessible (notWritable, readOnly, noAccess, noCreation)."""


class SnmpAgentError(SnmpPduError):
    """Any other error status (genErr, resourceUnavailable, commitFailed...): the agent failed; retry later."""
