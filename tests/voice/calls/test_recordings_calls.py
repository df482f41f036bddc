"""Recordings and call health with real peers: a sipp caller, agent1's desk phone a real baresip.

- A queue set to "do not record" gets no recording for a real call (the CDR is still written);
  back on the default, the next call's recording is found by the search API and its download is
  byte for byte the stored WAV.
- While the call is bridged, ``GET /api/voice/calls`` gives per-leg receive quality (RFC 3550 loss
  and jitter) with sane numbers for loopback, and the registration state of the desk phones.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.voice.calls.conftest import agent_phone, sip_port
from tests.voice.calls.support import Sipp, wait_for

pytestmark = pytest.mark.slow




async def one_call(hub, workdir: Path, phone, sup, *, watch_health: bool) -> dict | None:  # type: ignore[no-untyped-def]
    sipp = Sipp(workdir, "caller_talks.xml", f"127.0.0.1:{sip_port(hub)}", extra=["-s", "5000"])
    seen = None
    try:
        await sipp.start()
        await phone.wait_event("CALL_ESTABLISHED", timeout=15)
        if watch_health:
            async def healthy():  # type: ignore[no-untyped-def]
                calls = await sup.ok("GET", "/api/voice/calls")
                live = [c for c in calls["active"] if c["state"] == "bridged"]
                q = live[0]["quality"] if live else None
                ok = q and q["caller"] and q["caller"]["packets"] >= 150 and q["agent"] and q["agent"]["packets"] >= 150
                return (live[0], calls["registrations"]) if ok else None
            seen = await wait_for(healthy, within=12, interval=0.25)
        assert await sipp.wait(40) == 0, sipp.log()
        await phone.wait_event("CALL_CLOSED", timeout=10)
    finally:
        await sipp.stop()
    return seen


async def test_queue_choice_off_means_no_recording_and_health_is_reported(voice_hub, tmp_path: Path):
    phone, agent = await agent_phone(voice_hub, tmp_path / "phone")
    admin = await voice_hub.client("admin")
    sup = await voice_hub.client("supervisor")
    await admin.ok("PUT", "/api/voice/queue-settings/general", {"record": False})
    try:
        seen = await one_call(voice_hub, tmp_path / "sipp1", phone, sup, watch_health=True)

        async def ended_call():  # type: ignore[no-untyped-def]
            recs = (await sup.ok("GET", "/api/voice/calls"))["records"]
            return recs if recs and recs[0]["ended_at"] else None
        records = await wait_for(ended_call)
        assert records[0]["connected_at"] and records[0]["agent_id"] == agent.user["id"]
        assert records[0]["recording_attachment_id"] is None
        assert (await sup.ok("GET", "/api/voice/recordings"))["total"] == 0
        assert not list((voice_hub.services.settings.attachments_dir).rglob("*"))  # nothing written

        assert seen is not None
        call, regs = seen
        caller, agent_leg = call["quality"]["caller"], call["quality"]["agent"]
        for leg in (caller, agent_leg):
            assert leg["expected"] >= leg["packets"] - 2 and leg["lost"] <= 2, leg  # loopback: no loss
            assert 0 <= leg["loss_pct"] < 2 and 0 <= leg["jitter_ms"] < 40, leg
        phones = {a["username"]: a for a in regs["accounts"]}
        assert phones["agent1"]["registered"] and phones["agent1"]["kind"] == "phone"
        assert phones["agent1"]["expires_in"] > 0 and phones["agent1"]["contact"].startswith("sip:")
        assert phones["agent2"]["registered"] is False
        assert regs["outbound_trunk"] == {"configured": False, "uri": None}

        # back to the global default: the next call is recorded, found and downloaded as stored
        await admin.ok("PUT", "/api/voice/queue-settings/general", {"record": None})
        await agent.ok("POST", "/api/agent/state", {"state": "ready"})  # out of wrap-up
        await one_call(voice_hub, tmp_path / "sipp2", phone, sup, watch_health=False)

        async def recorded():  # type: ignore[no-untyped-def]
            page = await sup.ok("GET", "/api/voice/recordings?caller=4930123456&queue_id=general")
            return page["items"] or None
        items = await wait_for(recorded)
        assert len(items) == 1 and items[0]["agent_id"] == agent.user["id"] and items[0]["duration_s"] > 8
        stored = voice_hub.services.attachments.path_for(items[0]["attachment_id"]).read_bytes()
        body = (await agent.http.get(items[0]["audio_url"] + "?download=1")).content  # the agent's own call
        assert body == stored and body[:4] == b"RIFF"
        # the WAV is the conversation's attachment, yet only its own route serves it (issue #16)
        assert (await sup.http.get(f"/api/attachments/{items[0]['attachment_id']}")).status_code == 404
    finally:
        await phone.stop()
