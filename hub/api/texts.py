"""The customer-facing texts (issue #17, hub/services/texts.py): administrators list every text
with its version in use and its default per language, change one language's version, or go back
to the default. Each change is audited (``admin.changed``) and used by the next text sent, in every
hub process."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

import hub.api.responses as R
from hub.api.http import Api, json_response, parse_body, require
from hub.api.schemas import TextIn


def register(api: Api) -> None:
    @api.add("/api/texts", "GET", "Customer-facing texts per language, with their defaults",
             tag="admin", response=R.TextList, access="admin")
    async def list_texts(request: Request) -> Response:
        await require(request, "admin")
        return json_response({"items": await request.app.state.services.texts.listing(),
                              "default_language": request.app.state.services.texts.default_language})

    @api.add("/api/texts/{key}/{language}", "PUT", "Change a text in one language", tag="admin",
             body=TextIn, response=R.TextEntry, access="admin")
    async def update_text(request: Request) -> Response:
        admin = await require(request, "admin")
        body = await parse_body(request, TextIn)
        texts = request.app.state.services.texts
        return json_response(await texts.update(request.path_params["key"], request.path_params["language"],
                                                body.body, admin.id))

    @api.add("/api/texts/{key}/{language}", "DELETE", "Go back to a text's default in one language",
             tag="admin", response=R.TextEntry, access="admin")
    async def reset_text(request: Request) -> Response:
        admin = await require(request, "admin")
        texts = request.app.state.services.texts
        return json_response(await texts.reset(request.path_params["key"], request.path_params["language"],
                                               admin.id))
