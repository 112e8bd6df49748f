"""PJLink exceptions, split by what the caller can do about them.

- `PJLinkUnreachable` (and its `PJLinkTimeout`): try again later; the device may be off the network.
- `PJLinkAuthError`: fix the password; retrying at once only locks the device harder.
- `PJLinkProtocolError`: the device answered something we cannot read; record `raw` and report.
- `PJLinkDeviceError` (ERR1..ERR4): the device understood and refused; the subclass says why.
"""

from __future__ import annotations

from enum import StrEnum


class PJLinkError(Exception):
    """Base of every PJLink failure."""


class PJLinkUnreachable(PJLinkError):
    """No usable connection: refused, reset, closed, or no route."""


class PJLinkTimeout(PJLinkUnreachable):
    """The device did not answer within the deadline (connect, greeting or reply)."""


class PJLinkNoReply(PJLinkTimeout):
    """A connected device did not answer one question in time (it may ignore that question only)."""


class PJLinkAuthError(PJLinkError):
    """Wrong or missing password (`PJLINK ERRA`, or a greeting that asks for one we do not have)."""


class PJLinkProtocolError(PJLinkError):
    """Bytes that do not follow the protocol; `raw` holds them for the record."""

    def __init__(self, message: str, raw: bytes = b"") -> None:
        super().__init__(message)
        self.raw = bytes(raw)

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base} (raw {self.raw[:80]!r})" if self.raw else base


class ErrorCode(StrEnum):
    """The four PJLink error answers (a device-reported error, not a fault)."""

    undefined = "ERR1"
    parameter = "ERR2"
    unavailable = "ERR3"
    failure = "ERR4"


class PJLinkDeviceError(PJLinkError):
    """The device answered a command with ERR1..ERR4."""

    code: ErrorCode | str = ""
    meaning = ""

    def __init__(self, command: str, detail: str | None = None) -> None:
        self.command = command
        super().__init__(detail or f"{command}: {self.code} ({self.meaning})")


class PJLinkUndefinedCommand(PJLinkDeviceError):
    """ERR1: the command does not exist here; for avfleet, the capability is absent."""

    code = ErrorCode.undefined
    meaning = "undefined command / not supported"


class PJLinkParameterError(PJLinkDeviceError):
    """ERR2: the value is out of range (no such input, separate mute not supported...)."""

    code = ErrorCode.parameter
    meaning = "out of parameter"


class PJLinkUnavailable(PJLinkDeviceError):
    """ERR3: not now (standby, warming up, cooling down, busy); a state, and worth a later retry."""

    code = ErrorCode.unavailable
    meaning = "unavailable time"


class PJLinkProjectorFailure(PJLinkDeviceError):
    """ERR4: the device reports a hardware failure; ERST tells which part."""

    code = ErrorCode.failure
    meaning = "projector/display failure"


DEVICE_ERRORS: dict[str, type[PJLinkDeviceError]] = {
    cls.code: cls
    for cls in (PJLinkUndefinedCommand, PJLinkParameterError, PJLinkUnavailable, PJLinkProjectorFailure)
}
