"""The demo broker's two guards around amqtt 0.12 (the embedded development broker)."""

from __future__ import annotations

import logging
import sys

import pytest

from avfleet.demo.broker import DemoBroker, _PubackTimeoutFilter, _SnapshotDict
from avfleet.demo.errors import DemoError


def test_the_subscription_table_can_change_while_it_is_iterated() -> None:
    table = _SnapshotDict({"a/#": [], "b/#": []})
    seen = []
    for topic in table:  # what amqtt does, with awaits inside the loop
        seen.append(topic)
        table[f"new/{topic}"] = []
    for topic, _ in table.items():
        table.pop(topic)
    assert seen == ["a/#", "b/#"] and table == {}


def test_a_late_puback_is_one_warning_line_without_traceback() -> None:
    try:
        raise TimeoutError("Timeout waiting for PUBACK for packet ID 7")
    except TimeoutError:
        record = logging.LogRecord("amqtt.broker", logging.ERROR, __file__, 1, "Task failed: %s", ("t",),
                                   sys.exc_info())
    assert _PubackTimeoutFilter().filter(record)
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "Traceback" not in logging.Formatter().format(record)
    assert "packet ID 7" in record.getMessage()

    other = logging.LogRecord("amqtt.broker", logging.ERROR, __file__, 1, "boom", (), (ValueError, ValueError(), None))
    assert _PubackTimeoutFilter().filter(other) and other.levelno == logging.ERROR and other.exc_info


def test_an_unknown_broker_choice_is_refused(tmp_path) -> None:
    with pytest.raises(DemoError, match="--broker must be one of"):
        DemoBroker(tmp_path, "rabbitmq")
