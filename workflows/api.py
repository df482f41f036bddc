"""HTTP endpoints of the workflows component. Each handler checks who is asking, validates the
body (pydantic, strict) and calls the component's services."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

import workflows.schemas as S
from hub.api.http import (
    Api,
    attachment_file,
    current_user,
    json_response,
    parse_body,
    parse_query,
    require,
    save_upload,
)
from hub.api.responses import Attachment
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


def _crud(api: Api, path: str, tag: str, service: Callable[[], Any], body_in: type[BaseModel],
          body_patch: type[BaseModel], summaries: tuple[str, str, str, str], *,
          read: tuple[str, ...], write: str, create_dump: dict[str, Any] | None = None,
          patch_dump: dict[str, Any] | None = None, model: Any = None) -> None:
    """The four routes of a configuration resource whose service (``service()``: the component
    creates it on start) has ``list``, ``create(data, user)``, ``update(id, data, user)`` and
    ``delete(id, user)``: reading needs one of ``read``, changing needs ``write``; ``model`` is
    the response model of one resource."""
    list_s, create_s, patch_s, delete_s = summaries

    async def listing(request: Request) -> Response:
        _require_any(await current_user(request), *read)
        return json_response(await service().list())

    async def create(request: Request) -> Response:
        user = await require(request, write)
        body = await parse_body(request, body_in)
        return json_response(await service().create(body.model_dump(**(create_dump or {})), user), 201)

    async def change(request: Request) -> Response:
        user = await require(request, write)
        body = await parse_body(request, body_patch)
        return json_response(await service().update(request.path_params["id"],
                                                  body.model_dump(**(patch_dump or {})), user))

    async def remove(request: Request) -> Response:
        user = await require(request, write)
        await service().delete(request.path_params["id"], user)
        return Response(status_code=204)

    api.add(path, "GET", list_s, tag=tag, response=list[model] if model is not None else None,
            access="|".join(read))(listing)
    api.add(path, "POST", create_s, tag=tag, body=body_in, status=201, response=model, access=write)(create)
    api.add(f"{path}/{{id}}", "PATCH", patch_s, tag=tag, body=body_patch, response=model, access=write)(change)
    api.add(f"{path}/{{id}}", "DELETE", delete_s, tag=tag, status=204, access=write)(remove)


def register(api: Api, wf: WorkflowsComponent) -> None:  # noqa: C901 - a flat list of routes
    # --- tickets ---------------------------------------------------------------------------------
    @api.add("/api/tickets", "GET", "List tickets", tag="tickets", query=TicketQuery, response=S.Tickets,
             access="tickets")
    async def tickets_list(request: Request) -> Response:
        user = await require(request, "tickets")
        q = parse_query(request, TicketQuery)
        return json_response({"items": await wf.tickets.list(
            status=q.status, type_=q.type, assignee_id=user.id if q.mine else None, q=q.q, limit=q.limit)})

    @api.add("/api/tickets/prefill", "GET", "A new ticket prefilled from a conversation",
             tag="tickets", query=PrefillQuery, response=S.TicketPrefill, access="tickets")
    async def tickets_prefill(request: Request) -> Response:
        user = await require(request, "tickets")
        q = parse_query(request, PrefillQuery)
        return json_response(await wf.tickets.prefill(user, q.conversation_id))

    @api.add("/api/tickets", "POST", "Create a ticket", tag="tickets", body=TicketIn, status=201,
             response=S.TicketDetail, access="tickets")
    async def tickets_create(request: Request) -> Response:
        user = await require(request, "tickets")
        body = await parse_body(request, TicketIn)
        return json_response(await wf.tickets.create(body.model_dump(), user), 201)

    @api.add("/api/tickets/{id}", "GET", "One ticket with history and SLA", tag="tickets", response=S.TicketDetail,
             access="tickets")
    async def tickets_get(request: Request) -> Response:
        user = await require(request, "tickets")
        return json_response(await wf.tickets.get(request.path_params["id"], user))

    @api.add("/api/tickets/{id}", "PATCH", "Change a ticket (type, priority, assignee …)",
             tag="tickets", body=TicketPatch, response=S.TicketDetail, access="tickets")
    async def tickets_patch(request: Request) -> Response:
        user = await require(request, "tickets")
        body = await parse_body(request, TicketPatch)
        return json_response(await wf.tickets.update(request.path_params["id"],
                                                     body.model_dump(exclude_none=True), user))

    @api.add("/api/tickets/{id}/status", "POST", "Change a ticket's status", tag="tickets",
             body=TicketStatusIn, response=S.TicketDetail, access="tickets")
    async def tickets_status(request: Request) -> Response:
        user = await require(request, "tickets")
        body = await parse_body(request, TicketStatusIn)
        return json_response(await wf.tickets.set_status(request.path_params["id"], body.status, user,
                                                         body.note))

    @api.add("/api/tickets/{id}/notes", "POST", "Add an internal note", tag="tickets", body=NoteIn,
             status=201, response=S.TicketDetail, access="tickets")
    async def tickets_note(request: Request) -> Response:
        user = await require(request, "tickets")
        body = await parse_body(request, NoteIn)
        return json_response(await wf.tickets.add_note(request.path_params["id"], body.body, user), 201)

    @api.add("/api/tickets/{id}/links", "POST", "Link a conversation", tag="tickets", body=LinkIn,
             response=S.TicketDetail, access="tickets")
    async def tickets_link(request: Request) -> Response:
        user = await require(request, "tickets")
        body = await parse_body(request, LinkIn)
        return json_response(await wf.tickets.link(request.path_params["id"], body.conversation_id, user))

    @api.add("/api/tickets/{id}/attachments", "POST", "Attach a file (multipart field 'file')",
             tag="tickets", status=201, response=Attachment, access="tickets")
    async def tickets_attach(request: Request) -> Response:
        user = await require(request, "tickets")
        tid = request.path_params["id"]
        await wf.tickets.row(tid)
        att = await save_upload(request, request.app.state.services.attachments, f"user:{user.id}")
        await wf.tickets.add_note(tid, f"attached {att['filename']}", user, [att["id"]])
        return json_response(att, 201)

    @api.add("/api/tickets/{id}/attachments/{aid}", "GET", "Download a ticket attachment", tag="tickets",
             access="tickets")
    async def tickets_download(request: Request) -> Response:
        user = await require(request, "tickets")
        tid, aid = request.path_params["id"], request.path_params["aid"]
        if aid not in await wf.tickets.attachment_ids(tid):
            raise NotFound("attachment does not exist")
        return await _file(request, user, aid, "ticket")

    # --- work orders -----------------------------------------------------------------------------
    @api.add("/api/workorders", "GET", "Work orders (overdue first) with counts by state",
             tag="workorders", query=WorkOrderQuery, response=S.WorkOrders, access="tickets|dispatch|department")
    async def wo_list(request: Request) -> Response:
        user = await current_user(request)
        q = parse_query(request, WorkOrderQuery)
        return json_response(await wf.workorders.list(user, state=q.state, department_id=q.department_id,
                                                      overdue=q.overdue, q=q.q, limit=q.limit))

    @api.add("/api/workorders/prefill", "GET", "A new work order prefilled from a conversation",
             tag="workorders", query=PrefillQuery, response=S.WorkOrderPrefill, access="tickets")
    async def wo_prefill(request: Request) -> Response:
        user = await require(request, "tickets")
        q = parse_query(request, PrefillQuery)
        p = await wf.tickets.prefill(user, q.conversation_id)
        custom = (p["contact"] or {}).get("custom") or {}
        said = next((e["value"] for e in p["entities"] if e["kind"] == "address"), None)
        # where the customer says the repair is (this conversation) before the address on file
        return json_response({**p, "title": p["subject"], "address": said or custom.get("address")})

    @api.add("/api/workorders", "POST", "Create a repair work order", tag="workorders",
             body=WorkOrderIn, status=201, response=S.WorkOrder, access="tickets")
    async def wo_create(request: Request) -> Response:
        user = await require(request, "tickets")
        body = await parse_body(request, WorkOrderIn)
        return json_response(await wf.workorders.create(body.model_dump(), user), 201)

    @api.add("/api/workorders/{id}", "GET", "One work order with its timestamped history",
             tag="workorders", response=S.WorkOrderDetail, access="tickets|dispatch|department")
    async def wo_get(request: Request) -> Response:
        user = await current_user(request)
        return json_response(await wf.workorders.get(user, request.path_params["id"]))

    @api.add("/api/workorders/{id}/transitions", "POST",
             "Move a work order: dispatch, accept, reject, depart, arrive, fix, complete, close, "
             "reopen, cancel", tag="workorders", body=TransitionIn, response=S.WorkOrderDetail,
             access="tickets|dispatch|department")
    async def wo_transition(request: Request) -> Response:
        user = await current_user(request)
        body = await parse_body(request, TransitionIn)
        return json_response(await wf.workorders.transition(user, request.path_params["id"], body.action,
                                                            body.model_dump()))

    @api.add("/api/workorders/{id}/notes", "POST", "Add a progress note", tag="workorders",
             body=NoteIn, status=201, response=S.WorkOrderDetail, access="tickets|dispatch|department")
    async def wo_note(request: Request) -> Response:
        user = await current_user(request)
        body = await parse_body(request, NoteIn)
        return json_response(await wf.workorders.add_note(user, request.path_params["id"], body.body), 201)

    @api.add("/api/workorders/{id}/attachments", "POST",
             "Upload a photo or document to the work order (multipart field 'file')",
             tag="workorders", status=201, response=Attachment, access="tickets|dispatch|department")
    async def wo_attach(request: Request) -> Response:
        user = await current_user(request)
        wid = request.path_params["id"]
        await wf.workorders.get(user, wid)  # visibility
        att = await save_upload(request, request.app.state.services.attachments, f"user:{user.id}")
        await wf.workorders.add_note(user, wid, f"photo {att['filename']}", [att["id"]])
        return json_response(att, 201)

    @api.add("/api/workorders/{id}/attachments/{aid}", "GET", "Download a work-order attachment",
             tag="workorders", access="tickets|dispatch|department")
    async def wo_download(request: Request) -> Response:
        user = await current_user(request)
        wid, aid = request.path_params["id"], request.path_params["aid"]
        await wf.workorders.get(user, wid)
        if aid not in await wf.workorders.attachment_ids(wid):
            raise NotFound("attachment does not exist")
        return await _file(request, user, aid, "workorder")

    # --- departments, SLA policies, rules: list / create / change / delete ---------------------------
    _crud(api, "/api/departments", "workorders", lambda: wf.departments, DepartmentIn, DepartmentPatch,
          ("Repair departments", "Create a department", "Change a department", "Delete a department"),
          read=("tickets", "dispatch", "department", "automation", "admin", "reports"), write="admin",
          patch_dump={"exclude_none": True}, model=S.Department)
    _crud(api, "/api/sla-policies", "automation", lambda: wf.sla_policies, SlaPolicyIn, SlaPolicyPatch,
          ("SLA policies", "Create an SLA policy", "Change an SLA policy", "Delete an SLA policy"),
          read=("automation", "tickets"), write="automation", patch_dump={"exclude_unset": True},
          model=S.SlaPolicy)
    _crud(api, "/api/rules", "automation", lambda: wf.rules, RuleIn, RulePatch,
          ("Automation rules", "Create a rule", "Change a rule", "Delete a rule"),
          read=("automation",), write="automation", create_dump={"exclude_none": True},
          patch_dump={"exclude_none": True}, model=S.Rule)

    @api.add("/api/rules/events", "GET", "Events, operators and actions a rule can use",
             tag="automation", response=S.RuleVocabulary, access="automation")
    async def rules_meta(request: Request) -> Response:
        await require(request, "automation")
        from workflows import rules as R

        return json_response({"events": list(R.RULE_EVENTS), "operators": list(R.OPS),
                              "actions": list(R.ACTION_TYPES), "roots": list(R.ROOTS)})

    @api.add("/api/rules/dry-run", "POST", "Which rules would fire for an event, and what they would do",
             tag="automation", body=DryRunIn, response=S.DryRun, access="automation")
    async def rules_dry_run(request: Request) -> Response:
        await require(request, "automation")
        body = await parse_body(request, DryRunIn)
        extra = None
        if body.rule is not None:
            extra = body.rule.model_dump(exclude_none=True)
        return json_response(await wf.rules.dry_run(body.event.model_dump(), extra, body.at))

    @api.add("/api/callbacks", "GET", "Callback tasks requested by rules", tag="automation", response=list[S.Callback],
             access="automation|supervise|desk")
    async def callbacks_list(request: Request) -> Response:
        user = await current_user(request)
        _require_any(user, "automation", "supervise", "desk")
        return json_response(await wf.rules.callbacks())

    # --- notifications -------------------------------------------------------------------------------
    @api.add("/api/notifications", "GET", "My notifications and the unread count", tag="notifications",
             query=NotificationsQuery, response=S.Notifications, access="authenticated")
    async def notif_list(request: Request) -> Response:
        user = await current_user(request)
        q = parse_query(request, NotificationsQuery)
        return json_response(await wf.notifier.list(user.id, q.unread, q.limit))

    @api.add("/api/notifications/read", "POST", "Mark notifications read", tag="notifications",
             body=ReadIn, response=S.UnreadCount, access="authenticated")
    async def notif_read(request: Request) -> Response:
        user = await current_user(request)
        body = await parse_body(request, ReadIn)
        return json_response({"unread": await wf.notifier.mark_read(user.id, body.ids, body.all)})

    # --- reports -------------------------------------------------------------------------------------
    @api.add("/api/reports/workorders", "GET",
             "Work-order loop report: counts by state, overdue, average time per step, per department "
             "(format=json|csv|xlsx)", tag="reports", query=ReportQuery, response=S.WorkOrderReport, access="reports")
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


async def _file(request: Request, user: User, aid: str, via: str) -> Response:
    row = await request.app.state.services.attachments.get(aid)
    return await attachment_file(request, row, user, via=via)
