"""GC tuning is an explicit choice of the controller process, and the writer process applies it itself.

Each case runs a whole Controller in a fresh interpreter against a real Mosquitto: `gc.freeze()` is
process-wide, so running it inside pytest would freeze the test session's heap.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.controller.conftest import API_TOKEN
from tests.support.mosquitto import MosquittoBroker

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import gc, json, sys
from avfleet.controller.app import Controller
from avfleet.controller.settings import load_settings

url, broker, tune = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
settings = load_settings(database_url=url, broker_url=broker, api_tokens=[sys.argv[4]],
                         broker_password="anonymous-broker-ignores-this", api_port=0, client_id="gc-test")
kwargs = {"tune_gc": True} if tune else {}
ctl = Controller(settings, **kwargs)
ctl.start()
try:
    print(json.dumps({"frozen": gc.get_freeze_count(), "threshold": list(gc.get_threshold())}))
finally:
    ctl.stop()
"""


def _run(tmp_path: Path, mosquitto: MosquittoBroker, tune: bool) -> dict:
    url = f"sqlite:///{tmp_path / ('tuned.db' if tune else 'plain.db')}"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, url, mosquitto.url, "1" if tune else "0", API_TOKEN],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_controller_leaves_gc_alone_by_default(tmp_path: Path, mosquitto: MosquittoBroker) -> None:
    seen = _run(tmp_path, mosquitto, tune=False)
    assert seen["frozen"] == 0
    assert seen["threshold"][0] == 700  # the interpreter's default


@pytest.mark.slow
def test_controller_tunes_gc_when_asked(tmp_path: Path, mosquitto: MosquittoBroker) -> None:
    seen = _run(tmp_path, mosquitto, tune=True)
    assert seen["frozen"] > 0
    assert seen["threshold"] == [20_000, 20, 50]


WRITER_SCRIPT = """
import gc, sys, threading
from multiprocessing import Pipe
from avfleet.controller.ingest.sinks import _writer_main
from avfleet.controller.settings import load_settings

settings = load_settings(demo=True, database_url=sys.argv[1])
parent, child = Pipe()
seen = {}

def drive():
    parent.send((1, []))  # an empty batch: its answer comes after the writer's set-up
    seen["answer"] = parent.recv()
    seen["frozen"] = gc.get_freeze_count()
    parent.send(None)

driver = threading.Thread(target=drive)
driver.start()
_writer_main(settings, child)  # in the main thread, as in the spawned process (it sets a signal handler)
driver.join()
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("fastapi", "uvicorn", "starlette")
               or m.startswith(("avfleet.controller.api", "avfleet.controller.app")))
print(seen["frozen"] > 0, heavy)
"""


def test_writer_process_tunes_gc_without_the_api(tmp_path: Path) -> None:
    """The writer's entry point tunes its own GC and loads nothing of the API server."""
    url = f"sqlite:///{tmp_path / 'writer.db'}"
    proc = subprocess.run([sys.executable, "-c", WRITER_SCRIPT, url], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "True []"
