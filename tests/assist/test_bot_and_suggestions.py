"""The widget bot (ASSIST-2) and live suggestions (ASSIST-1) against a real hub: the real
knowledge base with its demo FAQ, the real embedding model, real Socket.IO clients."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from hub.db import tables as t
from tests.api.helpers import agent_desk, start_chat
from tests.support.hub import InProcessHub
from tests.support.wait import eventually

KNOWN = "How do I read my gas meter?"
UNKNOWN = "Can your engineers also fix my neighbour's swimming pool heater?"


async def events_of(hub: InProcessHub, cid: str) -> list[str]:
    async with hub.services.db.read() as conn:
        return list((await conn.execute(select(t.events.c.type).where(
            t.events.c.conversation_id == cid).order_by(t.events.c.id))).scalars())


async def status_of(hub: InProcessHub, cid: str) -> str:
    return (await hub.services.conversations.row(cid)).status


async def test_bot_answers_a_known_question_and_the_chat_ends_deflected(bot_hub) -> None:  # type: ignore[no-untyped-def]
    customer, widget, session = await start_chat(bot_hub, message=KNOWN)
    cid = session["conversation_id"]
    # the bot (a durable event consumer) greets and answers the opening message right after
    conv = await eventually(lambda: customer.ok("GET", "/api/widget/conversation"), within=10,
                            until=lambda c: len([m for m in c["messages"] if m["sender"] == "bot"]) >= 2)
    assert conv["status"] == "bot"
    bot = [m for m in conv["messages"] if m["sender"] == "bot"]
    assert len(bot) == 2, bot  # the greeting and the answer
    assert "black digits" in bot[1]["body"]
    assert "bot.answered" in await events_of(bot_hub, cid)
    # a follow-up question is answered live over the widget socket
    await widget.call("message", {"body": "I smell gas in my kitchen", "client_id": "c1"})
    # (pushes of the greeting and first answer may reach the socket only now: skip those)
    answer = await widget.wait("message", lambda m: m["sender"] == "bot" and m["id"] not in {b["id"] for b in bot},
                               timeout=10)
    assert "Leave the building" in answer["body"]
    assert await status_of(bot_hub, cid) == "bot"
    await customer.ok("POST", "/api/widget/close", status=204)
    for _ in range(50):
        if "bot.deflected" in await events_of(bot_hub, cid):
            break
        await asyncio.sleep(0.1)
    kinds = await events_of(bot_hub, cid)
    assert "bot.deflected" in kinds and "bot.handed_over" not in kinds
    await widget.close()


async def test_bot_hands_an_unknown_question_to_an_agent_and_records_a_gap(bot_hub) -> None:  # type: ignore[no-untyped-def]
    agent, desk = await agent_desk(bot_hub, "agent1")
    customer, widget, session = await start_chat(bot_hub, message=UNKNOWN)
    cid = session["conversation_id"]
    await eventually(lambda: status_of(bot_hub, cid), within=10, until=lambda st: st != "bot")
    assert await status_of(bot_hub, cid) in ("queued", "offered")
    offer = await desk.wait("offer", lambda o: o["conversation"]["id"] == cid, timeout=10)
    assert offer
    await agent.ok("POST", f"/api/conversations/{cid}/accept")
    detail = await agent.ok("GET", f"/api/conversations/{cid}")
    senders = [m["sender"] for m in detail["messages"]]
    assert senders[:3] == ["customer", "bot", "bot"], senders  # the bot exchange is visible
    assert "connecting you with a person" in detail["messages"][2]["body"]
    km = await bot_hub.client("km")
    gaps = await km.ok("GET", "/api/kb/gaps")
    items = gaps["items"] if isinstance(gaps, dict) else gaps
    assert any(UNKNOWN.lower()[:40] in g["question"].lower() for g in items), items
    kinds = await events_of(bot_hub, cid)
    assert "bot.handed_over" in kinds and "bot.answered" not in kinds
    await desk.close()
    await widget.close()


async def test_talk_to_a_person_hands_over_at_once(bot_hub) -> None:  # type: ignore[no-untyped-def]
    customer, widget, session = await start_chat(bot_hub, message=KNOWN)
    cid = session["conversation_id"]
    assert await status_of(bot_hub, cid) == "bot"
    r = await customer.ok("POST", "/api/widget/handover")
    assert r["status"] in ("queued", "offered")
    status = await widget.wait("status", lambda s: s["status"] == "queued", timeout=5)
    assert status["agent_name"] is None
    again = await customer.post("/api/widget/handover")
    assert again.status_code == 409 and again.json()["code"] == "bot_disabled"
    # typed requests work too ("转人工" / "talk to a person")
    c2, w2, s2 = await start_chat(bot_hub, name="Li Na", email="li.na@example.com",
                                  message="你好")
    await w2.call("message", {"body": "转人工", "client_id": "x"})
    for _ in range(50):
        if await status_of(bot_hub, s2["conversation_id"]) != "bot":
            break
        await asyncio.sleep(0.1)
    assert await status_of(bot_hub, s2["conversation_id"]) in ("queued", "offered")
    # someone else's token cannot hand over
    stranger = await bot_hub.client()
    r = await stranger.post("/api/widget/handover", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    await widget.close()
    await w2.close()


async def test_suggestions_reach_only_the_assigned_agent_within_300_ms(bot_hub) -> None:  # type: ignore[no-untyped-def]
    agent1, desk1 = await agent_desk(bot_hub, "agent1")
    agent2, desk2 = await agent_desk(bot_hub, "agent2", ready=False)
    sup = await bot_hub.client("supervisor")
    from tests.support.sockets import Recorder
    sup_desk = await Recorder("/desk").connect(bot_hub.base_url, cookie=sup.cookie_header)
    customer, widget, session = await start_chat(bot_hub, message="Talk to a person please")
    cid = session["conversation_id"]
    await desk1.wait("offer", lambda o: o["conversation"]["id"] == cid, timeout=10)
    await agent1.ok("POST", f"/api/conversations/{cid}/accept")
    # warm-up (first query loads nothing new, but let the index settle)
    await widget.call("message", {"body": "my bill is much higher this month", "client_id": "w"})
    await desk1.wait("assist", lambda a: a["conversation_id"] == cid, timeout=10)
    delays = []
    for i, text in enumerate(["I think there is a gas leak in my kitchen",
                              "how can I pay my gas bill online",
                              "the smart meter display shows E1"]):
        seen = len(desk1.received("assist"))
        started = time.perf_counter()
        ack = await widget.call("message", {"body": text, "client_id": f"m{i}"})
        assert ack["ok"]
        got = await desk1.wait("assist", lambda a, q=text: a["query"] == q, timeout=5)
        delays.append(time.perf_counter() - started)
        assert len(desk1.received("assist")) > seen
        top = got["suggestions"][0]
        assert {"article_id", "question", "snippet", "confidence", "answer"} <= set(top)
    assert "Leave the building" in desk1.received("assist")[-3]["suggestions"][0]["answer"]
    # 300 ms budget from the customer's send to the agent's socket; measured here ~40-120 ms on
    # an idle 2-core machine; 2x slack for a machine shared with other test runs
    print(f"assist latency (send -> agent socket), ms: {[round(d * 1000) for d in delays]}")
    assert min(delays) < 0.3 and max(delays) < 0.6, delays
    assert sup_desk.received("assist"), "supervisors watching get the suggestions too"
    assert not [a for a in desk2.received("assist") if a["conversation_id"] == cid]
    # reload: the current suggestions by REST, for the assigned agent and supervisors only
    cur = await agent1.ok("GET", f"/api/assist/conversations/{cid}/suggestions")
    assert cur["suggestions"] and cur["query"] == "the smart meter display shows E1"
    assert (await agent2.get(f"/api/assist/conversations/{cid}")).status_code in (403, 404)
    assert (await (await bot_hub.client("km")).get(f"/api/assist/conversations/{cid}")).status_code == 403
    assert (await (await bot_hub.client()).get(f"/api/assist/conversations/{cid}")).status_code == 401
    full = await sup.ok("GET", f"/api/assist/conversations/{cid}")
    assert full["suggestions"]["suggestions"] and full["summary"]["text"]
    # insert into the reply: the answer text, and the use is recorded
    article = cur["suggestions"][0]["article_id"]
    ins = await agent1.ok("POST", f"/api/assist/conversations/{cid}/suggestions/{article}/insert")
    assert "E1" in ins["text"]
    assert "assist.suggestion_inserted" in await events_of(bot_hub, cid)
    bad = await agent1.post(f"/api/assist/conversations/{cid}/suggestions/nope/insert")
    assert bad.status_code == 404
    other = await agent2.post(f"/api/assist/conversations/{cid}/suggestions/{article}/insert")
    assert other.status_code in (403, 404)
    # the speech work's final transcript segments are queries too (partial ones are not)
    from hub.events import Event
    bus = bot_hub.services.bus
    await bus.dispatch([Event("transcript.segment", time.time(), conversation_id=cid,  # type: ignore[arg-type]
                              data={"text": "how do I set up a direct debit", "final": False})])
    await bus.dispatch([Event("transcript.segment", time.time(), conversation_id=cid,  # type: ignore[arg-type]
                              data={"text": "how can I set up a direct debit", "final": True,
                                    "speaker": "customer"})])
    got = await desk1.wait("assist", lambda a: "direct debit" in (a["query"] or ""), timeout=5)
    assert got["query"] == "how can I set up a direct debit"
    assert "direct debit" in got["suggestions"][0]["question"].lower()
    for r in (desk1, desk2, sup_desk, widget):
        await r.close()


async def test_entities_summary_and_category_for_a_conversation(bot_hub) -> None:  # type: ignore[no-untyped-def]
    agent1, desk1 = await agent_desk(bot_hub, "agent1")
    customer, widget, session = await start_chat(
        bot_hub, message="Can I talk to a person? My meter is broken.")
    cid = session["conversation_id"]
    await desk1.wait("offer", lambda o: o["conversation"]["id"] == cid, timeout=10)
    await agent1.ok("POST", f"/api/conversations/{cid}/accept")
    await widget.call("message", {"body": "My account number is GC-100231, call me on "
                                          "+86 138 0000 1111. I live at 12 Baker Street, London.",
                                  "client_id": "e1"})
    await widget.call("message", {"body": "我的户号是GC-200876，地址是上海市浦东新区世纪大道100号3栋"
                                          "501室，明天下午在家。", "client_id": "e2"})
    data = await agent1.ok("GET", f"/api/assist/conversations/{cid}")
    kinds = {(e["kind"], e["value"]) for e in data["entities"]}
    assert ("account", "GC-100231") in kinds and ("account", "GC-200876") in kinds
    assert ("phone", "+8613800001111") in kinds
    assert any(k == "address" and "Baker Street" in v for k, v in kinds)
    assert any(k == "address" and "世纪大道100号" in v for k, v in kinds)
    assert any(k == "date" for k, _ in kinds)
    assert "GC-100231" in data["summary"]["text"]
    # categories: learn from closed conversations with a disposition, then suggest
    svc = bot_hub.services.ports.assist
    assert await svc.suggest_category("gas leak smell in the kitchen") == []  # nothing learnt yet
    for i, (text, label) in enumerate([
        ("There is a strong smell of gas in my kitchen", "repair_order"),
        ("Gas leak near the boiler, please send someone", "repair_order"),
        ("My bill is wrong, I was charged twice", "complaint"),
        ("I want to complain about the rude engineer", "complaint"),
    ]):
        c, w, s = await start_chat(bot_hub, name=f"Cat {i}", email=f"cat{i}@example.com",
                                   message="Talk to a person please. " + text)
        await desk1.wait("offer", lambda o, x=s["conversation_id"]: o["conversation"]["id"] == x,
                         timeout=10)
        await agent1.ok("POST", f"/api/conversations/{s['conversation_id']}/accept")
        await agent1.ok("POST", f"/api/conversations/{s['conversation_id']}/close",
                        {"disposition": label})
        await agent1.ok("POST", "/api/agent/wrapup/end")
        await w.close()
    for _ in range(50):
        if len(svc.categories) >= 4:
            break
        await asyncio.sleep(0.1)
    r = await agent1.ok("POST", "/api/assist/category", {"text": "I can smell gas near my cooker"})
    assert r["items"][0]["category"] == "repair_order", r
    r = await agent1.ok("POST", "/api/assist/category", {"text": "you charged me twice on my bill"})
    assert r["items"][0]["category"] == "complaint", r
    bad = await agent1.post("/api/assist/category", {"text": "x", "conversation_id": cid})
    assert bad.status_code == 422
    await desk1.close()
    await widget.close()


async def test_without_the_knowledge_base_chats_go_to_people_and_assist_says_why(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.support.hub import running_hub

    async with running_hub(tmp_path / "data", kb_enabled=False, assist_bot="on") as hub:
        agent1, desk1 = await agent_desk(hub, "agent1")
        status = await agent1.ok("GET", "/api/assist/status")
        assert status["kb"] is False and status["bot_enabled"] is False
        assert "knowledge base is not running" in status["reason"]
        customer, widget, session = await start_chat(hub, message=KNOWN)
        cid = session["conversation_id"]
        await desk1.wait("offer", lambda o: o["conversation"]["id"] == cid, timeout=10)
        await agent1.ok("POST", f"/api/conversations/{cid}/accept")
        panel = await agent1.ok("GET", f"/api/assist/conversations/{cid}")
        assert panel["kb"] is False and panel["suggestions"]["suggestions"] == []
        assert panel["entities"] == [] and panel["summary"]["text"]
        r = await agent1.post(f"/api/assist/conversations/{cid}/suggestions/x/insert")
        assert r.status_code == 503 and r.json()["code"] == "kb_unavailable"
        r = await customer.post("/api/widget/handover")
        assert r.status_code == 409
        await desk1.close()
        await widget.close()
