"""Local receivers for notifications: an HTTP webhook inbox, a fake TOPdesk, an SMTP inbox (aiosmtpd).

All listen on 127.0.0.1 on a free port, record what they receive, and can be started late (a
receiver that is down) or made to fail, so tests see retries and deliveries as a receiver would.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.components import free_port


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Server:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self.changed = threading.Condition()
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handle(self, request: Received) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    def start(self) -> _Server:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Received(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                   self.rfile.read(length) if length else b"")
                status, headers, body = server.handle(request)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _any

            def log_message(self, *_args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="test-receiver", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def record(self, request: Received) -> None:
        with self.changed:
            self.received.append(request)
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.received) >= count, timeout):
                raise TimeoutError(f"{type(self).__name__} got {len(self.received)} requests, wanted {count}")
            return list(self.received)


class WebhookInbox(_Server):
    """Answers `status` (200 unless told otherwise) and records every request."""

    def __init__(self, port: int | None = None, status: int = 200) -> None:
        super().__init__(port)
        self.status = status

    def handle(self, request: Received) -> tuple[int, dict[str, str], bytes]:
        self.record(request)
        return self.status, {}, b""


@dataclass
class FakeTopdesk(_Server):
    """The incident endpoints avfleet uses, with their documented shapes and HTTP Basic auth.

    GET  /tas/api/incidents?query=externalNumber=="X"  -> 200 [incident] or 204
    POST /tas/api/incidents                             -> 201 incident (briefDescription <= 80 chars)
    PUT  /tas/api/incidents/id/{id}                     -> 200 incident
    `hold_create` makes the POST create the incident and then wait before answering (a crash window).
    """

    username: str = "avfleet-operator"
    password: str = "app-password-for-tests"
    incidents: dict[str, dict[str, Any]] = field(default_factory=dict)
    hold_create: threading.Event | None = None
    created: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        super().__init__()

    def _authorized(self, request: Received) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return request.headers.get("authorization") == expected

    def handle(self, request: Received) -> tuple[int, dict[str, str], bytes]:
        self.record(request)
        if not self._authorized(request):
            return 401, {}, b'{"message": "unauthorized"}'
        parts = urlsplit(request.path)
        if request.method == "GET" and parts.path == "/tas/api/incidents":
            query = parse_qs(parts.query).get("query", [""])[0]
            found = [i for i in self.incidents.values() if query == f'externalNumber=="{i.get("externalNumber")}"']
            return (200, {"Content-Type": "application/json"}, json.dumps(found).encode()) if found else (204, {}, b"")
        if request.method == "POST" and parts.path == "/tas/api/incidents":
            body = request.json()
            if len(body.get("briefDescription", "")) > 80:
                return 400, {}, b'[{"message": "briefDescription is longer than 80 characters"}]'
            incident = {**body, "id": str(uuid.uuid4()), "number": f"I 2612 {len(self.incidents) + 1:03d}"}
            self.incidents[incident["id"]] = incident
            self.created.set()
            if self.hold_create is not None:
                self.hold_create.wait(30)
            return 201, {"Content-Type": "application/json"}, json.dumps(incident).encode()
        if request.method == "PUT" and parts.path.startswith("/tas/api/incidents/id/"):
            incident = self.incidents.get(parts.path.rsplit("/", 1)[1])
            if incident is None:
                return 404, {}, b'[{"message": "no such incident"}]'
            incident.update(request.json())
            return 200, {"Content-Type": "application/json"}, json.dumps(incident).encode()
        return 404, {}, b""


class SmtpInbox:
    """A real SMTP server (aiosmtpd) on loopback that keeps every message it accepts."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Any] = []
        self.changed = threading.Condition()
        inbox = self

        class Handler:
            async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
                from email import message_from_bytes, policy

                with inbox.changed:
                    inbox.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content,
                                                                                 policy=policy.default)))
                    inbox.changed.notify_all()
                return "250 OK"

        self.port = free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpInbox:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Any]:
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.messages) >= count, timeout):
                raise TimeoutError(f"SMTP inbox got {len(self.messages)} messages, wanted {count}")
            return list(self.messages)
