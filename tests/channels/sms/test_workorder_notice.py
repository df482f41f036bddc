"""WO-1 "customer informed automatically" by SMS: completing a repair work order for a customer
with a phone number sends them an SMS through Kannel (the SMS channel registers itself as one of
the workflows' customer-notification channels)."""

from __future__ import annotations

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
