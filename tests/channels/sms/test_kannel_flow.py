"""SMS end to end through a real Kannel: a phone (fakesmsc) writes → Kannel → the hub's get-url →
a conversation routed by the ACD to a ready agent → the agent's reply → sendsms → Kannel → the
phone; delivery reports come back through Kannel's dlr-url."""

from __future__ import annotations

import asyncio

from tests.api.helpers import agent_desk
from tests.channels.sms.conftest import poll

CUSTOMER = "+8613900139000"
LONG_CHINESE = ("您好，我家的燃气表从今天早上开始显示错误代码E3，厨房里还有一点点燃气的味道。"
                "请问需要我先关闭总阀门吗？维修人员大概什么时候可以上门检查？谢谢！")


async def wait_for(predicate, within_s: float = 15):  # type: ignore[no-untyped-def]
    return await poll(predicate, bool, within_s)


async def sms_rows(client, cid: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return (await client.ok("GET", f"/api/sms/conversations/{cid}"))["messages"]


async def test_inbound_sms_is_routed_to_an_agent_and_the_reply_reaches_the_phone_with_delivery_report(rig):
    agent, desk = await agent_desk(rig.hub, "agent1")
    await rig.phone_sends(CUSTOMER, "My gas meter shows E3")
    offer = await desk.wait("offer", lambda d: d["conversation"]["channel"] == "sms", timeout=15)
    cid = offer["conversation"]["id"]
    assert offer["conversation"]["contact"]["name"] == CUSTOMER

    # a second message from the same phone threads into the same conversation
    await rig.phone_sends("008613900139000", "It also smells of gas")  # same number, another form
    detail = await agent.ok("POST", f"/api/conversations/{cid}/accept")
    msgs = await wait_for(lambda: _customer_bodies(agent, cid, 2))
    assert msgs == ["My gas meter shows E3", "It also smells of gas"]
    assert detail["meta"]["sms"]["phone"] == CUSTOMER

    await agent.ok("POST", f"/api/conversations/{cid}/messages",
                   {"body": "Please open the windows; a technician is on the way."}, status=201)
    [got] = await rig.phone_gets(1)
    assert got.receiver == CUSTOMER and got.sender == "95007"
    assert got.text == "Please open the windows; a technician is on the way."

    # the agent sees the delivery state move to delivered (fakesmsc's SMSC reports it)
    status = await desk.wait("sms_status", lambda d: d["status"] == "delivered", timeout=15)
    assert status["conversation_id"] == cid
    out = [m for m in await sms_rows(agent, cid) if m["direction"] == "out"]
    assert [(m["status"], m["segments"], m["encoding"]) for m in out] == [("delivered", 1, "gsm7")]
    await desk.close()


async def _customer_bodies(agent, cid: str, count: int):  # type: ignore[no-untyped-def]
    d = await agent.ok("GET", f"/api/conversations/{cid}")
    bodies = [m["body"] for m in d["messages"] if m["sender"] == "customer"]
    return bodies if len(bodies) >= count else None


async def test_chinese_text_over_70_characters_arrives_and_leaves_intact(rig):
    assert len(LONG_CHINESE) > 70
    agent, desk = await agent_desk(rig.hub, "agent2")
    await rig.phone_sends(CUSTOMER, LONG_CHINESE, coding="ucs2")
    offer = await desk.wait("offer", lambda d: d["conversation"]["channel"] == "sms", timeout=15)
    cid = offer["conversation"]["id"]
    detail = await agent.ok("POST", f"/api/conversations/{cid}/accept")
    assert [m["body"] for m in detail["messages"] if m["sender"] == "customer"] == [LONG_CHINESE]

    reply = "您好！请立即关闭燃气总阀门，打开门窗通风，不要开关电器。维修人员将在三十分钟内到达，请保持电话畅通。" * 3
    assert len(reply) > 134  # three UCS-2 parts
    await agent.ok("POST", f"/api/conversations/{cid}/messages", {"body": reply}, status=201)
    [got] = await rig.phone_gets(1)
    assert got.text == reply
    assert got.parts == 3
    out = [m for m in await sms_rows(agent, cid) if m["direction"] == "out"]
    assert (out[0]["encoding"], out[0]["segments"]) == ("ucs2", 3)
    await desk.close()


async def test_invalid_numbers_are_refused_and_nothing_is_stored(rig):
    hub = rig.hub
    http = (await hub.client()).http
    r = await http.get("/api/sms/kannel/inbound", params={
        "token": "kannel-test-token", "from": "12345", "to": "95007", "text": "hi", "id": "x1"})
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid_phone_number"
    r = await http.get("/api/sms/kannel/inbound", params={
        "token": "wrong", "from": CUSTOMER, "to": "95007", "text": "hi", "id": "x2"})
    assert r.status_code == 403

    supervisor = await hub.client("supervisor")
    r = await supervisor.post("/api/sms/bulk", {"name": "Outage", "template": "Gas is back.",
                                                "numbers": [CUSTOMER, "+86 12", "not a number"]})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "invalid_phone_number"
    assert [e["row"] for e in body["errors"]] == [2, 3]
    assert (await supervisor.ok("GET", "/api/sms/bulk"))["items"] == []
    assert (await supervisor.ok("GET", "/api/sms/log"))["items"] == []
    assert (await supervisor.ok("GET", "/api/conversations", None) if False else True)
    convs = (await supervisor.ok("GET", "/api/conversations?view=all&channel=sms"))["items"]
    assert convs == []


async def test_kannel_post_url_delivers_the_text_as_the_body(tmp_path, database_url):
    from tests.channels.sms.conftest import start_rig

    rig = await start_rig(tmp_path, database_url, _mo_method="post")
    try:
        agent, desk = await agent_desk(rig.hub, "agent3")
        await rig.phone_sends(CUSTOMER, LONG_CHINESE + " a+b", coding="ucs2")
        offer = await desk.wait("offer", lambda d: d["conversation"]["channel"] == "sms", timeout=15)
        detail = await agent.ok("GET", f"/api/conversations/{offer['conversation']['id']}")
        assert [m["body"] for m in detail["messages"] if m["sender"] == "customer"] == [LONG_CHINESE + " a+b"]
        await desk.close()
    finally:
        await rig.hub.stop()
        await asyncio.to_thread(rig.kannel.stop)
