"""Contacts (CRM-1) and custom fields."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

import hub.api.responses as R
from hub.api.http import Api, json_response, parse_body, parse_query, request_client, require
from hub.api.schemas import (
    ContactExportQuery,
    ContactIn,
    ContactPatch,
    ContactQuery,
    CustomFieldIn,
    MergeIn,
)
from hub.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from hub.services.spreadsheets import XLSX_MEDIA_TYPE

MAX_CSV_BYTES = 5 * 1024 * 1024


def register(api: Api) -> None:
    @api.add("/api/contacts", "GET", "Search contacts", tag="contacts", query=ContactQuery, response=R.ContactList,
             access="contacts")
    async def search(request: Request) -> Response:
        await require(request, "contacts")
        q = parse_query(request, ContactQuery)
        s = request.app.state.services
        return json_response(await s.contacts.search(q.q, q.tag, q.vip, q.sort, q.limit, q.offset))

    @api.add("/api/contacts", "POST", "Create a contact (VIP and owner: contacts_manage)", tag="contacts",
             body=ContactIn, status=201, response=R.Contact, access="contacts")
    async def create(request: Request) -> Response:
        user = await require(request, "contacts")
        body = await parse_body(request, ContactIn)
        s = request.app.state.services
        return json_response(await s.contacts.create(body.model_dump(), user, request_client(request)), 201)

    @api.add("/api/contacts/export", "GET", "Export all contacts (format=csv|xlsx)", tag="contacts",
             query=ContactExportQuery, access="contacts_import")
    async def export(request: Request) -> Response:
        user = await require(request, "contacts_import")
        q = parse_query(request, ContactExportQuery)
        contacts = request.app.state.services.contacts
        client = request_client(request)
        if q.format == "xlsx":
            return Response(await contacts.export_xlsx(user, client), media_type=XLSX_MEDIA_TYPE,
                            headers={"Content-Disposition": 'attachment; filename="contacts.xlsx"'})
        return Response(await contacts.export_csv(user, client), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="contacts.csv"'})

    @api.add("/api/contacts/import", "POST", "Import contacts from CSV (multipart 'file')",
             tag="contacts", response=R.ImportResult, access="contacts_import")
    async def import_csv(request: Request) -> Response:
        user = await require(request, "contacts_import")
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise UnsupportedMediaType("upload the CSV as multipart/form-data with a 'file' field")
        form = await request.form(max_files=1, max_part_size=MAX_CSV_BYTES)
        try:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise ValidationFailed("the form needs a 'file' field")
            raw = await upload.read(MAX_CSV_BYTES + 1)
        finally:
            await form.close()
        if len(raw) > MAX_CSV_BYTES:
            raise PayloadTooLarge("the CSV is larger than 5 MiB")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise ValidationFailed("the CSV must be UTF-8") from err
        s = request.app.state.services
        return json_response(await s.contacts.import_csv(text, user))

    @api.add("/api/contacts/merge", "POST", "Merge duplicates into one contact (contacts_manage)",
             tag="contacts", body=MergeIn, response=R.Contact, access="contacts_manage")
    async def merge(request: Request) -> Response:
        user = await require(request, "contacts_manage")
        body = await parse_body(request, MergeIn)
        s = request.app.state.services
        return json_response(await s.contacts.merge(body.primary_id, body.duplicate_ids, user,
                                                    request_client(request)))

    @api.add("/api/contacts/{id}", "GET", "One contact", tag="contacts", response=R.Contact, access="contacts")
    async def get(request: Request) -> Response:
        await require(request, "contacts")
        return json_response(await request.app.state.services.contacts.get(request.path_params["id"]))

    @api.add("/api/contacts/{id}", "PATCH", "Edit a contact (VIP and owner: contacts_manage)",
             tag="contacts", body=ContactPatch, response=R.Contact, access="contacts")
    async def patch(request: Request) -> Response:
        user = await require(request, "contacts")
        body = await parse_body(request, ContactPatch)
        s = request.app.state.services
        return json_response(await s.contacts.update(
            request.path_params["id"], body.model_dump(exclude_unset=True), user, request_client(request)))

    @api.add("/api/contacts/{id}", "DELETE", "Delete a contact (contacts_manage)", tag="contacts", status=204,
             access="contacts_manage")
    async def delete(request: Request) -> Response:
        user = await require(request, "contacts_manage")
        await request.app.state.services.contacts.delete(request.path_params["id"], user,
                                                         request_client(request))
        return Response(status_code=204)

    @api.add("/api/contacts/{id}/conversations", "GET",
             "A contact's conversations the caller may see, newest first",
             tag="contacts", response=list[R.ConversationSummary], access="contacts")
    async def history(request: Request) -> Response:
        user = await require(request, "contacts")
        s = request.app.state.services
        cid = request.path_params["id"]
        await s.contacts.get(cid)
        return json_response(await s.conversations.contact_history(user, cid, limit=100))

    @api.add("/api/custom-fields", "GET", "Custom contact fields", tag="contacts", response=list[R.CustomField],
             access="contacts")
    async def fields(request: Request) -> Response:
        await require(request, "contacts")
        return json_response(await request.app.state.services.contacts.custom_fields())

    @api.add("/api/custom-fields", "POST", "Define a custom contact field", tag="contacts",
             body=CustomFieldIn, status=201, response=R.CustomField, access="admin")
    async def define_field(request: Request) -> Response:
        user = await require(request, "admin")
        body = await parse_body(request, CustomFieldIn)
        s = request.app.state.services
        return json_response(await s.contacts.define_custom_field(body.model_dump(), user.id), 201)
