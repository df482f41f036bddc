"""Bulk sends, keyword self-service and opt-out through a real Kannel."""

from __future__ import annotations

import asyncio
import time

from tests.channels.sms.conftest import poll
from tests.support.sockets import Recorder

CUSTOMER = "+8613900139000"


def numbers(n: int, start: int = 0) -> list[str]:
    return [f"+86138{start + i:08d}" for i in range(n)]


async def test_bulk_send_of_1000_messages_completes_with_live_progress_and_delivery_reports(rig):
    supervisor = await rig.hub.client("supervisor")
    desk = await Recorder("/desk").connect(rig.hub.base_url, cookie=supervisor.cookie_header)
    recipients = [{"phone": n, "name": f"Customer {i}"} for i, n in enumerate(numbers(1000))]
    job = await supervisor.ok("POST", "/api/sms/bulk", {
        "name": "Maintenance notice", "template": "Dear {name}, gas maintenance on Friday 9-12.",
        "recipients": recipients}, status=201)
    assert job["status"] == "running" and job["total"] == 1000

    def finished(d: dict) -> bool:
        return d["id"] == job["id"] and d["counts"]["delivered"] == 1000
    done = await desk.wait("sms_bulk", finished, timeout=90)
    assert done["status"] == "done"
    assert done["counts"]["failed"] == 0 and done["counts"]["waiting"] == 0
    progress = [d["counts"]["sent"] for d in desk.received("sms_bulk") if d["id"] == job["id"]]
    assert len(progress) >= 2 and progress == sorted(progress)  # live, never backwards

    got = await rig.phone_gets(1000, within_s=30)
    assert {g.receiver for g in got} == set(numbers(1000))
    assert {g.text for g in got if g.receiver == numbers(1)[0]} == {
        "Dear Customer 0, gas maintenance on Friday 9-12."}
    assert (await supervisor.ok("GET", f"/api/sms/bulk/{job['id']}"))["counts"]["delivered"] == 1000
    await desk.close()


async def test_csv_upload_bulk_job_with_placeholders(rig):
    supervisor = await rig.hub.client("supervisor")
    csv_text = "phone,name,amount\n13800000001,王芳,120.50\n+8613800000002,Li Lei,8.00\n13800000001,王芳,120.50\n"
    r = await supervisor.http.post("/api/sms/bulk/csv", files={
        "file": ("bills.csv", csv_text.encode(), "text/csv")}, data={
        "name": "Bills", "template": "{name}，您本月燃气费 {amount} 元。"})
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["total"] == 2 and job["duplicates"] == 1
    got = await rig.phone_gets(2, within_s=20)
    assert sorted(g.text for g in got) == sorted(["王芳，您本月燃气费 120.50 元。",
                                                   "Li Lei，您本月燃气费 8.00 元。"])

    bad = await supervisor.http.post("/api/sms/bulk/csv", files={
        "file": ("x.csv", b"phone,name\n13800000003,\n", "text/csv")}, data={
        "name": "Broken", "template": "Hi {name}"})
    assert bad.status_code == 422
    assert "no value for {name}" in bad.json()["detail"]


async def test_keywords_answer_balance_and_stop_is_honoured_by_bulk_sends(rig):
    # the demo customer Zhang Wei (+86 138 0000 1111) has a balance in his contact record
    await rig.phone_sends("+8613800001111", "bal")
    [answer] = await rig.phone_gets(1)
    assert (answer.receiver, answer.text) == ("+8613800001111", "Your gas account balance is ¥126.40.")
    admin = await rig.hub.client("admin")
    [zhang] = (await admin.ok("GET", "/api/contacts?q=Zhang"))["items"]
    await admin.ok("PATCH", f"/api/contacts/{zhang['id']}", {"custom": {**zhang["custom"], "balance": "¥88.50"}})
    await rig.phone_sends("+8613800001111", "BAL")
    await rig.phone_gets(2, predicate=lambda g: g.receiver == "+8613800001111")
    assert (await asyncio.to_thread(rig.kannel.received))[-1].text == "Your gas account balance is ¥88.50."

    await rig.phone_sends("+8613700137000", "余额")
    [cn] = await rig.phone_gets(1, predicate=lambda g: g.receiver == "+8613700137000")
    assert cn.text == "未找到与 +8613700137000 关联的燃气账户。"

    await rig.phone_sends(CUSTOMER, "STOP")
    await rig.phone_gets(1, predicate=lambda g: g.receiver == CUSTOMER and "no more" in g.text)
    supervisor = await rig.hub.client("supervisor")
    assert [o["phone"] for o in (await supervisor.ok("GET", "/api/sms/optouts"))["items"]] == [CUSTOMER]
    # keyword messages are answered automatically, not routed to an agent
    convs = (await supervisor.ok("GET", "/api/conversations?view=all&channel=sms"))["items"]
    assert convs == []

    job = await supervisor.ok("POST", "/api/sms/bulk", {
        "name": "Promo", "template": "New tariffs from May.", "numbers": [CUSTOMER, "+8613600136000"]},
        status=201)
    j = await poll(lambda: supervisor.ok("GET", f"/api/sms/bulk/{job['id']}"),
                   lambda d: d["status"] == "done")
    assert j["counts"]["skipped"] == 1 and j["counts"]["sent"] == 1
    await rig.phone_gets(1, predicate=lambda g: g.receiver == "+8613600136000")
    promo = [g for g in await asyncio.to_thread(rig.kannel.received) if "tariffs" in g.text]
    assert [g.receiver for g in promo] == ["+8613600136000"]
    log = (await supervisor.ok("GET", "/api/sms/log?kind=keyword"))["items"]
    assert {m["keyword"] for m in log} == {"BAL", "余额", "STOP"}


async def test_scheduled_bulk_job_starts_when_its_timer_fires(rig):
    supervisor = await rig.hub.client("supervisor")
    when = time.time() + 2
    job = await supervisor.ok("POST", "/api/sms/bulk", {
        "name": "Tomorrow", "template": "Reminder: meter reading today.", "numbers": numbers(3, 500),
        "scheduled_at": when}, status=201)
    assert job["status"] == "scheduled" and job["counts"]["waiting"] == 3
    await asyncio.sleep(0.8)
    assert await asyncio.to_thread(rig.kannel.received) == []
    got = await rig.phone_gets(3, within_s=20)
    assert time.time() >= when
    assert {g.receiver for g in got} == set(numbers(3, 500))
