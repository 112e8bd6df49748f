"""Commands from the controller: checked, run at most once, always answered.

Order of checks for each message on the agent's `cmd` topic:
1. not JSON, nested deeper than MAX_JSON_DEPTH (checked on the bytes before parsing: json.loads
   would recurse and raise RecursionError on 200,000 brackets), or not a valid Command (unknown
   action, missing field) → `rejected`, with the command_id when the top level still names one;
2. a `command_id` seen before (persisted in the outbox database) → not run again; the first run's
   result is sent again, marked as a duplicate (nothing is sent while the first run is still going);
3. expired (`expires_at` in the past) → `expired`; `issued_at` after `expires_at` → `rejected`;
4. unknown device, missing or wrong arguments, or an outlet that feeds a projector that is on,
   warming, cooling or of unknown power → `rejected`;
5. run: a device that is busy (`CommandRetryable`, e.g. power off while a projector warms up) is
   retried every `retry_interval_s` until the command expires (then `expired`); a device refusal
   is `failed`; success is `done`, and the device is polled at once so its new state follows.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from avfleet.agent.config import AgentConfig
from avfleet.agent.coordinator import DeviceCoordinator
from avfleet.agent.outbox import Outbox
from avfleet.protocols.errors import CommandError, CommandRetryable, CommandUnsupported
from avfleet.protocols.mqtt.payloads import Action, Command, CommandStatus
from avfleet.protocols.status import Kind, Power

log = logging.getLogger("avfleet.agent.commands")

UNKNOWN_ID = "unknown"
MAX_JSON_DEPTH = 16  # a command is {…, "args": {…}}: three levels; 16 leaves room and bounds the parse
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_PAIR = re.compile(rb'"((?:[^"\\]|\\.)*)"\s*:\s*"((?:[^"\\]|\\.)*)"', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_SQUARE = bytes.maketrans(b"{}", b"[]")  # for depth, an object is a bracket like an array
_NOT_SAFE_TO_CUT = (Power.on, Power.warming, Power.cooling, Power.unknown)


class CommandRejected(Exception):
    """The command is not acceptable as sent; never executed."""


Reply = Callable[[str, str | None, CommandStatus, str | None], None]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class CommandHandler:
    def __init__(
        self,
        config: AgentConfig,
        outbox: Outbox,
        coordinators: dict[str, DeviceCoordinator],
        reply: Reply,
        refresh_all: Callable[[], Awaitable[None]],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.coordinators = coordinators
        self._reply = reply
        self._refresh_all = refresh_all
        self._clock = clock
        self._tasks: set[asyncio.Task] = set()
        # (command_id, device_id, action) of the last attempts actually sent to devices, for diagnostics
        self.executed: deque[tuple[str, str, str]] = deque(maxlen=1000)

    # ---- entry point --------------------------------------------------------------------------

    def handle_raw(self, payload: bytes) -> None:
        """Called on the event loop for each message on the cmd topic; never raises."""
        try:
            command = self._parse(payload)
        except Exception as exc:  # CommandRejected, or a surprise: either way the sender gets an answer
            reason = str(exc) if isinstance(exc, CommandRejected) else f"unreadable command ({type(exc).__name__})"
            try:
                command_id, device_id = self._ids_from_raw(payload)
            except Exception:
                command_id, device_id = UNKNOWN_ID, None
            log.warning("rejected malformed command %s: %s", command_id, reason)
            self._answer(command_id, device_id, CommandStatus.rejected, reason, record=False)
            return
        task = asyncio.create_task(self._handle(command), name=f"cmd-{command.command_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ---- checks -------------------------------------------------------------------------------

    @staticmethod
    def _parse(payload: bytes) -> Command:
        too_deep, _ = _scan_json(payload, MAX_JSON_DEPTH)
        if too_deep:
            raise CommandRejected(f"not a command: JSON nested deeper than {MAX_JSON_DEPTH} levels")
        try:
            data = json.loads(payload)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise CommandRejected(f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise CommandRejected("a command is a JSON object")
        try:
            return Command.model_validate(data)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "payload"
            raise CommandRejected(f"invalid command: {where}: {first.get('msg')}") from None

    @staticmethod
    def _ids_from_raw(payload: bytes) -> tuple[str, str | None]:
        too_deep, top = _scan_json(payload, MAX_JSON_DEPTH)
        if too_deep:
            data: Any = top  # the top level's string members, read without parsing the deep part
        else:
            try:
                data = json.loads(payload)
            except (ValueError, RecursionError):
                return UNKNOWN_ID, None
        if not isinstance(data, dict):
            return UNKNOWN_ID, None
        command_id = data.get("command_id")
        device_id = data.get("device_id")
        ok_id = isinstance(command_id, str) and 0 < len(command_id) <= 64
        from avfleet.protocols.mqtt.topics import is_valid_id

        ok_dev = isinstance(device_id, str) and is_valid_id(device_id)
        return (command_id if ok_id else UNKNOWN_ID), (device_id if ok_dev else None)

    def _check(self, command: Command) -> DeviceCoordinator | None:
        now = self._clock()
        if _aware(command.expires_at) <= now:
            raise _Expired(f"expired at {_aware(command.expires_at).isoformat()}")
        if _aware(command.issued_at) > _aware(command.expires_at):
            raise CommandRejected("issued_at is after expires_at")
        if command.device_id is None:
            if command.action != Action.refresh:
                raise CommandRejected(f"{command.action.value} needs a device_id")
            return None
        coordinator = self.coordinators.get(command.device_id)
        if coordinator is None:
            raise CommandRejected(f"unknown device {command.device_id!r} on this agent")
        _check_args(command.action, command.args)
        if command.action == Action.power_off and "outlet" in command.args:
            self._check_outlet(command.device_id, int(command.args["outlet"]))
        return coordinator

    def _check_outlet(self, device_id: str, outlet: int) -> None:
        device = self.config.device(device_id)
        fed = device.feeds.get(outlet) if device else None
        if fed is None:
            return
        fed_coordinator = self.coordinators.get(fed)
        fed_device = self.config.device(fed)
        is_projector = (fed_device and fed_device.kind in (None, Kind.projector)) or (
            fed_coordinator is not None and fed_coordinator.reported is not None
            and fed_coordinator.reported.kind == Kind.projector
        )
        if not is_projector:
            return
        power = fed_coordinator.reported.power if fed_coordinator and fed_coordinator.reported else Power.unknown
        if power in _NOT_SAFE_TO_CUT:
            raise CommandRejected(
                f"outlet {outlet} feeds projector {fed!r} whose power is {power.value}; cutting it could damage "
                "the lamp (turn the projector off and let it cool first)"
            )

    # ---- running ------------------------------------------------------------------------------

    async def _handle(self, command: Command) -> None:
        cid, dev = command.command_id, command.device_id
        try:
            previous = self.outbox.command_record(cid)
            if previous is not None or not self.outbox.command_started(cid, self.config.commands.seen_ids_kept):
                previous = previous or self.outbox.command_record(cid)
                if previous is None or previous.status is None:
                    log.info("command %s is already running; duplicate ignored", cid)
                    return
                log.info("duplicate command %s not run again", cid)
                self._reply(cid, dev, CommandStatus(previous.status),
                            f"duplicate command_id, not run again; first result: {previous.detail or previous.status}")
                return
            try:
                coordinator = self._check(command)
            except _Expired as exc:
                self._answer(cid, dev, CommandStatus.expired, str(exc))
                return
            except CommandRejected as exc:
                self._answer(cid, dev, CommandStatus.rejected, str(exc))
                return
            status, detail = await self._run(command, coordinator)
            self._answer(cid, dev, status, detail)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("command %s failed unexpectedly", cid)
            self._answer(cid, dev, CommandStatus.failed, f"agent error: {type(exc).__name__}")

    async def _run(self, command: Command, coordinator: DeviceCoordinator | None) -> tuple[CommandStatus, str | None]:
        if command.action == Action.refresh:
            if coordinator is None:
                await self._refresh_all()
                return CommandStatus.done, "birth and every device state sent again"
            await coordinator.poll_now(force_publish=True)
            return CommandStatus.done, "state polled and sent"
        if coordinator is None:
            raise CommandRejected(f"{command.action.value} needs a device_id")
        retry = self.config.commands.retry_interval_s
        attempts = 0
        while True:
            attempts += 1
            try:
                self.executed.append((command.command_id, coordinator.device_id, command.action.value))
                await coordinator.execute(command.action.value, dict(command.args))
            except CommandRetryable as exc:
                remaining = (_aware(command.expires_at) - self._clock()).total_seconds()
                if remaining <= retry:
                    return CommandStatus.expired, f"device stayed busy until the command expired: {exc}"
                log.info("%s: %s busy (%s); retrying in %.0f s", coordinator.device_id, command.action.value,
                         exc, retry)
                await asyncio.sleep(retry)
                continue
            except CommandUnsupported as exc:
                return CommandStatus.failed, f"not supported by the device: {exc}"
            except CommandError as exc:
                return CommandStatus.failed, str(exc) or type(exc).__name__
            coordinator.poke(force_publish=True)
            return CommandStatus.done, None if attempts == 1 else f"done after {attempts} attempts"

    def _answer(self, command_id: str, device_id: str | None, status: CommandStatus, detail: str | None,
                *, record: bool = True) -> None:
        if record:
            try:
                self.outbox.command_finished(command_id, status.value, detail)
            except Exception:
                log.exception("cannot record the result of command %s", command_id)
        self._reply(command_id, device_id, status, detail)


class _Expired(Exception):
    pass


def _scan_json(payload: bytes, max_depth: int) -> tuple[bool, dict[str, str]]:
    """(nested deeper than max_depth?, the top-level object's string members) without recursion.

    Strings are masked first (a bracket inside one does not count), so the depth walk sees brackets
    only and stops at the first level too deep. An ordinary command has a handful of brackets and
    takes the fast path. Top-level members are read only for a payload too deep to parse.
    """
    if payload.count(b"[") + payload.count(b"{") <= max_depth:
        return False, {}
    starts: set[int] = set()

    def mask(match: re.Match[bytes]) -> bytes:
        starts.add(match.start())
        return b'"' + b"_" * (len(match.group(0)) - 2) + b'"'

    masked = _STRING.sub(mask, payload)
    # Peel innermost pairs: each pass is one level, at C speed; brackets left over after
    # max_depth passes mean deeper nesting (or more unclosed brackets than any command needs).
    brackets = masked.translate(_SQUARE, _NOT_BRACKET)
    for _ in range(max_depth):
        peeled = brackets.replace(b"[]", b"")
        if peeled == brackets:
            break
        brackets = peeled
    too_deep = b"[]" in brackets or brackets.count(b"[") > max_depth
    top: dict[str, str] = {}
    if too_deep:
        for start in sorted(starts)[:64]:
            match = _PAIR.match(payload, start)
            if match is None:
                continue
            before = masked[:start]
            if before.count(b"{") + before.count(b"[") - before.count(b"}") - before.count(b"]") != 1:
                continue
            try:
                top.setdefault(json.loads(b'"' + match.group(1) + b'"'), json.loads(b'"' + match.group(2) + b'"'))
            except ValueError:
                continue
    return too_deep, top


def _check_args(action: Action, args: dict[str, Any]) -> None:
    allowed: dict[Action, set[str]] = {
        Action.power_on: {"outlet"},
        Action.power_off: {"outlet"},
        Action.set_input: {"input"},
        Action.av_mute: {"on", "channel"},
        Action.refresh: set(),
    }
    extra = set(args) - allowed[action]
    if extra:
        raise CommandRejected(f"{action.value} takes no argument(s) {', '.join(sorted(extra))}")
    if "outlet" in args and (not isinstance(args["outlet"], int) or isinstance(args["outlet"], bool)):
        raise CommandRejected("outlet must be an integer")
    if action == Action.set_input:
        value = args.get("input")
        if not isinstance(value, str) or not value.strip():
            raise CommandRejected("set_input needs args.input, e.g. {\"input\": \"31\"}")
    if action == Action.av_mute:
        if not isinstance(args.get("on"), bool):
            raise CommandRejected('av_mute needs args.on: true or false (and optionally "channel": video|audio|both)')
        if args.get("channel", "both") not in ("video", "audio", "both"):
            raise CommandRejected('av_mute args.channel must be "video", "audio" or "both"')
