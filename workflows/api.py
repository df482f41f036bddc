"""HTTP endpoints of the workflows component. Each handler checks who is asking, validates the
body (pydantic, strict) and calls the component's services."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from hub.api.http import Api, current_user, json_response, parse_body, parse_query, require, save_upload
from hub.errors import Forbidden, NotFound
from workflows.schemas import (
    DepartmentIn,
    DepartmentPatch,
    DryRunIn,
    LinkIn,
    NoteIn,
    NotificationsQuery,
    PrefillQuery,
    ReadIn,
    ReportQuery,
    RuleIn,
    RulePatch,
    SlaPolicyIn,
    SlaPolicyPatch,
    TicketIn,
    TicketPatch,
    TicketQuery,
    TicketStatusIn,
    TransitionIn,
    WorkOrderIn,
    WorkOrderQuery,
)

if TYPE_CHECKING:
    from hub.services.auth import User
    from workflows.component import WorkflowsComponent


def _require_any(user: User, *perms: str) -> None:
    if not any(p in user.permissions for p in perms):
        raise Forbidden(f"this needs one of the permissions {list(perms)}")


def register(api: Api, wf: WorkflowsComponent) -> None:  # noqa: C901 - a flat list of routes
    # --- tickets ---------------------------------------------------------------------------------
    @api.add("/api/tickets", "GET", "List tickets", tag="tickets", query=TicketQuery)
    async def tickets_list(request: Request) -> Response:
        user = await require(request, "tickets")
        q = parse_query(request, TicketQuery)
        return json_response({"items": await wf.tickets.list(
            status=q.status, type_=q.type, assignee_id=user.id if q.mine else None, q=q.q, limit=q.limit)})

    @api.add("/api/tickets/prefill", "GET", "A new ticket prefilled from a conversation",
             tag="tickets", query=PrefillQuery)
    async def tickets_prefill(request: Request) -> Response:
        user = await require(request, "tickets")
        q = parse_query(request, PrefillQuery)
        return json_response(await wf.tickets.prefill(user, q.conversation_id))

    @api.add("/api/tickets", "POST", "Create a ticket", tag="tickets", body=TicketIn, status=201)
    async def tickets_create(request: Request) -> Response:
        user = await require(request, "tickets")
        body = await parse_body(request, TicketIn)
        if body.conversation_id and "desk" in user.permissions:
            s = request.app.state.services
            s.conversations.require_view(user, await s.conversations.row(body.conversation_id))
        return json_response(await wf.tickets.create(body.model_dump(), user), 201)

    @api.add("/api/tickets/{id}", "GET", "One ticket with history and SLA", tag="tickets")
    async def tickets_get(request: Request) -> Response:
        await require(request, "tickets")
        return json_response(await wf.tickets.get(request.path_params["id"]))

    @api.add("/api/tickets/{id}", "PATCH", "Change a ticket (type, priority, assignee …)",
             tag="tickets", body=TicketPatch)
    async def tickets_patch(request: Request) -> Response:
        user = await require(request, "tickets")
        body = await parse_body(request, TicketPatch)
        return json_response(await wf.tickets.update(request.path_params["id"],
                                                     body.model_dump(exclude_none=True), user))

    @api.add("/api/tickets/{id}/status", "POST", "Change a ticket's status", tag="tickets",
             body=TicketStatusIn)
    async def tickets_status(request: Request) -> Response:
        user = await require(request, "tickets")
        body = await parse_body(request, TicketStatusIn)
        return json_response(await wf.tickets.set_status(request.path_params["id"], body.status, user,
                                                         body.note))

    @api.add("/api/tickets/{id}/notes", "POST", "Add an internal note", tag="tickets", body=NoteIn,
             status=201)
    async def tickets_note(request: Request) -> Response:
        user = await require(request, "tickets")
        body = await parse_body(request, NoteIn)
        return json_response(await wf.tickets.add_note(request.path_params["id"], body.body, user), 201)

    @api.add("/api/tickets/{id}/links", "POST", "Link a conversation", tag="tickets", body=LinkIn)
    async def tickets_link(request: Request) -> Response:
        user = await require(request, "tickets")
        body = await parse_body(request, LinkIn)
        return json_response(await wf.tickets.link(request.path_params["id"], body.conversation_id, user))

    @api.add("/api/tickets/{id}/attachments", "POST", "Attach a file (multipart field 'file')",
             tag="tickets", status=201)
    async def tickets_attach(request: Request) -> Response:
        user = await require(request, "tickets")
        tid = request.path_params["id"]
        await wf.tickets.row(tid)
        att = await save_upload(request, request.app.state.services.attachments, f"user:{user.id}")
        await wf.tickets.add_note(tid, f"attached {att['filename']}", user, [att["id"]])
        return json_response(att, 201)

    @api.add("/api/tickets/{id}/attachments/{aid}", "GET", "Download a ticket attachment", tag="tickets")
    async def tickets_download(request: Request) -> Response:
        await require(request, "tickets")
        tid, aid = request.path_params["id"], request.path_params["aid"]
        if aid not in await wf.tickets.attachment_ids(tid):
            raise NotFound("attachment does not exist")
        return await _file(request, aid)

    # --- work orders -----------------------------------------------------------------------------
    @api.add("/api/workorders", "GET", "Work orders (overdue first) with counts by state",
             tag="workorders", query=WorkOrderQuery)
    async def wo_list(request: Request) -> Response:
        user = await current_user(request)
        q = parse_query(request, WorkOrderQuery)
        return json_response(await wf.workorders.list(user, state=q.state, department_id=q.department_id,
                                                      overdue=q.overdue, q=q.q, limit=q.limit))

    @api.add("/api/workorders/prefill", "GET", "A new work order prefilled from a conversation",
             tag="workorders", query=PrefillQuery)
    async def wo_prefill(request: Request) -> Response:
        user = await require(request, "tickets")
        q = parse_query(request, PrefillQuery)
        p = await wf.tickets.prefill(user, q.conversation_id)
        custom = (p["contact"] or {}).get("custom") or {}
        return json_response({**p, "title": p["subject"], "address": custom.get("address")})

    @api.add("/api/workorders", "POST", "Create a repair work order", tag="workorders",
             body=WorkOrderIn, status=201)
    async def wo_create(request: Request) -> Response:
        user = await require(request, "tickets")
        body = await parse_body(request, WorkOrderIn)
        if body.conversation_id and "desk" in user.permissions:
            s = request.app.state.services
            s.conversations.require_view(user, await s.conversations.row(body.conversation_id))
        return json_response(await wf.workorders.create(body.model_dump(), user), 201)

    @api.add("/api/workorders/{id}", "GET", "One work order with its timestamped history",
             tag="workorders")
    async def wo_get(request: Request) -> Response:
        user = await current_user(request)
        return json_response(await wf.workorders.get(user, request.path_params["id"]))

    @api.add("/api/workorders/{id}/transitions", "POST",
             "Move a work order: dispatch, accept, reject, depart, arrive, fix, complete, close, "
             "reopen, cancel", tag="workorders", body=TransitionIn)
    async def wo_transition(request: Request) -> Response:
        user = await current_user(request)
        body = await parse_body(request, TransitionIn)
        return json_response(await wf.workorders.transition(user, request.path_params["id"], body.action,
                                                            body.model_dump()))

    @api.add("/api/workorders/{id}/notes", "POST", "Add a progress note", tag="workorders",
             body=NoteIn, status=201)
    async def wo_note(request: Request) -> Response:
        user = await current_user(request)
        body = await parse_body(request, NoteIn)
        return json_response(await wf.workorders.add_note(user, request.path_params["id"], body.body), 201)

    @api.add("/api/workorders/{id}/attachments", "POST",
             "Upload a photo or document to the work order (multipart field 'file')",
             tag="workorders", status=201)
    async def wo_attach(request: Request) -> Response:
        user = await current_user(request)
        wid = request.path_params["id"]
        await wf.workorders.get(user, wid)  # visibility
        att = await save_upload(request, request.app.state.services.attachments, f"user:{user.id}")
        await wf.workorders.add_note(user, wid, f"photo {att['filename']}", [att["id"]])
        return json_response(att, 201)

    @api.add("/api/workorders/{id}/attachments/{aid}", "GET", "Download a work-order attachment",
             tag="workorders")
    async def wo_download(request: Request) -> Response:
        user = await current_user(request)
        wid, aid = request.path_params["id"], request.path_params["aid"]
        await wf.workorders.get(user, wid)
        if aid not in await wf.workorders.attachment_ids(wid):
            raise NotFound("attachment does not exist")
        return await _file(request, aid)

    # --- departments -----------------------------------------------------------------------------
    @api.add("/api/departments", "GET", "Repair departments", tag="workorders")
    async def dep_list(request: Request) -> Response:
        user = await current_user(request)
        _require_any(user, "tickets", "dispatch", "department", "automation", "admin", "reports")
        return json_response(await wf.departments.list())

    @api.add("/api/departments", "POST", "Create a department", tag="workorders", body=DepartmentIn,
             status=201)
    async def dep_create(request: Request) -> Response:
        user = await require(request, "admin")
        body = await parse_body(request, DepartmentIn)
        return json_response(await wf.departments.create(body.model_dump(), user), 201)

    @api.add("/api/departments/{id}", "PATCH", "Change a department", tag="workorders",
             body=DepartmentPatch)
    async def dep_patch(request: Request) -> Response:
        user = await require(request, "admin")
        body = await parse_body(request, DepartmentPatch)
        return json_response(await wf.departments.update(request.path_params["id"],
                                                         body.model_dump(exclude_none=True), user))

    @api.add("/api/departments/{id}", "DELETE", "Delete a department", tag="workorders", status=204)
    async def dep_delete(request: Request) -> Response:
        user = await require(request, "admin")
        await wf.departments.delete(request.path_params["id"], user)
        return Response(status_code=204)

    # --- SLA policies ------------------------------------------------------------------------------
    @api.add("/api/sla-policies", "GET", "SLA policies", tag="automation")
    async def sla_list(request: Request) -> Response:
        user = await current_user(request)
        _require_any(user, "automation", "tickets")
        return json_response(await wf.sla_policies.list())

    @api.add("/api/sla-policies", "POST", "Create an SLA policy", tag="automation", body=SlaPolicyIn,
             status=201)
    async def sla_create(request: Request) -> Response:
        user = await require(request, "automation")
        body = await parse_body(request, SlaPolicyIn)
        return json_response(await wf.sla_policies.create(body.model_dump(), user), 201)

    @api.add("/api/sla-policies/{id}", "PATCH", "Change an SLA policy", tag="automation",
             body=SlaPolicyPatch)
    async def sla_patch(request: Request) -> Response:
        user = await require(request, "automation")
        body = await parse_body(request, SlaPolicyPatch)
        return json_response(await wf.sla_policies.update(request.path_params["id"],
                                                          body.model_dump(exclude_unset=True), user))

    @api.add("/api/sla-policies/{id}", "DELETE", "Delete an SLA policy", tag="automation", status=204)
    async def sla_delete(request: Request) -> Response:
        user = await require(request, "automation")
        await wf.sla_policies.delete(request.path_params["id"], user)
        return Response(status_code=204)

    # --- rules ---------------------------------------------------------------------------------------
    @api.add("/api/rules", "GET", "Automation rules", tag="automation")
    async def rules_list(request: Request) -> Response:
        await require(request, "automation")
        return json_response(await wf.rules.list())

    @api.add("/api/rules/events", "GET", "Events, operators and actions a rule can use",
             tag="automation")
    async def rules_meta(request: Request) -> Response:
        await require(request, "automation")
        from workflows import rules as R

        return json_response({"events": list(R.RULE_EVENTS), "operators": list(R.OPS),
                              "actions": list(R.ACTION_TYPES), "roots": list(R.ROOTS)})

    @api.add("/api/rules", "POST", "Create a rule", tag="automation", body=RuleIn, status=201)
    async def rules_create(request: Request) -> Response:
        user = await require(request, "automation")
        body = await parse_body(request, RuleIn)
        return json_response(await wf.rules.create(body.model_dump(exclude_none=True), user), 201)

    @api.add("/api/rules/dry-run", "POST", "Which rules would fire for an event, and what they would do",
             tag="automation", body=DryRunIn)
    async def rules_dry_run(request: Request) -> Response:
        await require(request, "automation")
        body = await parse_body(request, DryRunIn)
        extra = None
        if body.rule is not None:
            extra = body.rule.model_dump(exclude_none=True)
        return json_response(await wf.rules.dry_run(body.event.model_dump(), extra, body.at))

    @api.add("/api/rules/{id}", "PATCH", "Change a rule", tag="automation", body=RulePatch)
    async def rules_patch(request: Request) -> Response:
        user = await require(request, "automation")
        body = await parse_body(request, RulePatch)
        return json_response(await wf.rules.update(request.path_params["id"],
                                                   body.model_dump(exclude_none=True), user))

    @api.add("/api/rules/{id}", "DELETE", "Delete a rule", tag="automation", status=204)
    async def rules_delete(request: Request) -> Response:
        user = await require(request, "automation")
        await wf.rules.delete(request.path_params["id"], user)
        return Response(status_code=204)

    @api.add("/api/callbacks", "GET", "Callback tasks requested by rules", tag="automation")
    async def callbacks_list(request: Request) -> Response:
        user = await current_user(request)
        _require_any(user, "automation", "supervise", "desk")
        return json_response(await wf.rules.callbacks())

    # --- notifications -------------------------------------------------------------------------------
    @api.add("/api/notifications", "GET", "My notifications and the unread count", tag="notifications",
             query=NotificationsQuery)
    async def notif_list(request: Request) -> Response:
        user = await current_user(request)
        q = parse_query(request, NotificationsQuery)
        return json_response(await wf.notifier.list(user.id, q.unread, q.limit))

    @api.add("/api/notifications/read", "POST", "Mark notifications read", tag="notifications",
             body=ReadIn)
    async def notif_read(request: Request) -> Response:
        user = await current_user(request)
        body = await parse_body(request, ReadIn)
        return json_response({"unread": await wf.notifier.mark_read(user.id, body.ids, body.all)})

    # --- reports -------------------------------------------------------------------------------------
    @api.add("/api/reports/workorders", "GET",
             "Work-order loop report: counts by state, overdue, average time per step, per department "
             "(format=json|csv|xlsx)", tag="reports", query=ReportQuery)
    async def report(request: Request) -> Response:
        await require(request, "reports")
        q = parse_query(request, ReportQuery)
        data = await wf.reports.workorders(department_id=q.department_id, since=q.since, until=q.until)
        if q.format == "csv":
            return Response(wf.reports.csv(data), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": 'attachment; filename="workorders.csv"'})
        if q.format == "xlsx":
            return Response(wf.reports.xlsx(data),
                            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                            headers={"Content-Disposition": 'attachment; filename="workorders.xlsx"'})
        return json_response(data)


async def _file(request: Request, aid: str) -> Response:
    s = request.app.state.services
    row = await s.attachments.get(aid)
    return FileResponse(s.attachments.path_for(row.id), media_type=row.content_type, filename=row.filename,
                        headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox"})
