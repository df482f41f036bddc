"""HTTP API of the knowledge base (``/api/kb/...``): validation and permission checks only.

Permissions: ``kb`` reads published articles, searches, sends feedback and usage, keeps
favourites and reports a gap; ``kb_edit`` writes drafts, sees drafts and archived articles,
versions, feedback and gaps, imports and exports; ``kb_publish`` publishes, archives, restores and
changes published articles.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

import kb.schemas as S
from hub.api.http import Api, json_response, parse_body, parse_query, require
from hub.errors import HubError, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from kb.content import html_to_text, looks_like_html, sanitise_html, text_to_html
from kb.schemas import (
    ArticleIn,
    ArticlePatch,
    DiffQuery,
    ExportQuery,
    FeedbackIn,
    GapIn,
    GapQuery,
    GapResolveIn,
    HotQuery,
    ListQuery,
    PreviewIn,
    UsageIn,
)
from kb.search.base import FILTER_FIELDS, KbError, UnknownFilter
from kb.transfer import (
    ImportFileError,
    detect_format,
    export_csv,
    export_json,
    export_markdown_zip,
    parse_import,
)

if TYPE_CHECKING:
    from kb.component import KnowledgeBaseComponent

MAX_IMPORT_BYTES = 20 * 1024 * 1024
SEARCH_PARAMS = ("q", "limit", *FILTER_FIELDS)

Handler = Callable[[Request], Awaitable[Response]]


def kb_errors(fn: Handler) -> Handler:
    """Search-layer errors (``KbError``) become the hub's problem responses, same code."""

    @functools.wraps(fn)
    async def wrapper(request: Request) -> Response:
        try:
            return await fn(request)
        except KbError as err:
            problem = HubError(err.detail, details=err.details, code=err.code)
            problem.status, problem.title = err.status, err.title
            raise problem from err

    return wrapper


