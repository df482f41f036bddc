"""A contact's language, set by staff on the contact (issue #17), is the language of a new
conversation with them that the channel did not name one for, ahead of the guess from their words:
every automatic text of that conversation (here the work order's completion notice) follows it."""

from __future__ import annotations

from tests.api.helpers import queue_id
from tests.support.wait import eventually
from tests.workflows.helpers import act, department_id, dispatch, new_work_order


async def test_a_contacts_language_decides_the_automatic_texts_of_their_new_conversation(hub):
    admin = await hub.client("admin")
    general = await queue_id(admin, "General enquiries")
    [zhang] = (await admin.ok("GET", "/api/contacts?q=Zhang Wei"))["items"]
    assert zhang["language"] is None
    assert (await admin.ok("PATCH", f"/api/contacts/{zhang['id']}", {"language": "en"}))["language"] == "en"

    # he writes in Chinese, but staff said he reads English: the conversation is English
    conv = await hub.services.conversations.open(
        channel="email", queue_id=general, identity={"email": "zhang.wei@example.com"},
        subject="燃气表", first_message="你好，我家的燃气表不走字了")
    sup = await hub.client("supervisor")
    assert (await sup.ok("GET", f"/api/conversations/{conv.id}"))["language"] == "en"

    # … and so is the completion notice the hub writes into it
    agent = await hub.client("agent1")
    wo = await new_work_order(hub, agent, title="Meter stuck", conversation_id=conv.id, contact_id=zhang["id"])
    dispatcher = await hub.client("dispatch")
    await dispatch(hub, dispatcher, wo["id"], await department_id(dispatcher, "Meters"))
    meters = await hub.client("meters")
    for action in ("accept", "depart", "arrive", "fix", "complete"):
        await act(meters, wo["id"], action)

    async def notice() -> str | None:
        msgs = (await sup.ok("GET", f"/api/conversations/{conv.id}"))["messages"]
        return next((m["body"] for m in msgs if m["sender"] == "agent"), None)
    body = await eventually(notice, what="the completion notice")
    assert body.startswith(f"Your repair request #{wo['number']} (Meter stuck) has been completed")

    # a contact with no language set: their words decide, as before
    [wang] = (await admin.ok("GET", "/api/contacts?q=Wang Fang"))["items"]
    assert wang["language"] is None
    other = await hub.services.conversations.open(
        channel="sms", queue_id=general, identity={"phone": wang["phone"]}, first_message="你好，燃气表坏了")
    assert other.language == "zh-CN"
