"""The demo's local mail inbox: a real SMTP server (aiosmtpd) on loopback that keeps every message
the controller sends as a .eml file in the demo's data folder, so a newcomer sees the whole path
from a faulty projector to a ticket to its e-mail without any mail server of their own."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

DEMO_RECIPIENTS = ["teknik@mediacentrum.example"]


class DemoMailbox:
    def __init__(self, folder: Path) -> None:
        from aiosmtpd.controller import Controller

        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.count = len(list(folder.glob("*.eml")))
        self._lock = threading.Lock()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        box = self

        class Handler:
            async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
                with box._lock:
                    box.count += 1
                    (box.folder / f"{box.count:05d}.eml").write_bytes(envelope.content)
                return "250 OK: kept in the demo inbox"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> DemoMailbox:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def settings(self) -> dict[str, Any]:
        """Controller settings that send every ticket's e-mail here (Swedish, immediately)."""
        return {"smtp": {"host": "127.0.0.1", "port": self.port, "sender": "avfleet-demo@localhost"},
                "email": [{"to": DEMO_RECIPIENTS, "language": "sv"}]}

    def ready_line(self) -> str:
        return f"mail: smtp://127.0.0.1:{self.port} (inbox {self.folder})"
