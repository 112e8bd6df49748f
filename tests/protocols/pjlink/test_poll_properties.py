"""Property test: for random mixes of good, unreadable and missing PJLink answers (the emulator's
`bad_answers`, ERR1 for absent parts, a question ignored), plus stray lines and pushed notifications,
over real TCP, the poll returns a status whose readable fields equal what the device said, and the
rest unknown; never an exception."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avfleet.emulator.pjlink import ProjectorEmulator
from avfleet.protocols.device_url import PJLinkTarget
from avfleet.protocols.pjlink.poller import PJLinkPoller

QUESTIONS = ("POWR", "ERST", "LAMP", "CLSS", "FILT", "INF1", "INF2", "INPT", "AVMT", "INFO", "NAME", "SNUM", "SVER")
BAD = ("garbage", "out_of_spec", "truncated", "non_ascii")
COMPONENTS = ("fan", "lamp", "temperature", "cover", "filter", "other")
LEVELS = {0: "ok", 1: "warning", 2: "error"}

text = st.text(alphabet="abcdefghXYZ åäö-", max_size=20).map(str.strip)
devices = st.fixed_dictionaries({
    "pjlink_class": st.sampled_from([1, 2]),
    "power": st.sampled_from(["on", "standby"]),
    "password": st.sampled_from([None, "pw"]),
    "lamp_count": st.sampled_from([0, 1, 2]),
    "lamp_hours": st.integers(0, 99999),
    "has_filter": st.booleans(),
    "filter_hours": st.integers(0, 99999),
    "manufacturer": text, "model": text, "name": text, "serial": text, "firmware": text, "info": text,
    "initial_input": st.sampled_from(["11", "21", "31", "32", "52"]),
    "faults": st.fixed_dictionaries({c: st.sampled_from([0, 1, 2]) for c in COMPONENTS}),
})
answers = st.fixed_dictionaries({q: st.sampled_from(["good", "good", *BAD]) for q in QUESTIONS})
ignored = st.none() | st.sampled_from(QUESTIONS)  # at most one question the device never answers
strays = st.lists(st.sampled_from(["notify_lkup", "notify_erst", "notify_powr", "late", "echo"]), max_size=3)


def expected(device: dict, answer: dict[str, str], video_muted: bool) -> dict:
    good = {q for q, a in answer.items() if a == "good"}
    cls = device["pjlink_class"] if "CLSS" in good else None
    power = device["power"] if "POWR" in good else "unknown"
    on = power == "on"
    asked = {"POWR", "ERST", "LAMP", "CLSS", "INF1", "INF2", "INFO", "NAME"}
    asked |= {"FILT", "SNUM", "SVER"} if cls == 2 else set()
    asked |= {"INPT", "AVMT"} if on else set()

    def said(q: str, value: object) -> object:
        return value if q in good else None

    if not asked & good:
        spoiled = any(answer[q] in BAD for q in asked)
        return {"availability": "error" if spoiled else "unreachable"}
    lit = device["power"] == "on"  # the lamp burns whether or not POWR could be read
    lamps = [(device["lamp_hours"], lit)] * device["lamp_count"] if "LAMP" in good else []
    firmware = (said("SVER", device["firmware"]) if cls == 2 else None) or said("INFO", device["info"])
    return {
        "availability": "online",
        "power": power,
        "faults": {c: LEVELS[device["faults"][c]] if "ERST" in good else "unknown" for c in COMPONENTS},
        "lamps": lamps,
        "filter_hours": said("FILT", device["filter_hours"]) if cls == 2 and device["has_filter"] else None,
        "input": said("INPT", device["initial_input"]) if on else None,
        "av_mute": said("AVMT", video_muted) if on else None,
        "identity": {
            "manufacturer": said("INF1", device["manufacturer"]) or None,
            "model": said("INF2", device["model"]) or None,
            "name": said("NAME", device["name"]) or None,
            "serial": (said("SNUM", device["serial"]) if cls == 2 else None) or None,
            "firmware": firmware or None,
            "pjlink_class": str(cls) if cls else None,
        },
    }


def observed(status, want: dict) -> dict:
    data = status.model_dump(mode="json")
    data["lamps"] = [(lamp["hours"], lamp["on"]) for lamp in data["lamps"]]
    data["identity"] = {k: data["identity"][k] for k in want.get("identity", {})}
    return {k: data[k] for k in want}


async def poll_once(device: dict, answer: dict[str, str], none: str | None, stray: list[str], muted: bool):
    bad = {q: a for q, a in answer.items() if a != "good"}
    if none is not None:
        bad[none] = "none"
    emu = ProjectorEmulator(**device, hours_per_second=0, bad_answers=bad, stray_lines={"*": stray} if stray else {})
    await emu.start()
    try:
        emu.set_av_mute(muted, False)
        target = PJLinkTarget("127.0.0.1", emu.port, device["password"])
        poller = PJLinkPoller("pj-prop", target, connect_timeout=1.0, reply_timeout=0.5, min_reply_timeout=0.1)
        return await poller.poll()
    finally:
        await emu.stop()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(device=devices, answer=answers, none=ignored, stray=strays, muted=st.booleans())
def test_poll_reads_what_the_device_said_and_nothing_else(device, answer, none, stray, muted):
    if none is not None:
        answer = {**answer, none: "missing"}
    status = asyncio.run(poll_once(device, answer, none, stray, muted))
    want = expected(device, answer, muted)
    assert observed(status, want) == want, status.detail
