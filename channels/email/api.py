"""HTTP routes of the email channel besides the message view (``adapter.py``): templates, the
email reply (subject, CC, template HTML), bulk and scheduled jobs.

Permissions: every staff member with ``desk`` lists, reads and renders templates (agents insert
them into replies); ``bulk_send`` (supervisors, admins) creates, changes and deletes templates
and runs bulk jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

import channels.email.schemas as S
from channels.email.templates import FIELDS, render
from hub.api.http import Api, json_response, parse_body, parse_query, require
from hub.api.schemas import MAX_OFFSET
from hub.api.uploads import read_form_file
from hub.errors import ValidationFailed
from hub.security import new_id
from hub.services.attachments import attachment_public

if TYPE_CHECKING:
    from channels.email.adapter import EmailChannel

class TemplateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    subject: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=20_000)
    html: str | None = Field(default=None, max_length=200_000)


class TemplatePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    subject: str | None = Field(default=None, min_length=1, max_length=300)
    body: str | None = Field(default=None, min_length=1, max_length=20_000)
    html: str | None = Field(default=None, max_length=200_000)


class RenderBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    conversation_id: str = Field(min_length=1, max_length=64)


class ReplyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(default="", max_length=10_000)
    subject: str | None = Field(default=None, max_length=300)
    cc: list[str] = Field(default_factory=list, max_length=10)
    attachment_ids: list[str] = Field(default_factory=list, max_length=10)
    template_id: str | None = Field(default=None, max_length=64)


class BulkRecipient(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=320)
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)


class ContactFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    q: str | None = Field(default=None, max_length=200)
    tag: str | None = Field(default=None, max_length=100)
    vip: bool | None = None


class BulkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    template_id: str = Field(min_length=1, max_length=64)
    recipients: list[BulkRecipient] = Field(default_factory=list)
    contact_filter: ContactFilter | None = None
    scheduled_at: float | None = None
    rate_per_s: float | None = None


class RecipientsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET)


def _float(value: str, name: str) -> float | None:
    value = value.strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError as err:
        raise ValidationFailed(f"{name} must be a number") from err


def register_routes(api: Api, ch: EmailChannel) -> None:  # noqa: C901 - a list of routes
    # --- templates ---------------------------------------------------------------------------
    @api.add("/api/email/templates", "GET", "Email templates (agents insert them into replies)",
             tag="email", response=S.EmailTemplates, access="desk")
    async def list_templates(request: Request) -> Response:
        await require(request, "desk")
        return json_response({"items": await ch.templates_svc.list(), "placeholders": list(FIELDS)})

    @api.add("/api/email/templates", "POST", "Create an email template (bulk_send)", tag="email",
             body=TemplateBody, status=201, response=S.EmailTemplate, access="bulk_send")
    async def create_template(request: Request) -> Response:
        user = await require(request, "bulk_send")
        body = await parse_body(request, TemplateBody)
        return json_response(await ch.templates_svc.create(body.model_dump(), user), 201)

    @api.add("/api/email/templates/{template_id}", "GET", "One email template", tag="email", response=S.EmailTemplate,
             access="desk")
    async def get_template(request: Request) -> Response:
        await require(request, "desk")
        return json_response(await ch.templates_svc.get(request.path_params["template_id"]))

    @api.add("/api/email/templates/{template_id}", "PATCH", "Change an email template (bulk_send)",
             tag="email", body=TemplatePatch, response=S.EmailTemplate, access="bulk_send")
    async def patch_template(request: Request) -> Response:
        await require(request, "bulk_send")
        body = await parse_body(request, TemplatePatch)
        return json_response(await ch.templates_svc.update(
            request.path_params["template_id"], body.model_dump(exclude_unset=True)))

    @api.add("/api/email/templates/{template_id}", "DELETE", "Delete an email template (bulk_send)",
             tag="email", status=204, access="bulk_send")
    async def delete_template(request: Request) -> Response:
        await require(request, "bulk_send")
        await ch.templates_svc.delete(request.path_params["template_id"])
        return Response(status_code=204)

    @api.add("/api/email/templates/{template_id}/render", "POST",
             "A template filled in for one conversation (subject, text, HTML)", tag="email",
             body=RenderBody, response=S.RenderedTemplate, access="desk")
    async def render_template(request: Request) -> Response:
        user = await require(request, "desk")
        body = await parse_body(request, RenderBody)
        conv = ch.services.conversations
        conv.require_view(user, await conv.row(body.conversation_id))
        tpl = await ch.templates_svc.get(request.path_params["template_id"])
        ctx = await ch.templates_svc.conversation_context(body.conversation_id, user)
        return json_response({"template_id": tpl["id"], **render(tpl, ctx)})

    # --- the email reply -----------------------------------------------------------------------
    @api.add("/api/email/conversations/{conversation_id}/reply", "POST",
             "Reply by email with a subject, CC, attachments and optionally a template's HTML",
             tag="email", body=ReplyBody, status=201, response=S.EmailReply, access="desk")
    async def reply(request: Request) -> Response:
        user = await require(request, "desk")
        body = await parse_body(request, ReplyBody)
        s = ch.services
        cid = request.path_params["conversation_id"]
        row = await s.conversations.row(cid)
        s.conversations.require_handler(user, row)
        if row.channel != "email":
            raise ValidationFailed("this conversation is not an email conversation")
        from channels.email.bulk import ADDRESS

        cc = [a.strip() for a in body.cc if a.strip()]
        bad = [a for a in cc if not ADDRESS.match(a)]
        if bad:
            listed = ", ".join(f'"{a}"' for a in bad)
            raise ValidationFailed(f"CC: not an email address: {listed}", details={"cc": bad})
        text = body.body.strip()
        html = None
        if body.template_id:
            tpl = await ch.templates_svc.get(body.template_id)
            filled = render(tpl, await ch.templates_svc.conversation_context(cid, user))
            # the template's HTML goes out only when the agent sent its text unchanged
            if filled["html"] and text == filled["body"].strip():
                html = filled["html"]
        atts = []
        for aid in dict.fromkeys(body.attachment_ids):
            try:
                atts.append(attachment_public(await s.attachments.get(aid)))
            except Exception as err:  # noqa: BLE001 - NotFound: a bad id changes nothing
                raise ValidationFailed("unknown or already used attachment id") from err
        assert ch.sender is not None
        values = await ch.sender.reply_values(
            row, body=text, attachments=atts, agent=user.display_name, key=f"out:{new_id()}",
            cc=cc, subject=body.subject, html=html)
        async with ch.emails.deduplicated(values):
            msg = await s.conversations.add_message(cid, sender="agent", body=text, user=user,
                                                    attachment_ids=body.attachment_ids or None,
                                                    extra_rows=ch.emails.rows_for(cid, values))
        stored = await ch.emails.for_message(msg["id"])
        ch.sender.spawn(stored)
        return json_response({**msg, "email": {"subject": values["subject"], "to": values["to_addrs"],
                                               "cc": cc, "status": "queued"}}, 201)

    # --- bulk jobs -----------------------------------------------------------------------------
    @api.add("/api/email/bulk", "POST",
             "Create a bulk (or scheduled) email job from recipients or a contact filter",
             tag="email", body=BulkBody, status=201, response=S.EmailBulkJob, access="bulk_send")
    async def create_bulk(request: Request) -> Response:
        user = await require(request, "bulk_send")
        body = await parse_body(request, BulkBody)
        recipients: list[dict[str, Any]] = [r.model_dump() for r in body.recipients]
        source = "list"
        if body.contact_filter is not None:
            if recipients:
                raise ValidationFailed("give recipients or a contact filter, not both")
            f = body.contact_filter
            recipients = await ch.bulk.contacts_matching(f.q, f.tag, f.vip)
            source = "contacts"
        job = await ch.bulk.create(name=body.name, template_id=body.template_id,
                                   recipients=recipients, scheduled_at=body.scheduled_at,
                                   rate_per_s=body.rate_per_s, user=user, source=source)
        return json_response(job, 201)

    @api.add("/api/email/bulk/csv", "POST",
             "Create a bulk email job from a CSV upload (multipart: file, name, template_id, "
             "scheduled_at, rate_per_s)", tag="email", status=201, response=S.EmailBulkJob, access="bulk_send")
    async def create_bulk_csv(request: Request) -> Response:
        user = await require(request, "bulk_send")
        upload = await read_form_file(request, fields=("name", "template_id", "scheduled_at", "rate_per_s"))
        when = _float(upload.fields["scheduled_at"], "scheduled_at")
        rate = _float(upload.fields["rate_per_s"], "rate_per_s")
        if not upload.fields["template_id"]:
            raise ValidationFailed("choose a template (template_id)")
        job = await ch.bulk.create_from_csv(
            name=upload.fields["name"] or upload.filename or "CSV upload",
            template_id=upload.fields["template_id"], data=upload.data, scheduled_at=when,
            rate_per_s=rate, user=user)
        return json_response(job, 201)

    @api.add("/api/email/bulk", "GET", "Bulk email jobs with progress", tag="email", response=S.EmailBulkJobs,
             access="bulk_send")
    async def list_bulk(request: Request) -> Response:
        await require(request, "bulk_send")
        return json_response({"items": await ch.bulk.list()})

    @api.add("/api/email/bulk/{job_id}", "GET", "One bulk email job with progress", tag="email",
             response=S.EmailBulkJob, access="bulk_send")
    async def get_bulk(request: Request) -> Response:
        await require(request, "bulk_send")
        return json_response(await ch.bulk.get(request.path_params["job_id"]))

    @api.add("/api/email/bulk/{job_id}/recipients", "GET",
             "Per-recipient state of a bulk email job (status filter: pending, queued, sent, "
             "failed, cancelled)", tag="email", query=RecipientsQuery, response=S.EmailBulkRecipients,
             access="bulk_send")
    async def bulk_recipients(request: Request) -> Response:
        await require(request, "bulk_send")
        q = parse_query(request, RecipientsQuery)
        return json_response(await ch.bulk.recipients(request.path_params["job_id"], q.status,
                                                      q.limit, q.offset))

    @api.add("/api/email/bulk/{job_id}/cancel", "POST", "Cancel a bulk email job", tag="email", response=S.EmailBulkJob,
             access="bulk_send")
    async def cancel_bulk(request: Request) -> Response:
        user = await require(request, "bulk_send")
        return json_response(await ch.bulk.cancel(request.path_params["job_id"], user))

    @api.add("/api/email/bulk/{job_id}/start", "POST", "Start a scheduled bulk email job now",
             tag="email", response=S.EmailBulkJob, access="bulk_send")
    async def start_bulk(request: Request) -> Response:
        await require(request, "bulk_send")
        return json_response(await ch.bulk.start_now(request.path_params["job_id"]))
