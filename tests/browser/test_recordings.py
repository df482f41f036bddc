"""The supervisor finds a call recording and plays it (VOICE-5): the Recordings page from the top
bar, a filter by caller number, the waveform drawn on the canvas from the decoded WAV, a click on
the waveform seeks the player, and the download link serves the WAV. Two recorded calls are stored
in the hub's database as the call service writes them (tests/voice/calls/recording_seed.py; the
real call path is tested in tests/voice/calls/test_recordings_calls.py)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.steps import go_to, log_in
from tests.support.hub import ThreadedHub
from tests.voice.calls.recording_seed import seed_recording_sync

pytestmark = pytest.mark.browser


def test_supervisor_filters_recordings_sees_the_waveform_and_seeks(hub: ThreadedHub, supervisor: Page,
                                                                  admin_api: httpx.Client):
    agent1 = next(u for u in admin_api.get("/api/users").json() if u["username"] == "agent1")
    now = time.time()
    wanted = seed_recording_sync(hub.data_dir, caller="+4930555777", agent_id=agent1["id"],
                                 started_at=now - 600, duration=12.0)
    seed_recording_sync(hub.data_dir, caller="+8613900001111", agent_id=None, started_at=now - 300, duration=5.0)

    log_in(supervisor, "supervisor")
    go_to(supervisor, "nav-recordings")
    expect(supervisor.get_by_test_id("rec-row")).to_have_count(2)
    supervisor.get_by_test_id("rec-caller").fill("555777")
    supervisor.get_by_test_id("rec-search-submit").click()
    rows = supervisor.get_by_test_id("rec-row")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_test_id("rec-row-caller")).to_have_text("+4930555777")
    expect(rows.first.get_by_test_id("rec-row-duration")).to_have_text("00:12")
    rows.first.get_by_test_id("rec-row-play").click()

    canvas = supervisor.get_by_test_id("rec-waveform")
    expect(canvas).to_have_attribute("data-drawn", "1")
    # the canvas holds the waveform: many pixels in the caller lane's colour, not a blank box
    painted = canvas.evaluate("""c => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height / 2).data
        let n = 0
        for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 200 && d[i] < 80) n++
        return n
    }""")
    assert painted > 2000, painted
    audio = supervisor.get_by_test_id("rec-audio")
    supervisor.wait_for_function(
        "() => document.querySelector('[data-testid=rec-audio]').readyState >= 1", timeout=10_000)
    assert audio.evaluate("a => a.currentTime") == 0
    box = canvas.bounding_box()
    assert box is not None
    canvas.click(position={"x": box["width"] * 0.75, "y": box["height"] / 2})
    supervisor.wait_for_function(
        "() => document.querySelector('[data-testid=rec-audio]').currentTime > 8", timeout=10_000)
    t = audio.evaluate("a => a.currentTime")
    assert 8.0 < t < 10.0, t  # 75 % of 12 s
    expect(supervisor.get_by_test_id("rec-position")).to_contain_text("00:09")

    href = supervisor.get_by_test_id("rec-download").get_attribute("href")
    assert href == f"/api/voice/recordings/{wanted.recording['id']}/audio?download=1"
    with supervisor.expect_download() as dl:
        supervisor.get_by_test_id("rec-download").click()
    path = dl.value.path()
    assert path is not None and Path(path).read_bytes() == wanted.wav
