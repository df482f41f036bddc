"""The knowledge-base component: wires the service, the index and the API into the hub.

Provides the :class:`~kb.service.KnowledgeBase` as the ``kb`` port (``services.ports.kb``; the
assist package, the chat bot and the IVR's FAQ hook use it). The backend is chosen by
configuration: the embedded default (SQLite FTS5 + numpy vectors in
``<data_dir>/kb/index.sqlite``) or Elasticsearch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import socketio

from hub.api.http import Api
from hub.config import Settings
from hub.errors import NotFound
from kb.index import IndexSync
from kb.jobs import ImportJobs
from kb.search.base import AsyncSearchBackend, Doc, Hit, KbError
from kb.service import KnowledgeBase
from kb.settings import KbSettings

if TYPE_CHECKING:
    from hub.app import Services

log = logging.getLogger(__name__)


class UnavailableBackend(AsyncSearchBackend):
    """Stands in when the backend cannot be built (e.g. the model is not installed): every call
    reports why. Articles can still be written; the index catches up on the next start."""

    name = "unavailable"

    def __init__(self, error: KbError) -> None:
        self.error = error

    async def open(self) -> None:
        raise self.error

    async def upsert_many(self, docs: Sequence[Doc]) -> None:
        raise self.error

    async def delete(self, doc_id: str) -> bool:
        raise self.error

    async def search(self, query: str, filters: Mapping[str, str] | None = None,
                     k: int = 10) -> list[Hit]:
        raise self.error

    async def get(self, doc_id: str) -> Doc | None:
        raise self.error

    async def fingerprints(self) -> dict[str, str]:
        raise self.error

    async def read_stamp(self) -> str | None:
        raise self.error

    async def write_stamp(self, stamp: str) -> None:
        raise self.error

    async def count(self) -> int:
        return 0


def make_backend(hub: Settings) -> AsyncSearchBackend:
    """The configured backend (the only place that chooses one)."""
    from kb.search.embedding import SentenceTransformerEmbedder

    settings = hub.section(KbSettings)
    try:
        embedder = SentenceTransformerEmbedder(
            settings.model_dir or None, threads=settings.torch_threads or None,
            multilingual=settings.model_multilingual)
    except KbError as err:
        return UnavailableBackend(err)
    if settings.backend == "elasticsearch":
        from kb.search.elastic import ElasticBackend

        return ElasticBackend.from_url(settings.elasticsearch_url, embedder,
                                       alias=settings.elasticsearch_index,
                                       api_key=settings.elasticsearch_api_key or None,
                                       timeout_s=settings.elasticsearch_timeout_s)
    from kb.search.embedded import AsyncEmbeddedBackend

    return AsyncEmbeddedBackend(hub.data_dir / "kb" / "index.sqlite", embedder)


class KnowledgeBaseComponent:
    name = "kb"
    provides: tuple[str, ...] = ("kb",)
    uses: tuple[str, ...] = ()
    uses_later: tuple[str, ...] = ()

    def __init__(self, backend: AsyncSearchBackend | None = None) -> None:
        self._backend = backend
        self._kb: KnowledgeBase | None = None
        self._jobs: ImportJobs | None = None
        self._open_task: asyncio.Task[None] | None = None

    @property
    def kb(self) -> KnowledgeBase:
        if self._kb is None:
            raise KbError("the knowledge base is not started")
        return self._kb

    @property
    def jobs(self) -> ImportJobs:
        assert self._jobs is not None, "the knowledge base is not started"
        return self._jobs

    def register(self, api: Api, sio: socketio.AsyncServer) -> None:
        from kb import api as kb_api

        kb_api.register(api, self)

    async def start(self, services: Services) -> None:
        st = services.settings
        backend = self._backend or make_backend(st)
        index = IndexSync(services.db, backend)
        # the bot's thresholds have one source: the calibration file, overridden by the
        # kb_bot_min_* settings when set (imported here: assist builds on kb, not the reverse)
        from assist.bot import BotPolicy

        policy = BotPolicy.from_settings(st)
        self._kb = KnowledgeBase(services.db, services.clock, index, services.auth,
                                 bot_min_score=policy.threshold, bot_min_margin=policy.margin)
        self._jobs = ImportJobs(services.db, self._kb)
        await self._jobs.fail_interrupted()
        services.ports.kb = self._kb
        # usage rows (suggestions, views, inserts) are written in batches by an owned task
        self._kb.start_usage_writer()
        # loading the model and reconciling the index runs in the background
        self._open_task = asyncio.create_task(index.start(), name="kb-index-open")

    async def seed_demo(self, services: Services) -> None:
        from kb.demo import seed_articles

        try:
            owner: str | None = (await services.auth.user_by_username("km")).id
        except NotFound:  # the demo's knowledge manager was removed: articles without an owner
            owner = None
        await seed_articles(self.kb, owner, services.settings.demo_locale)

    async def stop(self) -> None:
        if self._jobs is not None:
            await self._jobs.stop()
        if self._kb is not None:
            await self._kb.stop_usage_writer()  # writes what is still buffered
        if self._open_task is not None:
            # the model load runs in a worker thread and cannot be interrupted: let it finish
            with contextlib.suppress(Exception):
                async with asyncio.timeout(120):
                    await self._open_task
            self._open_task = None
        if self._kb is not None:
            try:
                await self._kb.index.close()
            except KbError:
                pass
            except Exception:  # noqa: BLE001 - closing must not break the hub's shutdown
                log.exception("kb: closing the search index failed")
