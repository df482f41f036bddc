"""WO-1 "customer informed automatically" by SMS: completing a repair work order for a customer
with a phone number sends them an SMS through Kannel (the SMS channel registers itself as one of
the workflows' customer-notification channels)."""

from __future__ import annotations

import asyncio

from tests.channels.sms.conftest import poll
from tests.workflows.helpers import act, department_id, dispatch, new_work_order


async def test_completed_work_order_is_texted_to_the_customer(rig):
    hub = rig.hub
    admin = await hub.client("admin")
    [wang] = (await admin.ok("GET", "/api/contacts?q=Wang Fang"))["items"]
    agent = await hub.client("agent1")
    wo = await new_work_order(hub, agent, contact_id=wang["id"], title="Meter leaking")
    dispatcher = await hub.client("dispatch")
    await dispatch(hub, dispatcher, wo["id"], await department_id(dispatcher, "Pipe repairs"))
    pipes = await hub.client("pipes")
    for action in ("accept", "depart", "arrive", "fix"):
        await act(pipes, wo["id"], action)
    await act(pipes, wo["id"], "complete", result="Seal replaced")

    [got] = await rig.phone_gets(1, predicate=lambda g: g.receiver == "+8613700004444")
    assert f"#{wo['number']}" in got.text and "Seal replaced" in got.text

    def sms_result(w: dict) -> dict | None:
        for h in w["history"]:
            if h["kind"] == "customer_notified":
                return next((r for r in h["data"]["results"] if r["channel"] == "sms"), None)
        return None
    detail = await poll(lambda: dispatcher.ok("GET", f"/api/workorders/{wo['id']}"), sms_result)
    assert sms_result(detail)["status"] == "sent" and sms_result(detail)["to"] == "+8613700004444"


async def complete_for(hub, wo_id: str, result: str) -> None:  # type: ignore[no-untyped-def]
    dispatcher = await hub.client("dispatch")
    await dispatch(hub, dispatcher, wo_id, await department_id(dispatcher, "Pipe repairs"))
    pipes = await hub.client("pipes")
    for action in ("accept", "depart", "arrive", "fix"):
        await act(pipes, wo_id, action)
    await act(pipes, wo_id, "complete", result=result)


async def test_the_completion_sms_is_in_the_language_the_customer_chatted_in(rig):
    """Issue #17: a Chinese customer who chatted in the widget gets the notice in Chinese, an
    English one in English; a contact with no conversation gets their preferred language."""
    hub = rig.hub
    agent = await hub.client("agent1")
    orders = {}
    for phone, name, message, title in (
            ("+8613911112222", "陈静", "你好，厨房的燃气管道接口好像在漏气", "厨房燃气管道漏气"),
            ("+8613933334444", "Chen Jing", "Hello, the gas pipe in my kitchen seems to leak", "Kitchen pipe leak")):
        customer = await hub.client()
        session = await customer.ok("POST", "/api/widget/sessions",
                                    {"name": name, "phone": phone, "message": message}, status=201)
        conv = await agent.ok("GET", f"/api/conversations/{session['conversation_id']}")
        wo = await new_work_order(hub, agent, title=title, conversation_id=conv["id"],
                                  contact_id=conv["contact"]["id"])
        # the chat ends long before the repair: the notice goes by SMS (an ended chat reaches nobody)
        customer.http.headers["Authorization"] = f"Bearer {session['token']}"
        await customer.ok("POST", "/api/widget/close", {}, status=204)
        orders[phone] = wo
        await complete_for(hub, wo["id"], "更换了密封圈" if phone.endswith("2222") else "Seal replaced")

    zh, en = orders["+8613911112222"], orders["+8613933334444"]
    [got] = await rig.phone_gets(1, predicate=lambda g: g.receiver == "+8613911112222")
    assert got.text == f"您好，您的报修工单 #{zh['number']}（厨房燃气管道漏气）已处理完成。处理结果：更换了密封圈"
    [got] = await rig.phone_gets(1, predicate=lambda g: g.receiver == "+8613933334444")
    assert got.text == f"Your repair request #{en['number']} (Kitchen pipe leak) has been completed. " \
                       "Result: Seal replaced"

    # no conversation: the contact's preferred language (here English, though the hub's default is Chinese)
    admin = await hub.client("admin")
    [wang] = (await admin.ok("GET", "/api/contacts?q=Wang Fang"))["items"]
    assert (await admin.ok("PATCH", f"/api/contacts/{wang['id']}", {"language": "en"}))["language"] == "en"
    wo = await new_work_order(hub, agent, contact_id=wang["id"], title="Meter check")
    await complete_for(hub, wo["id"], "Meter replaced")
    [got] = await rig.phone_gets(1, predicate=lambda g: g.receiver == "+8613700004444")
    assert got.text.startswith(f"Your repair request #{wo['number']} (Meter check) has been completed.")


async def test_a_work_order_from_an_sms_conversation_is_told_there_once(rig):
    """#19 item 5: the notice goes on the channel and conversation the work order came from, once
    (it used to go there, by SMS again and into the contact's newest email thread)."""
    hub = rig.hub
    await rig.phone_sends("+8613700004444", "My meter is leaking again")
    agent = await hub.client("agent1")
    sup = await hub.client("supervisor")
    convs = await poll(lambda: sup.ok("GET", "/api/conversations?view=all&channel=sms"), lambda d: d["items"])
    [conv] = convs["items"]
    wo = await new_work_order(hub, agent, title="Meter leaking", conversation_id=conv["id"],
                              contact_id=conv["contact"]["id"])
    await complete_for(hub, wo["id"], "Seal replaced")
    [got] = await rig.phone_gets(1, predicate=lambda g: g.receiver == "+8613700004444")
    assert f"#{wo['number']}" in got.text and "Seal replaced" in got.text
    dispatcher = await hub.client("dispatch")
    detail = await poll(lambda: dispatcher.ok("GET", f"/api/workorders/{wo['id']}"),
                        lambda w: [h for h in w["history"] if h["kind"] == "customer_notified"])
    [notified] = [h for h in detail["history"] if h["kind"] == "customer_notified"]
    assert [(r["channel"], r["status"], r.get("via")) for r in notified["data"]["results"]] == [
        ("conversation", "sent", "sms")]
    thread = await sup.ok("GET", f"/api/conversations/{conv['id']}")
    assert [m["body"] for m in thread["messages"] if m["sender"] == "agent"] == [got.text]
    assert len([g for g in await asyncio.to_thread(rig.kannel.received) if g.receiver == "+8613700004444"]) == 1
