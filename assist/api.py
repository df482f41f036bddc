"""HTTP endpoints of the assist component (see docs/API.md, "Assist")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

import assist.schemas as S
from assist.errors import BotDisabled, KbUnavailable
from assist.faq import hit_from_kb
from hub.api.http import Api, current_user, json_response, parse_body
from hub.errors import Forbidden, HubError, NotAuthenticated, NotFound

if TYPE_CHECKING:
    from assist.component import AssistComponent


class CategoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(default=None, max_length=10_000)
    conversation_id: str | None = Field(default=None, max_length=64)


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


def register(api: Api, comp: AssistComponent) -> None:
    def svc() -> Any:
        if comp.service is None:
            raise HubError("the assist component is not started")
        return comp.service

    async def handler_row(request: Request) -> tuple[Any, Any]:
        """The conversation, for its assigned agent or a supervisor only."""
        user = await current_user(request)
        user.require("desk")
        s = request.app.state.services
        row = await s.conversations.row(request.path_params["id"])
        s.conversations.require_view(user, row)
        if row.assignee_id != user.id and "supervise" not in user.permissions:
            raise Forbidden("assist is for the agent handling the conversation (or a supervisor)")
        return user, row

    @api.add("/api/assist/status", "GET", "Whether suggestions and the bot are available",
             tag="assist", response=S.AssistStatus, access="authenticated")
    async def status(request: Request) -> Response:
        await current_user(request)
        return json_response(comp.status())

    @api.add("/api/assist/conversations/{id}", "GET",
             "Suggestions, entities, summary and category for a conversation", tag="assist", response=S.AssistPanel,
             access="desk")
    async def conversation(request: Request) -> Response:
        _user, row = await handler_row(request)
        s = svc()
        text = await s.conversation_text(row.id)
        return json_response({
            "conversation_id": row.id, "kb": comp.faq is not None,
            "suggestions": await s.suggestions(row.id),
            "entities": await s.entities(row.id),
            "summary": await s.summarise(row.id),
            "categories": await s.suggest_category(text) if text else [],
        })

    @api.add("/api/assist/conversations/{id}/suggestions", "GET",
             "The current FAQ suggestions for a conversation", tag="assist", response=S.AssistSuggestions,
             access="desk")
    async def suggestions(request: Request) -> Response:
        _user, row = await handler_row(request)
        return json_response(await svc().suggestions(row.id))

    @api.add("/api/assist/conversations/{id}/suggestions/{article_id}/insert", "POST",
             "Use a suggestion: returns the answer text and records the use", tag="assist", response=S.InsertedAnswer,
             access="desk")
    async def insert(request: Request) -> Response:
        user, row = await handler_row(request)
        if comp.faq is None:
            raise KbUnavailable(comp.kb_missing_reason or "no knowledge base")
        try:
            article = await svc().record_insert(row.id, request.path_params["article_id"], user)
        except NotFound:
            raise
        except HubError:
            raise
        except Exception as err:  # a KbError from the knowledge base
            status = getattr(err, "status", 500)
            if status == 404:
                raise NotFound(str(err)) from err
            raise KbUnavailable(str(err)) from err
        if article.get("status", "published") != "published":
            raise NotFound(f"article {request.path_params['article_id']} is not published")
        hit = hit_from_kb({**article, "score": 0.0})
        return json_response({"article_id": hit.article_id, "question": hit.question,
                              "text": hit.answer, "html": hit.answer_html})

    @api.add("/api/assist/conversations/{id}/entities", "GET", "Entities found in a conversation",
             tag="assist", response=S.AssistEntities, access="desk")
    async def entities(request: Request) -> Response:
        _user, row = await handler_row(request)
        return json_response({"items": await svc().entities(row.id)})

    @api.add("/api/assist/conversations/{id}/summary", "GET", "Extractive summary", tag="assist",
             response=S.AssistSummary, access="desk")
    async def summary(request: Request) -> Response:
        _user, row = await handler_row(request)
        return json_response(await svc().summarise(row.id))

    @api.add("/api/assist/category", "POST",
             "Suggest a category / work-order type (nearest labelled conversations)",
             tag="assist", body=CategoryIn, response=S.CategorySuggestions, access="desk|tickets")
    async def category(request: Request) -> Response:
        user = await current_user(request)
        if not {"desk", "tickets"} & set(user.permissions):
            raise Forbidden("needs the desk or tickets permission")
        body = await parse_body(request, CategoryIn)
        s = svc()
        if bool(body.text) == bool(body.conversation_id):
            from hub.errors import ValidationFailed
            raise ValidationFailed("give exactly one of text or conversation_id")
        text = body.text or ""
        if body.conversation_id:
            services = request.app.state.services
            row = await services.conversations.row(body.conversation_id)
            services.conversations.require_view(user, row)
            text = await s.conversation_text(row.id)
        return json_response({"items": await s.suggest_category(text) if text.strip() else [],
                              "examples": len(s.categories)})

    @api.add("/api/widget/handover", "POST", "The customer asks the bot for a person",
             tag="widget", auth="widget", response=S.HandoverResult, access="customer")
    async def handover(request: Request) -> Response:
        s = request.app.state.services
        row = await s.conversations.customer_conversation(_bearer(request))
        if row is None:
            raise NotAuthenticated("start a chat first (the widget token is missing or unknown)")
        if comp.bot is None or row.status != "bot":
            raise BotDisabled(f"the conversation is {row.status}, not with the bot")
        await comp.bot.handover(row.id, "customer_request")
        row = await s.conversations.row(row.id)
        return json_response({"status": row.status})
