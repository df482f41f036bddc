"""The SMS channel (SMS-1): Kannel or SMPP gateway, conversations threaded by phone number,
keyword self-service, bulk and scheduled sends, delivery reports.

Talks to the hub only through its services and events (``Channel`` protocol of ``hub.app``)."""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import socketio
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

import channels.sms.schemas as S
import channels.sms.segments as segments
import channels.sms.texts as texts
from channels.sms.bulk import TIMER_KIND, BulkService
from channels.sms.gateway import DeliveryReport, GatewaySink, InboundSms, SmsGateway
from channels.sms.kannel import KannelGateway, dlr_status
from channels.sms.outbound import OutboundWorker
from channels.sms.privacy import SmsPersonalData
from channels.sms.service import SmsService, StatusUpdate
from channels.sms.settings import SmsSettings
from hub.api.http import Api, current_user, json_response, parse_body, require
from hub.api.uploads import read_form_file
from hub.errors import Forbidden, HubError, NotFound, PayloadTooLarge, ValidationFailed
from hub.services.outbound_replies import OutboundReplies

if TYPE_CHECKING:
    from hub.app import Services

log = logging.getLogger(__name__)

class InboundDisabled(HubError):
    code, status, title = "sms_inbound_disabled", 503, "Inbound SMS is not configured"


class Recipient(BaseModel):
    model_config = ConfigDict(extra="allow")
    phone: str = Field(max_length=64)


class BulkBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    template: str = Field(min_length=1, max_length=5000)
    recipients: list[Recipient] = Field(default_factory=list)
    numbers: list[str] = Field(default_factory=list)
    scheduled_at: float | None = None


class KeywordBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str
    reply: str = Field(min_length=1, max_length=1000)
    fallback: str | None = Field(default=None, max_length=1000)
    enabled: bool = True


class SegmentsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=10_000)


def _ok_text() -> Response:
    # Kannel's sms-service is configured with max-messages = 0 (answers go through sendsms, where
    # they are queued, retried and tracked); an empty 200 tells it the message is taken.
    return Response("", status_code=200, media_type="text/plain")


