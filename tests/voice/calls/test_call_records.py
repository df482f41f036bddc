"""Call records (issue 18, item 7, "CDR truth"): the per-leg history of a call, the times summed
from it, the queue a call ends in, paging, one call's record and the CSV/XLSX export.

With real peers (sipp and baresip): a caller is answered by agent1's desk phone (sipp), which holds
the caller and hands the call to agent2 by an attended transfer (REFER with Replaces); agent2's
phone (baresip) blind-transfers it by REFER to the escalations queue by its *number* (its
extension in ``voice_routes``), where agent4 answers after a wait. Then a caller waiting in an IVR
queue presses 1 for voicemail and says nothing. The rest seeds records and reads them back."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from hub.security import new_id
from tests.support.hub import InProcessHub, running_hub
from tests.support.wait import eventually
from tests.voice.calls.conftest import PHONE_PASSWORD, VOICE_SETTINGS, agent_phone, sip_port
from tests.voice.calls.support import Baresip, Sipp
from tests.voice.calls.test_attended_transfer import desk_phone
from tests.voice.calls.test_hold_transfer import active, until
from tests.voice.calls.test_voicemail_callback import publish
from tests.voice.ivr.helpers import Driver, flow
from voice.calls.history import CallHistory, SegmentKind
from voice.calls.tables import calls as t_calls
from voice.calls.targets import queue_for
from voice.ivr.model import Hangup, RecordingFinished, RecordVoicemail

ESCALATIONS = "escalations"


@pytest.fixture
def voice_settings() -> dict[str, Any]:
    return {"voice_routes": f"5000=general,5010={ESCALATIONS}", "ivr_prerender_tts": False}


# -- pure parts ------------------------------------------------------------------------------------


def test_queued_again_after_a_transfer_is_waiting_and_a_voicemail_is_neither() -> None:
    h = CallHistory()
    h.enter(SegmentKind.IVR, 0.0)
    h.enter(SegmentKind.QUEUED, 2.0, queue_id="general")
    h.enter(SegmentKind.TALK, 5.0, agent_id="a1", queue_id="general")
    h.enter(SegmentKind.TALK, 6.0, agent_id="a1", queue_id="general")  # the same place: no new step
    h.enter(SegmentKind.HOLD, 15.0, agent_id="a1", queue_id="general")
    h.enter(SegmentKind.QUEUED, 18.0, queue_id="billing", reason="blind_transfer")
    h.enter(SegmentKind.TALK, 28.0, agent_id="a2", queue_id="billing")
    h.enter(SegmentKind.VOICEMAIL, 40.0)
    h.close(45.0)
    h.enter(SegmentKind.TALK, 50.0, agent_id="late")  # after the end: ignored
    assert [s.kind for s in h.segments] == ["ivr", "queued", "talk", "hold", "queued", "talk", "voicemail"]
    assert h.totals() == {"wait_s": 13.0, "talk_s": 22.0, "hold_s": 3.0}
    assert h.agents() == ["a1", "a2"]
    assert CallHistory().totals() == {"wait_s": None, "talk_s": None, "hold_s": None}


def test_a_queue_is_named_by_id_name_or_extension() -> None:
    names = {"general": "General enquiries", "q7": "Billing"}
    routes = {"5000": "general", "5001": "q7", "5999": "gone"}
    assert queue_for("q7", names, routes) == "q7"
    assert queue_for("queue-q7", names, routes) == "q7"
    assert queue_for("billing", names, routes) == "q7"
    assert queue_for("General%20Enquiries", names, routes) == "general"
    assert queue_for("5001", names, routes) == "q7"
    assert queue_for("5999", names, routes) is None and queue_for("agent1", names, routes) is None


def test_a_discarded_voicemail_does_not_end_the_flow_as_left() -> None:
    for recording_id, reason in (("", "voicemail_discarded"), ("vm-1", "voicemail_left")):
        d = Driver(flow({"vm": {"type": "voicemail", "mailbox": "general", "beep": False}}))
        assert isinstance(d.start()[0], RecordVoicemail)
        d.send(RecordingFinished(0.8, recording_id))  # no id: the service kept nothing
        assert d.hangup() == Hangup(reason)


# -- with real peers -------------------------------------------------------------------------------


async def record_of(hub: InProcessHub, call_id: str, user: str = "supervisor") -> dict[str, Any]:
    client = await hub.client(user)

    async def ended() -> dict[str, Any] | None:
        rec = await client.ok("GET", f"/api/voice/calls/{call_id}")
        return rec if rec["ended_at"] and rec["segments"] else None
    return await eventually(ended, 10)


async def test_hold_attended_and_blind_transfers_are_in_the_record_of_the_queue_the_call_ended_in(
        voice_hub, tmp_path: Path) -> None:
    hub = voice_hub
    port = sip_port(hub)
    await hub.services.directory.create_queue({"id": ESCALATIONS, "name": "Escalations",
                                               "members": [(await hub.client("agent4")).user["id"]]})
    await hub.services.routing.reload_directory()  # as POST /api/queues does (it picks the id itself)
    admin = await hub.client("admin")
    await admin.ok("PUT", f"/api/voice/queue-settings/{ESCALATIONS}", {"record": False})
    agent1, agent2 = await hub.client("agent1"), await hub.client("agent2")
    desk1 = await desk_phone(hub, tmp_path / "agent1", "agent1", "desk_attended_transfer.xml",
                             ["-au", "agent1", "-ap", PHONE_PASSWORD])
    phone2, _ = await agent_phone(hub, tmp_path / "agent2", "agent2", ready=False)
    phone4, agent4 = await agent_phone(hub, tmp_path / "agent4", "agent4", ready=False)
    caller = Baresip(tmp_path / "caller", answermode="manual",
                     account=f"<sip:+8613911112222@127.0.0.1:{port}>;regint=0")
    try:
        await agent1.ok("POST", "/api/agent/state", {"state": "ready"})
        await caller.start()
        await caller.command("dial", f"sip:5000@127.0.0.1:{port}")
        await until(lambda: bool(active(hub)), within=15)
        call = next(iter(active(hub).values()))
        await until(lambda: call.state == "bridged" and call.agent_id == agent1.user["id"], within=15)
        await agent2.ok("POST", "/api/agent/state", {"state": "ready"})
        # agent1's phone holds the caller, consults agent2 and REFERs the caller to them
        assert await desk1.wait(30) == 0, desk1.log()
        await phone2.wait_event("CALL_ESTABLISHED", timeout=10)
        assert call.agent_id == agent2.user["id"]
        # agent2 sends the caller to the escalations queue by its number; nobody is ready there
        reply = await phone2.command("transfer", f"sip:5010@127.0.0.1:{port}")
        assert reply.get("ok"), reply
        await until(lambda: call.state == "queued" and call.queue_id == ESCALATIONS, within=10)
        await asyncio.sleep(1.0)  # the caller waits in the new queue: waiting, not talking
        await agent4.ok("POST", "/api/agent/state", {"state": "ready"})
        await phone4.wait_event("CALL_ESTABLISHED", timeout=15)
        await until(lambda: call.state == "bridged" and call.agent_id == agent4.user["id"], within=10)
        await caller.command("hangup")
        await until(lambda: call.ended, within=10)
    finally:
        await caller.stop()
        await desk1.stop()
        await phone2.stop()
        await phone4.stop()
    rec = await record_of(hub, call.id)
    a1, a2, a4 = agent1.user["id"], agent2.user["id"], agent4.user["id"]
    steps = [(s["kind"], s["agent_id"], s["queue_id"], s["reason"]) for s in rec["segments"]]
    assert steps == [
        ("ivr", None, "general", None), ("queued", None, "general", None), ("talk", a1, "general", None),
        ("hold", a1, "general", "agent_hold"), ("consult", a1, "general", None),
        ("talk", a2, "general", "consult_transfer"), ("queued", None, ESCALATIONS, "blind_transfer"),
        ("talk", a4, ESCALATIONS, None)], steps
    assert rec["segments"][4]["party"] == rec["segments"][5]["agent_name"] == "Bob Li"
    # the record names every agent — the first one too — and the queue the call ended in, whose
    # recording choice ("no") was applied
    assert [a["id"] for a in rec["agents"]] == [a1, a2, a4] and rec["agent_id"] == a4
    assert rec["queue_id"] == ESCALATIONS and rec["queue_name"] == "Escalations"
    assert rec["recording_id"] is None
    # the times: talk is only talk; the wait in the new queue is waiting
    seg = rec["segments"]
    requeued = seg[6]["duration_s"]
    assert requeued >= 0.9
    assert rec["wait_s"] == pytest.approx(seg[1]["duration_s"] + requeued, abs=0.01)
    assert rec["talk_s"] == pytest.approx(sum(s["duration_s"] for s in seg if s["kind"] == "talk"), abs=0.01)
    assert rec["hold_s"] == pytest.approx(seg[3]["duration_s"] + seg[4]["duration_s"], abs=0.01)
    # from the first answer to the end: talking, on hold or queued again, nothing counted twice
    assert rec["connected_at"] == seg[2]["started_at"]
    assert rec["talk_s"] + rec["hold_s"] + requeued == pytest.approx(rec["ended_at"] - rec["connected_at"], abs=0.05)


async def test_a_silent_voicemail_from_the_queue_is_discarded_and_not_waiting(voice_hub, tmp_path: Path) -> None:
    hub = voice_hub
    await publish(hub, "7310", {
        "wait": {"type": "queue", "queue_id": "general", "music": [{"builtin": "moh"}], "keys": {"1": "vm"}},
        "vm": {"type": "voicemail", "mailbox": "general", "silence_s": 2.0, "beep": False},
    }, "wait")
    sipp = Sipp(tmp_path / "sipp", "queued_key_then_silent.xml", f"127.0.0.1:{sip_port(hub)}",
                extra=["-s", "7310"])
    try:
        await sipp.start()
        assert await sipp.wait(30) == 0, sipp.log()
    finally:
        await sipp.stop()
    async with hub.services.db.read() as conn:
        (call_id,) = (await conn.execute(t_calls.select().with_only_columns(t_calls.c.id))).scalars().all()
    rec = await record_of(hub, call_id)
    assert rec["end_reason"] == "ivr_voicemail_discarded"
    kinds = [s["kind"] for s in rec["segments"]]
    assert kinds == ["ivr", "queued", "voicemail", "ivr"], kinds
    assert rec["segments"][2]["duration_s"] >= 1.9  # the silence timeout
    assert rec["wait_s"] == pytest.approx(rec["segments"][1]["duration_s"], abs=0.01) and rec["wait_s"] < 2.3
    assert rec["talk_s"] is None


# -- paging, one record, export (seeded records) ---------------------------------------------------


def _row(i: int, **kw: Any) -> dict[str, Any]:
    start = 1_800_000_000.0 + i * 60
    return {"id": new_id(), "sip_call_id": f"c{i}@test", "direction": "in", "source": "trunk",
            "caller": f"+86139000000{i:02d}", "callee": "5000", "queue_id": "general", "agent_id": None,
            "started_at": start, "answered_at": start, "ended_at": start + 30, "end_reason": "caller_hangup",
            "wait_s": 5.0, "talk_s": 20.0, "hold_s": None, **kw}


@pytest.mark.storage  # SQLite and PostgreSQL (tests/conftest.py)
async def test_call_records_page_open_and_export_with_the_conversations_visibility(
        database_url: str, tmp_path: Path) -> None:
    async with running_hub(tmp_path / "data", database_url, **VOICE_SETTINGS) as hub:
        s = hub.services
        a1 = (await hub.client("agent1")).user["id"]
        a2 = (await hub.client("agent2")).user["id"]
        conv = await s.conversations.open(channel="voice", queue_id="general", subject="call", status="pending",
                                          identity={"phone": "+8613900000001", "name": "Caller"})
        history = [{"kind": "talk", "agent_id": a1, "queue_id": "general", "party": None, "reason": None,
                    "started_at": 1_800_000_065.0, "ended_at": 1_800_000_075.0},
                   {"kind": "talk", "agent_id": a2, "queue_id": "general", "party": None,
                    "reason": "consult_transfer", "started_at": 1_800_000_075.0, "ended_at": 1_800_000_090.0}]
        rows = [_row(0, caller="=HYPERLINK(\"http://x\",\"y\")", callee="@SUM(A1)"),
                _row(1, conversation_id=conv.id, agent_id=a2, segments=history, hold_s=2.0),
                *(_row(i) for i in range(2, 5))]
        async with s.db.tx() as tx:
            for r in rows:
                await tx.conn.execute(t_calls.insert().values(**r))
        sup = await hub.client("supervisor")
        page = await sup.ok("GET", "/api/voice/calls?limit=2&offset=0")
        assert page["total"] == 5 and (page["limit"], page["offset"]) == (2, 0)
        assert [r["id"] for r in page["records"]] == [rows[4]["id"], rows[3]["id"]]  # newest first
        last = await sup.ok("GET", "/api/voice/calls?limit=2&offset=4")
        assert [r["id"] for r in last["records"]] == [rows[0]["id"]] and last["total"] == 5
        only = await sup.ok("GET", f"/api/voice/calls?agent_id={a1}")  # the first agent of a transfer
        assert [r["id"] for r in only["records"]] == [rows[1]["id"]] and only["total"] == 1
        for bad in ("limit=0", "limit=201", "offset=-1", "since=10&until=5", "nope=1"):
            r = await sup.http.get(f"/api/voice/calls?{bad}")
            assert r.status_code == 422, (bad, r.text)
        # one record: its history with names; an agent sees the call of a conversation they may see
        one = await sup.ok("GET", f"/api/voice/calls/{rows[1]['id']}")
        assert [a["name"] for a in one["agents"]] == ["Alice Chen", "Bob Li"]
        assert [x["agent_name"] for x in one["segments"]] == ["Alice Chen", "Bob Li"]
        agent = await hub.client("agent1")
        assert (await agent.ok("GET", f"/api/voice/calls/{rows[1]['id']}"))["id"] == rows[1]["id"]
        r = await agent.http.get(f"/api/voice/calls/{rows[0]['id']}")
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        assert (await agent.http.get("/api/voice/calls")).status_code == 403
        km = await hub.client("km")
        assert (await km.http.get(f"/api/voice/calls/{rows[1]['id']}")).status_code == 403
        assert (await km.http.get("/api/voice/calls/export")).status_code == 403
        # CSV: every record, formulas neutralised, the history readable
        r = await sup.http.get("/api/voice/calls/export?format=csv")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert "attachment" in r.headers["content-disposition"]
        table = list(csv.DictReader(io.StringIO(r.text)))
        assert len(table) == 5
        bad = next(x for x in table if x["id"] == rows[0]["id"])
        assert bad["caller"] == "'=HYPERLINK(\"http://x\",\"y\")" and bad["callee"] == "'@SUM(A1)"
        good = next(x for x in table if x["id"] == rows[1]["id"])
        assert good["agents"] == "Alice Chen, Bob Li" and good["history"] == "talk Alice Chen 10s > talk Bob Li 15s"
        assert good["started_at"] == "2027-01-15T08:01:00Z" and good["hold_s"] == "2.0"
        # an agent's export has only what they may see
        mine = list(csv.DictReader(io.StringIO((await agent.http.get("/api/voice/calls/export")).text)))
        assert [x["id"] for x in mine] == [rows[1]["id"]]
        # XLSX: the same rows; text cells are text, never formulas
        r = await sup.http.get("/api/voice/calls/export?format=xlsx&queue_id=general")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")
        ws = load_workbook(io.BytesIO(r.content)).active
        assert ws is not None
        header = [c.value for c in ws[1]]
        assert ws.max_row == 6 and header[:4] == ["id", "started_at", "caller", "callee"]
        cell = next(row[2] for row in ws.iter_rows(min_row=2) if row[0].value == rows[0]["id"])
        assert (cell.value, cell.data_type, cell.quotePrefix) == ("=HYPERLINK(\"http://x\",\"y\")", "s", True)
        talk = next(row[header.index("talk_s")] for row in ws.iter_rows(min_row=2))
        assert talk.value == 20.0 and talk.data_type == "n"
        assert (await sup.http.get("/api/voice/calls/export?format=pdf")).status_code == 422
        # every export is in the audit trail
        audit = await (await hub.client("admin")).ok("GET", "/api/audit")
        exports = [e["data"] for e in audit if e["type"] == "voice.calls_exported"]
        assert {(e["format"], e["rows"]) for e in exports} == {("csv", 5), ("csv", 1), ("xlsx", 5)}