def register(api: Api, component: KnowledgeBaseComponent) -> None:  # noqa: C901 - route table
    def kb() -> Any:
        return component.kb

    def route(path: str, method: str, summary: str, **kw: Any) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            return api.add(path, method, summary, tag="kb", **kw)(kb_errors(fn))
        return deco

    # ------------------------------------------------------------------ search and reading
    @route("/api/kb/search", "GET", "Hybrid FAQ search (q, limit, category, product, status)", response=S.KbSearch,
           access="kb")
    async def search(request: Request) -> Response:
        user = await require(request, "kb")
        params = request.query_params
        unknown = sorted(k for k in params if k not in SEARCH_PARAMS)
        if unknown:
            raise UnknownFilter(f"unknown filter {', '.join(unknown)}; allowed: "
                                f"{', '.join(SEARCH_PARAMS)}",
                                details={"unknown": unknown, "allowed": list(SEARCH_PARAMS)})
        try:
            limit = int(params.get("limit", "10"))
        except ValueError as err:
            raise ValidationFailed("limit must be a number") from err
        filters = {k: params[k] for k in FILTER_FIELDS if params.get(k)}
        drafts = "kb_edit" in user.permissions
        hits = await kb().search(params.get("q", ""), limit=limit, filters=filters,
                                 published_only=not drafts)
        return json_response({"query": params.get("q", "").strip(),
                              "confident": kb().confident(hits),
                              "hits": [h.to_dict() for h in hits]})

    @route("/api/kb/articles", "GET", "List articles (filters, favourites)", query=ListQuery, response=S.KbArticles,
           access="kb")
    async def list_articles(request: Request) -> Response:
        user = await require(request, "kb")
        q = parse_query(request, ListQuery)
        editor = "kb_edit" in user.permissions
        return json_response(await kb().list_articles(
            status=q.status, category=q.category, product=q.product, q=q.q,
            favourites_of=user.id if q.favourites else None, published_only=not editor,
            limit=q.limit, offset=q.offset))

    @route("/api/kb/facets", "GET", "Categories, products and status counts", response=S.KbFacets, access="kb")
    async def facets(request: Request) -> Response:
        user = await require(request, "kb")
        return json_response(await kb().facets(published_only="kb_edit" not in user.permissions))

    @route("/api/kb/status", "GET", "Search index status", response=S.KbStatusReport, access="kb")
    async def status(request: Request) -> Response:
        await require(request, "kb")
        return json_response(await kb().status())

    @route("/api/kb/articles/{id}", "GET", "One article with its counts", response=S.KbArticleView, access="kb")
    async def get(request: Request) -> Response:
        user = await require(request, "kb")
        return json_response(await kb().get(request.path_params["id"], user=user))

    @route("/api/kb/hot", "GET", "Most used published articles over a window", query=HotQuery, response=list[S.KbHot],
           access="kb")
    async def hot(request: Request) -> Response:
        await require(request, "kb")
        q = parse_query(request, HotQuery)
        return json_response(await kb().hot(days=q.days, limit=q.limit))

    @route("/api/kb/favourites", "GET", "My favourite articles", response=S.KbArticles, access="kb")
    async def favourites(request: Request) -> Response:
        user = await require(request, "kb")
        return json_response(await kb().list_articles(
            favourites_of=user.id, published_only="kb_edit" not in user.permissions, limit=200))

    @route("/api/kb/articles/{id}/favourite", "PUT", "Mark as a favourite", response=S.Favourite, access="kb")
    async def fav_on(request: Request) -> Response:
        user = await require(request, "kb")
        await kb().get(request.path_params["id"], user=user)
        await kb().set_favourite(request.path_params["id"], user.id, True)
        return json_response({"favourite": True})

    @route("/api/kb/articles/{id}/favourite", "DELETE", "Unmark as a favourite", response=S.Favourite, access="kb")
    async def fav_off(request: Request) -> Response:
        user = await require(request, "kb")
        await kb().set_favourite(request.path_params["id"], user.id, False)
        return json_response({"favourite": False})

    @route("/api/kb/articles/{id}/feedback", "POST", "Helpful / not helpful", body=FeedbackIn,
           status=201, response=S.KbFeedback, access="kb")
    async def feedback(request: Request) -> Response:
        user = await require(request, "kb")
        body = await parse_body(request, FeedbackIn)
        return json_response(await kb().feedback(
            request.path_params["id"], helpful=body.helpful, user_id=user.id,
            comment=body.comment, conversation_id=body.conversation_id), 201)

    @route("/api/kb/articles/{id}/usage", "POST",
           "Record a use (viewed, suggested, inserted into a reply, answered by the bot)",
           body=UsageIn, status=204, access="kb")
    async def usage(request: Request) -> Response:
        user = await require(request, "kb")
        body = await parse_body(request, UsageIn)
        await kb().get(request.path_params["id"], user=user)
        await kb().record_usage(request.path_params["id"], kind=body.kind, user_id=user.id,
                                conversation_id=body.conversation_id)
        return Response(status_code=204)

    @route("/api/kb/gaps", "POST", "Report a question the FAQ could not answer", body=GapIn,
           status=201, response=S.KbGap, access="kb")
    async def add_gap(request: Request) -> Response:
        await require(request, "kb")
        body = await parse_body(request, GapIn)
        return json_response(await kb().record_gap(
            body.question, conversation_id=body.conversation_id, channel=body.channel), 201)

    # ------------------------------------------------------------------ editing
    @route("/api/kb/articles", "POST", "Create an article (a draft unless published)",
           body=ArticleIn, status=201, response=S.KbArticle, access="kb_edit")
    async def create(request: Request) -> Response:
        user = await require(request, "kb_edit")
        body = await parse_body(request, ArticleIn)
        return json_response(await kb().create(body.model_dump(), user), 201)

    @route("/api/kb/articles/{id}", "PATCH", "Save a new version", body=ArticlePatch, response=S.KbArticle,
           access="kb_edit")
    async def patch(request: Request) -> Response:
        user = await require(request, "kb_edit")
        body = await parse_body(request, ArticlePatch)
        data = body.model_dump(exclude_unset=True)
        version = data.pop("version", None)
        return json_response(await kb().update(request.path_params["id"], data, user,
                                               expected_version=version))

    @route("/api/kb/articles/{id}", "DELETE", "Delete an article and its history", status=204, access="kb_edit")
    async def delete(request: Request) -> Response:
        user = await require(request, "kb_edit")
        await kb().delete(request.path_params["id"], user)
        return Response(status_code=204)

    for action, status_value in (("publish", "published"), ("archive", "archived"),
                                 ("unpublish", "draft")):
        def make(status_value: str = status_value) -> Handler:
            async def change_status(request: Request) -> Response:
                user = await require(request, "kb_publish")
                return json_response(await kb().set_status(request.path_params["id"],
                                                           status_value, user))
            change_status.__name__ = f"kb_{status_value}"
            return change_status
        route(f"/api/kb/articles/{{id}}/{action}", "POST",
              f"Set the status to {status_value} (knowledge managers)", response=S.KbArticle,
              access="kb_publish")(make())

    @route("/api/kb/preview", "POST", "Sanitised HTML and text of an answer", body=PreviewIn, response=S.KbPreview,
           access="kb_edit")
    async def preview(request: Request) -> Response:
        await require(request, "kb_edit")
        body = await parse_body(request, PreviewIn)
        raw = body.answer_html
        clean = sanitise_html(raw if looks_like_html(raw) else text_to_html(raw))
        return json_response({"answer_html": clean, "answer_text": html_to_text(clean)})

    @route("/api/kb/articles/{id}/versions", "GET", "Version history, newest first", response=list[S.KbVersion],
           access="kb_edit")
    async def versions(request: Request) -> Response:
        await require(request, "kb_edit")
        return json_response(await kb().versions(request.path_params["id"]))

    @route("/api/kb/articles/{id}/versions/{n:int}", "GET", "One version's content", response=S.KbVersionContent,
           access="kb_edit")
    async def version(request: Request) -> Response:
        await require(request, "kb_edit")
        return json_response(await kb().version(request.path_params["id"],
                                                request.path_params["n"]))

    @route("/api/kb/articles/{id}/diff", "GET", "Differences between two versions",
           query=DiffQuery, response=S.KbDiff, access="kb_edit")
    async def diff(request: Request) -> Response:
        await require(request, "kb_edit")
        q = parse_query(request, DiffQuery)
        return json_response(await kb().diff(request.path_params["id"], q.from_, q.to))

    @route("/api/kb/articles/{id}/versions/{n:int}/restore", "POST",
           "Restore a version's content as a new version (knowledge managers)", response=S.KbArticle,
           access="kb_publish")
    async def restore(request: Request) -> Response:
        user = await require(request, "kb_publish")
        return json_response(await kb().restore(request.path_params["id"],
                                                request.path_params["n"], user))

    # ------------------------------------------------------------------ feedback, gaps
    @route("/api/kb/feedback", "GET", "Feedback per article and the latest comments", response=S.KbFeedbackReport,
           access="kb_edit")
    async def feedback_report(request: Request) -> Response:
        await require(request, "kb_edit")
        return json_response(await kb().feedback_report())

    @route("/api/kb/gaps", "GET", "Questions the FAQ could not answer, most asked first",
           query=GapQuery, response=list[S.KbGap], access="kb_edit")
    async def gaps(request: Request) -> Response:
        await require(request, "kb_edit")
        q = parse_query(request, GapQuery)
        return json_response(await kb().gaps(status=q.status, limit=q.limit))

    @route("/api/kb/gaps/{id}/resolve", "POST",
           "Resolve a gap by linking an article or creating a draft", body=GapResolveIn, response=S.KbGap,
           access="kb_edit")
    async def resolve_gap(request: Request) -> Response:
        user = await require(request, "kb_edit")
        body = await parse_body(request, GapResolveIn)
        return json_response(await kb().resolve_gap(
            request.path_params["id"], user, article_id=body.article_id,
            add_phrasing=body.add_phrasing, create=body.create))

    @route("/api/kb/gaps/{id}/dismiss", "POST", "Dismiss a gap (not an FAQ question)", response=S.KbGap,
           access="kb_edit")
    async def dismiss_gap(request: Request) -> Response:
        user = await require(request, "kb_edit")
        return json_response(await kb().dismiss_gap(request.path_params["id"], user))

    # ------------------------------------------------------------------ import / export
    @route("/api/kb/import", "POST",
           "Import articles (multipart 'file': .csv, .json or .zip of .md; optional 'format')",
           status=202, response=S.KbImportJob, access="kb_edit")
    async def import_file(request: Request) -> Response:
        user = await require(request, "kb_edit")
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise UnsupportedMediaType("upload the file as multipart/form-data with a 'file' field")
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_IMPORT_BYTES + 64 * 1024:
            raise PayloadTooLarge("the import file is larger than 20 MiB")
        try:
            form = await request.form(max_files=1, max_fields=3, max_part_size=MAX_IMPORT_BYTES + 1)
        except Exception as err:  # noqa: BLE001 - multipart parser errors are the client's fault
            raise ValidationFailed(f"could not read the upload: {err}") from err
        try:
            upload = form.get("file")
            declared = form.get("format")
            if upload is None or isinstance(upload, str):
                raise ValidationFailed("the form needs a 'file' field with a file")
            raw = await upload.read(MAX_IMPORT_BYTES + 1)
            filename = upload.filename or "upload"
        finally:
            await form.close()
        if len(raw) > MAX_IMPORT_BYTES:
            raise PayloadTooLarge("the import file is larger than 20 MiB")
        try:
            fmt = detect_format(filename, declared if isinstance(declared, str) and declared
                                else None)
            rows, errors = parse_import(raw, fmt)
        except ImportFileError as err:
            raise ValidationFailed(str(err), code="bad_import_file") from err
        return json_response(await component.jobs.start(rows, errors, fmt=fmt, filename=filename,
                                                        actor=user), 202)

    @route("/api/kb/jobs/{id}", "GET", "An import job's progress and per-row errors", response=S.KbImportJob,
           access="kb_edit")
    async def job(request: Request) -> Response:
        await require(request, "kb_edit")
        return json_response(await component.jobs.get(request.path_params["id"]))

    @route("/api/kb/export", "GET", "Export articles (format csv, json or markdown zip)",
           query=ExportQuery, access="kb_edit")
    async def export(request: Request) -> Response:
        await require(request, "kb_edit")
        q = parse_query(request, ExportQuery)
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = await kb().list_articles(status=q.status, published_only=False, limit=200,
                                            offset=offset)
            items.extend(page["items"])
            offset += 200
            if offset >= page["total"]:
                break
        items.sort(key=lambda a: (a["category"], a["question"]))
        body, media, ext = {
            "csv": (export_csv, "text/csv; charset=utf-8", "csv"),
            "json": (export_json, "application/json", "json"),
            "markdown": (export_markdown_zip, "application/zip", "zip"),
        }[q.format]
        return Response(body(items), media_type=media, headers={
            "Content-Disposition": f'attachment; filename="faq.{ext}"'})