class SmsChannel(GatewaySink):
    name = "sms"
    provides: tuple[str, ...] = ("sms",)
    uses: tuple[str, ...] = ("workflows",)
    uses_later: tuple[str, ...] = ()

    def __init__(self, gateway: SmsGateway | None = None) -> None:
        self._services: Services | None = None
        self._gateway_override = gateway
        self.gateway: SmsGateway | None = None
        self.svc: SmsService | None = None
        self.bulk: BulkService | None = None
        self.worker: OutboundWorker | None = None
        self.replies: OutboundReplies | None = None

    @property
    def services(self) -> Services:
        assert self._services is not None, "the SMS channel is not started"
        return self._services

    # --- the Channel protocol -------------------------------------------------------------------
    def make_gateway(self, services: Services) -> SmsGateway:
        hub, st = services.settings, services.settings.section(SmsSettings)
        if st.gateway == "smpp":
            from channels.sms.smpp import SmppGateway

            return SmppGateway(st.smpp_host, st.smpp_port, st.smpp_system_id,
                               st.smpp_password, st.smpp_system_type,
                               timeout_s=st.gateway_timeout_s)
        host = "127.0.0.1" if hub.host in ("0.0.0.0", "::", "") else hub.host
        base = st.public_url or f"http://{host}:{hub.port}"
        return KannelGateway(st.kannel_sendsms_url, st.kannel_username,
                             st.kannel_password, base, st.inbound_token,
                             smsc=st.kannel_smsc, timeout_s=st.gateway_timeout_s)

    async def start(self, services: Services) -> None:
        self._services = services
        services.texts.register(texts.catalogue())  # keyword answers (seeded by svc.start)
        self.gateway = self._gateway_override or self.make_gateway(services)
        self.svc = SmsService(services, notify=self._notify_status)
        self.svc.on_outbound_final = self._final_failures
        self.bulk = BulkService(self.svc)
        self.bulk.emit_progress = self._emit_bulk
        self.worker = OutboundWorker(self.svc, self.gateway)
        self.svc.wake_outbound = self.worker.wake
        services.ports.sms = self
        # agent replies: live from the message event, and recovered on start (exactly once)
        self.replies = OutboundReplies(services, "sms", label="SMS", recorded=self.svc.reply_recorded,
                                       send=self.svc.queue_reply)
        services.scheduler.on(TIMER_KIND, self.bulk.on_timer)
        await self.svc.start()
        try:
            await self.gateway.start(self)
        except Exception:  # noqa: BLE001 - the hub serves everything else; retried on send
            log.exception("sms: the %s gateway did not start", self.gateway.name)
        self.worker.start()
        self.bulk.start()
        self.replies.start()
        services.privacy.register(SmsPersonalData())  # exports, erasure
        workflows = services.ports.workflows
        if workflows is not None:
            # WO-1 "customer informed automatically": an SMS when the work order is completed
            workflows.customer.register("sms", self._workorder_sms)

    async def stop(self) -> None:
        if self.replies is not None:
            await self.replies.stop()
        if self.bulk is not None:
            await self.bulk.stop()
        if self.worker is not None:
            await self.worker.stop()
        if self.gateway is not None:
            await self.gateway.stop()
        if self.svc is not None:
            await self.svc.stop()
        self._services = None

    async def seed_demo(self, services: Services) -> None:
        """Demo data for the ``BAL`` keyword: a ``balance`` field on the demo customers."""
        st = services.settings.section(SmsSettings)
        contacts = services.contacts
        if any(f["key"] == st.balance_field for f in await contacts.custom_fields()):
            return
        label = "燃气余额" if services.settings.demo_locale == "zh-CN" else "Gas balance"
        await contacts.define_custom_field({"key": st.balance_field, "label": label, "type": "text"},
                                           None)
        for phone, balance in (("+8613800001111", "¥126.40"), ("+8613900002222", "¥-35.80"),
                               ("+8613700004444", "¥18.00")):
            found = await contacts.find_by_identity(phone=phone)
            if found is not None:
                await contacts.update(found["id"], {"custom": {**found["custom"],
                                                               st.balance_field: balance}}, None)

    # --- public service API for other components -----------------------------------------------
    async def send_text(self, phone: str, text: str, *, kind: str = "notification",
                        dedupe_key: str | None = None) -> dict[str, Any]:
        """Queue one SMS (work-order notifications, voicemail alerts …); see ``queue_text``."""
        assert self.svc is not None
        from channels.sms.service import sms_public

        return sms_public(await self.svc.queue_text(phone, text, kind=kind, dedupe_key=dedupe_key))

    def set_balance_hook(self, hook: Any) -> None:
        """Replace the ``BAL`` lookup: ``async hook(phone_e164, contact_or_None) -> str | None``."""
        assert self.svc is not None
        self.svc.balance_hook = hook

    async def _workorder_sms(self, tx: Any, wo: Any, text: str) -> dict[str, Any]:
        """The workflows' customer-notification action (runs in their transaction)."""
        assert self.svc is not None
        # Read through the hub's services (their rows are committed before the work order is).
        if wo.conversation_id and (await self.services.conversations.row(wo.conversation_id)).channel == "sms":
            return {"status": "skipped", "detail": "already told in the SMS conversation"}
        if not wo.contact_id:
            return {"status": "skipped", "detail": "no contact"}
        try:
            phone = (await self.services.contacts.get(wo.contact_id)).get("phone")
        except NotFound:
            return {"status": "skipped", "detail": "the contact no longer exists"}
        if not phone:
            return {"status": "skipped", "detail": "the contact has no phone number"}
        return await self.svc.queue_text_in(tx, phone, text, kind="notification",
                                            dedupe_key=f"wo:{wo.id}:{hashlib.sha256(text.encode()).hexdigest()[:16]}",
                                            meta={"work_order_id": wo.id})

    # --- gateway sink (SMPP delivers here; Kannel through the HTTP endpoints) ---------------------
    async def inbound(self, sms: InboundSms) -> None:
        assert self.svc is not None and self.gateway is not None
        await self.svc.accept_inbound(sms, self.gateway.name)

    async def report(self, dlr: DeliveryReport) -> None:
        assert self.svc is not None
        sms_id = dlr.sms_id or (await self.svc.find_by_ref(dlr.gateway_ref) if dlr.gateway_ref else None)
        if dlr.sms_id and dlr.gateway_ref is None:
            await self.svc.get(dlr.sms_id)  # Kannel echoes our id: it must be one of ours
        if sms_id is None:
            raise NotFound("no outbound SMS matches this delivery report")
        await self.svc.writer.submit(StatusUpdate(
            sms_id, dlr.status, error=dlr.detail if dlr.status == "failed" else None))

    # --- live updates ---------------------------------------------------------------------------
    async def _notify_status(self, rows: list[Any]) -> None:
        conv_rows = [r for r in rows if r.conversation_id]
        if not conv_rows:
            return
        assignees: dict[str, str | None] = {}
        for r in conv_rows:
            if r.conversation_id not in assignees:
                try:
                    assignees[r.conversation_id] = (
                        await self.services.conversations.row(r.conversation_id)).assignee_id
                except NotFound:
                    assignees[r.conversation_id] = None
            await self.services.push.about_conversation(
                "sms_status", {"sms_id": r.id, "conversation_id": r.conversation_id,
                               "message_id": r.message_id, "status": r.status, "error": r.error},
                assignee_id=assignees[r.conversation_id])

    async def _emit_bulk(self, job: dict[str, Any]) -> None:
        await self.services.push.to_supervisors("sms_bulk", job, also=[job.get("created_by")])

    async def _final_failures(self, rows: list[Any]) -> None:
        assert self.svc is not None
        for r in rows:
            await self.svc.system_note(
                r.conversation_id,
                f"The SMS to {r.phone} could not be delivered after {r.attempts or 1} attempt(s): "
                f"{r.error or 'refused by the network'}"[:2000])

    # --- HTTP -------------------------------------------------------------------------------------
    def _check_token(self, request: Request) -> None:
        expected = self.services.settings.section(SmsSettings).inbound_token
        if not expected:
            raise InboundDisabled("set sms_inbound_token (and the same token in Kannel's get-url)")
        given = request.query_params.get("token", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Forbidden("wrong or missing token")

    async def _kannel_inbound_params(self, request: Request) -> dict[str, str]:
        params = dict(request.query_params)
        if request.method == "POST":
            body = await request.body()
            if len(body) > 64 * 1024:
                raise PayloadTooLarge("an SMS is at most 64 KiB")
            ctype = request.headers.get("content-type", "")
            if ctype.startswith("application/x-www-form-urlencoded"):
                params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            else:
                # Kannel's post-url: the text is the body, To/SMSC/Coding in X-Kannel-* headers;
                # the sender and id come in the URL (%p, %I) unless send-sender is on.
                h = request.headers
                charset = "utf-8"
                if "charset=" in ctype:
                    charset = ctype.split("charset=", 1)[1].split(";")[0].strip().strip('"') or "utf-8"
                if h.get("x-kannel-coding") == "2" and "charset=" not in ctype:
                    charset = "utf-16-be"
                try:
                    params.setdefault("text", body.decode(charset))
                except (LookupError, UnicodeDecodeError) as err:
                    raise ValidationFailed(f"the message body is not {charset} text") from err
                for key, header in (("from", "x-kannel-from"), ("to", "x-kannel-to"),
                                    ("smsc", "x-kannel-smsc"), ("id", "x-kannel-id")):
                    if h.get(header):
                        params.setdefault(key, h[header])
        return params

    def register(self, api: Api, sio: socketio.AsyncServer) -> None:
        ch = self

        @api.add("/api/sms/kannel/inbound", "GET",
                 "Kannel sms-service get-url: one inbound SMS (token, from, to, text, id, smsc)",
                 tag="sms", auth="none", access="secret")
        async def kannel_inbound_get(request: Request) -> Response:
            return await ch._kannel_inbound(request)

        @api.add("/api/sms/kannel/inbound", "POST",
                 "Kannel sms-service post-url: one inbound SMS (text as the body, X-Kannel-* headers)",
                 tag="sms", auth="none", access="secret")
        async def kannel_inbound_post(request: Request) -> Response:
            return await ch._kannel_inbound(request)

        @api.add("/api/sms/kannel/dlr", "GET",
                 "Kannel dlr-url: a delivery report (token, id, type)", tag="sms", auth="none", access="secret")
        async def kannel_dlr(request: Request) -> Response:
            ch._check_token(request)
            q = request.query_params
            try:
                kind = int(q.get("type", ""))
            except ValueError as err:
                raise ValidationFailed("type must be Kannel's DLR type (%d)") from err
            status = dlr_status(kind)
            if not q.get("id"):
                raise ValidationFailed("id is required")
            if status is not None:
                await ch.report(DeliveryReport(q["id"], None, status,
                                               detail=f"Kannel DLR type {kind}"))
            return _ok_text()

        @api.add("/api/sms/conversations/{conversation_id}", "GET",
                 "The SMS behind a conversation's messages: number, parts, delivery state",
                 tag="sms", response=S.SmsConversation, access="desk|supervise")
        async def conversation_sms(request: Request) -> Response:
            user = await current_user(request)
            conv = ch.services.conversations
            row = await conv.row(request.path_params["conversation_id"])
            conv.require_view(user, row)
            assert ch.svc is not None
            return json_response({"conversation_id": row.id,
                                  "phone": ((row.meta or {}).get("sms") or {}).get("phone"),
                                  "max_segments": ch.services.settings.section(SmsSettings).max_segments,
                                  "messages": await ch.svc.conversation_sms(row.id)})

        @api.add("/api/sms/segments", "POST", "Count the SMS parts a text needs (GSM-7 or UCS-2)",
                 tag="sms", body=SegmentsBody, response=S.Segments, access="authenticated")
        async def count_segments(request: Request) -> Response:
            await current_user(request)
            body = await parse_body(request, SegmentsBody)
            return json_response(segments.count(body.text).as_dict())

        @api.add("/api/sms/bulk", "POST", "Create a bulk (or scheduled) SMS job", tag="sms",
                 body=BulkBody, status=201, response=S.SmsBulkJob, access="bulk_send")
        async def create_bulk(request: Request) -> Response:
            user = await require(request, "bulk_send")
            body = await parse_body(request, BulkBody)
            recipients = [r.model_dump() for r in body.recipients]
            recipients += [{"phone": n} for n in body.numbers]
            recipients = [{k: "" if v is None else str(v) for k, v in r.items()} for r in recipients]
            assert ch.bulk is not None
            job = await ch.bulk.create(name=body.name, template=body.template, recipients=recipients,
                                       scheduled_at=body.scheduled_at, user_id=user.id)
            return json_response(job, status=201)

        @api.add("/api/sms/bulk/csv", "POST",
                 "Create a bulk SMS job from a CSV upload (multipart: file, name, template, "
                 "scheduled_at)", tag="sms", status=201, response=S.SmsBulkJob, access="bulk_send")
        async def create_bulk_csv(request: Request) -> Response:
            user = await require(request, "bulk_send")
            upload = await read_form_file(request, fields=("name", "template", "scheduled_at"))
            when = upload.fields["scheduled_at"]
            try:
                scheduled_at = float(when) if when else None
            except ValueError as err:
                raise ValidationFailed("scheduled_at must be epoch seconds") from err
            assert ch.bulk is not None
            job = await ch.bulk.create_from_csv(
                name=upload.fields["name"] or upload.filename or "CSV upload",
                template=upload.fields["template"], data=upload.data, scheduled_at=scheduled_at,
                user_id=user.id)
            return json_response(job, status=201)

        @api.add("/api/sms/bulk", "GET", "Bulk SMS jobs with progress", tag="sms", response=S.SmsBulkJobs,
                 access="bulk_send")
        async def list_bulk(request: Request) -> Response:
            await require(request, "bulk_send")
            assert ch.bulk is not None
            return json_response({"items": await ch.bulk.list()})

        @api.add("/api/sms/bulk/{job_id}", "GET", "One bulk SMS job with progress", tag="sms", response=S.SmsBulkJob,
                 access="bulk_send")
        async def get_bulk(request: Request) -> Response:
            await require(request, "bulk_send")
            assert ch.bulk is not None
            return json_response(await ch.bulk.get(request.path_params["job_id"]))

        @api.add("/api/sms/bulk/{job_id}/cancel", "POST", "Cancel a bulk SMS job", tag="sms", response=S.SmsBulkJob,
                 access="bulk_send")
        async def cancel_bulk(request: Request) -> Response:
            user = await require(request, "bulk_send")
            assert ch.bulk is not None
            return json_response(await ch.bulk.cancel(request.path_params["job_id"], user.id))

        @api.add("/api/sms/bulk/{job_id}/start", "POST", "Start a scheduled bulk SMS job now", tag="sms",
                 response=S.SmsBulkJob, access="bulk_send")
        async def start_bulk(request: Request) -> Response:
            user = await require(request, "bulk_send")
            assert ch.bulk is not None
            return json_response(await ch.bulk.start_now(request.path_params["job_id"], user.id))

        @api.add("/api/sms/keywords", "GET", "Keyword self-service rules", tag="sms", response=S.KeywordRules,
                 access="bulk_send")
        async def list_keywords(request: Request) -> Response:
            await require(request, "bulk_send")
            assert ch.svc is not None
            return json_response({"items": ch.svc.keywords_public()})

        @api.add("/api/sms/keywords/{keyword}", "PUT", "Create or change a keyword rule", tag="sms",
                 body=KeywordBody, response=S.KeywordRule, access="admin")
        async def put_keyword(request: Request) -> Response:
            user = await require(request, "admin")
            body = await parse_body(request, KeywordBody)
            assert ch.svc is not None
            return json_response(await ch.svc.put_keyword(
                request.path_params["keyword"], body.action, body.reply, body.fallback,
                body.enabled, user.id))

        @api.add("/api/sms/keywords/{keyword}", "DELETE", "Remove a keyword rule", tag="sms", response=S.Deleted,
                 access="admin")
        async def delete_keyword(request: Request) -> Response:
            user = await require(request, "admin")
            assert ch.svc is not None
            await ch.svc.delete_keyword(request.path_params["keyword"], user.id)
            return json_response({"deleted": True})

        @api.add("/api/sms/optouts", "GET", "Numbers that opted out (STOP)", tag="sms", response=S.OptOuts,
                 access="bulk_send")
        async def optouts(request: Request) -> Response:
            await require(request, "bulk_send")
            assert ch.svc is not None
            return json_response({"items": await ch.svc.list_optouts()})

        @api.add("/api/sms/log", "GET", "Recent SMS in and out (phone, kind filters)", tag="sms", response=S.SmsLog,
                 access="supervise")
        async def sms_log(request: Request) -> Response:
            await require(request, "supervise")
            assert ch.svc is not None
            q = request.query_params
            return json_response({"items": await ch.svc.log(phone=q.get("phone") or None,
                                                            kind=q.get("kind") or None)})

        @api.add("/api/sms/status", "GET", "SMS gateway and queue status", tag="sms", response=S.SmsGatewayStatus,
                 access="supervise")
        async def sms_status(request: Request) -> Response:
            await require(request, "supervise")
            assert ch.gateway is not None and ch.svc is not None
            return json_response({**ch.gateway.health(), "counts": await ch.svc.counts()})

    async def _kannel_inbound(self, request: Request) -> Response:
        self._check_token(request)
        params = await self._kannel_inbound_params(request)
        sender = params.get("from", "")
        if not sender:
            raise ValidationFailed("from (Kannel %p) is required")
        text = params.get("text")
        if text is None:
            raise ValidationFailed("text (Kannel %a) is required")
        # Store first (a duplicate delivery of the same Kannel message id is answered the same);
        # routing and keyword answers happen after the answer, in order.
        await self.inbound(InboundSms(sender=sender, receiver=params.get("to", ""), text=text,
                                      gateway_id=params.get("id", ""), smsc=params.get("smsc", "")))
        return _ok_text()
