"""Data-subject requests (issue #16, item 13): a contact's export archive and erasure, both with
the ``privacy`` permission (administrators) and audited (hub/services/privacy.py)."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import Field
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from hub.api.http import Api, json_response, parse_body, request_client, require
from hub.api.schemas import Epoch, ResponseModel, Strict


class ErasureIn(Strict):
    confirm: Literal[True] = Field(description="must be true: erasure cannot be undone")


class Erasure(ResponseModel):
    contact_id: str
    erased_at: Epoch
    conversations: int = Field(description="conversations whose content was erased (rows kept)")
    counts: dict[str, int] = Field(description="what was erased, by kind")
    holders: list[str] = Field(description="the components whose data took part (those running)")
    files: int = Field(description="files removed after the commit")


def register(api: Api) -> None:
    @api.add("/api/contacts/{id}/data-export", "GET",
             "Everything held about a contact, as one zip archive (data-subject export; audited)",
             tag="contacts", access="privacy")
    async def export(request: Request) -> Response:
        user = await require(request, "privacy")
        cid = request.path_params["id"]
        path = await request.app.state.services.privacy.export(cid, user.id, request_client(request))
        return FileResponse(path, media_type="application/zip", filename=f"contact-{cid}.zip",
                            headers={"Cache-Control": "private, no-store"},
                            background=BackgroundTask(asyncio.to_thread, path.unlink, missing_ok=True))

    @api.add("/api/contacts/{id}/erase", "POST",
             "Erase everything held about a contact, leaving a tombstone reports count (audited)",
             tag="contacts", body=ErasureIn, response=Erasure, access="privacy")
    async def erase(request: Request) -> Response:
        user = await require(request, "privacy")
        await parse_body(request, ErasureIn)
        return json_response(await request.app.state.services.privacy.erase(
            request.path_params["id"], user.id, request_client(request)))
