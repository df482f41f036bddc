"""The repair loop over the real API: a chat becomes a work order, dispatch assigns it, the
department works it with progress and a photo, the customer is told in the chat, dispatch closes
it; department users see only their own orders; the report and its CSV/XLSX exports."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook

from tests.api.helpers import agent_desk, queue_id, start_chat
from tests.support.sockets import Recorder
from tests.workflows.helpers import act, department_id, dispatch, new_work_order, notifications

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
       b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7V\xbd\xfa\x00\x00\x00"
       b"\x00IEND\xaeB`\x82")


async def test_chat_to_work_order_to_customer_notice_and_closure(hub):
    agent, desk = await agent_desk(hub, "agent1")
    general = await queue_id(agent, "General enquiries")
    customer, widget, session = await start_chat(hub, queue=general, message="Water leaking from the gas meter pipe")
    cid = session["conversation_id"]
    await desk.wait("offer", lambda d: d["conversation"]["id"] == cid)
    await agent.ok("POST", f"/api/conversations/{cid}/accept")

    prefill = await agent.ok("GET", f"/api/workorders/prefill?conversation_id={cid}")
    assert prefill["contact"]["name"] == "Zhang Wei"
    assert "Water leaking" in prefill["description"]
    wo = await new_work_order(hub, agent, conversation_id=cid, title=prefill["title"])
    assert wo["state"] == "new" and wo["contact_id"] == prefill["contact"]["id"]
    wid = wo["id"]

    dispatcher = await hub.client("dispatch")
    [new] = [n for n in await notifications(dispatcher) if n["kind"] == "workorder_new"]
    assert new["title"].startswith(f"New work order #{wo['number']}")
    assert new["text"]["code"] == "notify.workorder_new" and new["text"]["params"]["number"] == wo["number"]
    pipes = await hub.client("pipes")
    pipes_desk = await Recorder("/desk").connect(hub.base_url, cookie=pipes.cookie_header)
    meters = await hub.client("meters")
    pipe_dep = await department_id(dispatcher, "Pipe repairs")

    d = await dispatch(hub, dispatcher, wid, pipe_dep)
    assert d["state"] == "dispatched" and d["department"]["name"] == "Pipe repairs"
    live = await pipes_desk.wait("notification", lambda n: f"#{wo['number']}" in n["title"])
    assert live["unread"] >= 1 and live["link"] == f"/workorders/{wid}"

    # the other department neither lists nor opens nor moves it
    assert [i["id"] for i in (await meters.ok("GET", "/api/workorders"))["items"]] == []
    assert (await meters.get(f"/api/workorders/{wid}")).status_code == 404
    r = await meters.post(f"/api/workorders/{wid}/transitions", {"action": "accept"})
    assert r.status_code == 404
    # and a department user cannot dispatch even its own order
    r = await pipes.post(f"/api/workorders/{wid}/transitions", {"action": "cancel", "reason": "x"})
    assert r.status_code == 403 and r.json()["code"] == "forbidden"

    assert (await pipes.ok("GET", "/api/workorders"))["items"][0]["id"] == wid
    await act(pipes, wid, "accept")
    await act(pipes, wid, "depart", note="leaving the depot")
    await act(pipes, wid, "arrive")
    r = await pipes.http.post(f"/api/workorders/{wid}/attachments",
                              files={"file": ("pipe.png", PNG, "image/png")})
    assert r.status_code == 201, r.text
    photo = r.json()
    await act(pipes, wid, "fix", note="replaced the joint")
    done = await act(pipes, wid, "complete", result="Joint replaced, no more leak")
    assert done["state"] == "completed"

    # the customer is told in the chat, automatically
    notice = await widget.wait("message", lambda m: "has been completed" in m["body"], timeout=10)
    assert f"#{wo['number']}" in notice["body"] and "Joint replaced" in notice["body"]
    history = await customer.ok("GET", "/api/widget/conversation")
    assert any("has been completed" in m["body"] for m in history["messages"])

    closed = await act(dispatcher, wid, "close")
    assert closed["state"] == "closed"
    steps = [(h["action"], h["to_state"]) for h in closed["history"] if h["kind"] == "transition"]
    assert steps == [("create", "new"), ("dispatch", "dispatched"), ("accept", "accepted"),
                     ("depart", "departed"), ("arrive", "arrived"), ("fix", "fixed"),
                     ("complete", "completed"), ("close", "closed")]
    times = [h["at"] for h in closed["history"]]
    assert times == sorted(times) and all(t > 0 for t in times)
    notified = [h for h in closed["history"] if h["kind"] == "customer_notified"]
    assert len(notified) == 1
    assert notified[0]["data"]["results"][0]["channel"] == "conversation"
    assert notified[0]["data"]["results"][0]["status"] == "sent"
    # the outcome per channel as a code for the UI (channel and status are named in the reader's language)
    assert notified[0]["text"]["code"] == "history.customer_notified"
    assert notified[0]["text"]["params"]["results"][0] == {"channel": "conversation", "status": "sent", "detail": ""}
    assert notified[0]["body"].startswith("conversation: sent")
    photos = [a for h in closed["history"] for a in h["attachments"]]
    assert photos == [{"id": photo["id"], "filename": "pipe.png", "content_type": "image/png", "size": len(PNG)}]
    got = await dispatcher.get(f"/api/workorders/{wid}/attachments/{photo['id']}")
    assert got.status_code == 200 and got.content == PNG
    assert (await meters.get(f"/api/workorders/{wid}/attachments/{photo['id']}")).status_code == 404

    # the supervisor's report
    sup = await hub.client("supervisor")
    rep = await sup.ok("GET", "/api/reports/workorders")
    assert rep["by_state"]["closed"] == 1 and rep["total"] == 1
    assert all(rep["avg_step_s"][s] is not None for s in ("dispatch", "accept", "depart", "arrive", "fix",
                                                          "complete", "close"))
    assert rep["departments"][0]["department"] == "Pipe repairs"
    await desk.close()
    await widget.close()
    await pipes_desk.close()


async def test_reject_goes_back_to_dispatch_with_the_reason(hub):
    agent = await hub.client("agent2")
    dispatcher = await hub.client("dispatch")
    meters = await hub.client("meters")
    wo = await new_work_order(hub, agent, title="Meter display blank")
    dep = await department_id(dispatcher, "Meters")
    await dispatch(hub, dispatcher, wo["id"], dep)
    r = await meters.post(f"/api/workorders/{wo['id']}/transitions", {"action": "reject"})
    assert r.status_code == 422 and "reason" in r.json()["detail"]
    rejected = await act(meters, wo["id"], "reject", reason="needs the pipe crew")
    assert rejected["state"] == "rejected"
    assert rejected["history"][-1]["body"] == "needs the pipe crew"
    assert any("rejected" in n["title"] and n["body"] == "needs the pipe crew"
               for n in await notifications(dispatcher))
    pipes_dep = await department_id(dispatcher, "Pipe repairs")
    again = await dispatch(hub, dispatcher, wo["id"], pipes_dep)
    assert again["state"] == "dispatched" and again["department_id"] == pipes_dep
    # meters no longer sees it
    assert (await meters.get(f"/api/workorders/{wo['id']}")).status_code == 404


async def test_list_counts_by_state_and_overdue_first(hub):
    agent = await hub.client("agent1")
    dispatcher = await hub.client("dispatch")
    dep = await department_id(dispatcher, "Pipe repairs")
    a = await new_work_order(hub, agent, title="A")
    b = await new_work_order(hub, agent, title="B (overdue)")
    await new_work_order(hub, agent, title="C")
    await dispatch(hub, dispatcher, a["id"], dep)
    await dispatch(hub, dispatcher, b["id"], dep, start_in=-7200, length=3600)
    listing = await dispatcher.ok("GET", "/api/workorders")
    assert listing["items"][0]["id"] == b["id"] and listing["items"][0]["overdue"] is True
    assert listing["counts"]["new"] == 1 and listing["counts"]["dispatched"] == 2
    assert listing["overdue"] == 1
    only = await dispatcher.ok("GET", "/api/workorders?overdue=true")
    assert [i["id"] for i in only["items"]] == [b["id"]]
    by_state = await dispatcher.ok("GET", "/api/workorders?state=new")
    assert [i["title"] for i in by_state["items"]] == ["C"]
    r = await dispatcher.get("/api/workorders?state=bogus")
    assert r.status_code == 422


async def test_report_exports_csv_and_xlsx(hub):
    agent = await hub.client("agent1")
    dispatcher = await hub.client("dispatch")
    pipes = await hub.client("pipes")
    dep = await department_id(dispatcher, "Pipe repairs")
    wo = await new_work_order(hub, agent, title="Burst pipe")
    await dispatch(hub, dispatcher, wo["id"], dep)
    for step in ("accept", "depart", "arrive", "fix"):
        await act(pipes, wo["id"], step)
    await act(pipes, wo["id"], "complete", result="done")
    late = await new_work_order(hub, agent, title="Late one")
    await dispatch(hub, dispatcher, late["id"], dep, start_in=-7200, length=3600)

    r = await dispatcher.get("/api/reports/workorders?format=csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["number"], x["title"], x["state"], x["department"]) for x in rows] == [
        (str(wo["number"]), "Burst pipe", "completed", "Pipe repairs"),
        (str(late["number"]), "Late one", "dispatched", "Pipe repairs")]
    assert rows[0]["completed_at"] and rows[0]["accepted_at"] and rows[0]["complete_s"] != ""
    assert rows[1]["overdue"] == "yes" and rows[1]["accepted_at"] == ""

    r = await dispatcher.get("/api/reports/workorders?format=xlsx")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["Summary", "Departments", "Work orders"]
    summary = {row[0]: row[1] for row in wb["Summary"].iter_rows(values_only=True) if row and row[0]}
    assert summary["Total"] == 2 and summary["Overdue"] == 1 and summary["completed"] == 1
    deps = list(wb["Departments"].iter_rows(values_only=True))
    assert deps[1][0] == "Pipe repairs" and deps[1][1] == 2
    detail = list(wb["Work orders"].iter_rows(values_only=True))
    assert detail[1][1] == "Burst pipe" and detail[2][1] == "Late one"

    assert (await pipes.get("/api/reports/workorders")).status_code == 403
    assert (await agent.get("/api/reports/workorders?format=csv")).status_code == 403


async def test_report_exports_keep_formula_titles_as_text_and_durations_as_numbers(hub):
    """Issue #16, item 8: a work order titled like a formula is text in both exports."""
    agent = await hub.client("agent1")
    dispatcher = await hub.client("dispatch")
    pipes = await hub.client("pipes")
    dep = await department_id(dispatcher, "Pipe repairs")
    title = "=HYPERLINK(\"http://evil.example\",\"Details\")"
    wo = await new_work_order(hub, agent, title=title)
    await dispatch(hub, dispatcher, wo["id"], dep)
    await act(pipes, wo["id"], "accept")

    r = await dispatcher.get("/api/reports/workorders?format=csv")
    row = next(csv.DictReader(io.StringIO(r.text)))
    assert row["title"] == "'" + title
    assert float(row["accept_s"]) >= 0 and not row["accept_s"].startswith("'")

    r = await dispatcher.get("/api/reports/workorders?format=xlsx")
    ws = load_workbook(io.BytesIO(r.content))["Work orders"]
    header = [c.value for c in ws[1]]
    title_cell = ws.cell(row=2, column=header.index("title") + 1)
    assert title_cell.value == title and title_cell.data_type == "s" and title_cell.quotePrefix
    accept = ws.cell(row=2, column=header.index("accept_s") + 1)
    assert isinstance(accept.value, int | float) and accept.data_type == "n"
