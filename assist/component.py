"""The assist component: live suggestions, entities, summaries, category suggestions and the
widget bot. Provides the ports ``assist`` (:class:`AssistService`) and ``bot``
(:class:`WidgetBot`, asked by the web chat channel before it enqueues a new chat). Uses ``kb``
(the knowledge base, which therefore starts before this component): without it suggestions are
empty, the bot never takes a chat, and ``GET /api/assist/status`` says why."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

import socketio

import assist.texts as texts
from assist.bot import BotPolicy, WidgetBot
from assist.faq import Faq
from assist.service import AssistService
from assist.settings import AssistSettings
from assist.states import STATE_EVENTS
from hub.api.http import Api

if TYPE_CHECKING:
    from hub.app import Services
    from hub.ports import KnowledgeBase

log = logging.getLogger(__name__)

def _kb_embedder(kb: KnowledgeBase | None) -> Any:
    """The knowledge base's embedder when its search backend has one (one model in memory)."""
    return None if kb is None else getattr(kb.index.backend, "embedder", None)


class AssistComponent:
    name = "assist"
    provides: tuple[str, ...] = ("assist", "bot")
    uses: tuple[str, ...] = ("kb",)
    uses_later: tuple[str, ...] = ()

    def __init__(self, *, model_dir: str = "", multilingual: bool = False) -> None:
        """``model_dir``/``multilingual``: the knowledge base's embedding model (``kb_model_dir``,
        ``kb_model_multilingual``, given by the composition root), loaded here for category
        suggestions when the knowledge base has none to share (it is off)."""
        self.model_dir, self.multilingual = model_dir, multilingual
        self.services: Services | None = None
        self.service: AssistService | None = None
        self.bot: WidgetBot | None = None
        self.faq: Faq | None = None
        self.kb_missing_reason: str | None = None
        self._load_task: asyncio.Task[None] | None = None

    def register(self, api: Api, sio: socketio.AsyncServer) -> None:
        from assist import api as assist_api

        assist_api.register(api, self)

    async def start(self, services: Services) -> None:
        st = services.settings.section(AssistSettings)
        self.services = services
        services.texts.register(texts.catalogue())  # the bot's lines
        kb = services.ports.kb
        if kb is None:
            self.kb_missing_reason = ("the knowledge base is not running (kb_enabled is off or the "
                                      "kb component is missing): no suggestions, the bot is off")
            log.warning("assist: %s", self.kb_missing_reason)
        else:
            self.faq = Faq(kb)
        embedder = _kb_embedder(kb)
        if embedder is None:
            with contextlib.suppress(Exception):
                from kb.search.embedding import SentenceTransformerEmbedder

                embedder = SentenceTransformerEmbedder(self.model_dir or None,
                                                       multilingual=self.multilingual)
        policy = BotPolicy.from_settings(services.settings)  # calibrated, unless the settings override it
        self.service = AssistService(services, faq_lookup=lambda: self.faq, embedder=embedder,
                                     max_examples=st.category_examples, policy=policy,
                                     max_pending=st.suggest_max_pending, concurrency=st.suggest_concurrency,
                                     cpu_share=st.suggest_cpu_share)
        enabled = st.bot == "on" or (st.bot == "demo" and services.settings.demo)
        self.bot = WidgetBot(services, policy, enabled=enabled and self.faq is not None,
                             queues=tuple(st.bot_queues), faq_lookup=lambda: self.faq)
        services.ports.assist = self.service
        services.ports.bot = self.bot
        # Suggestions and the bot act where the customer's message was committed (their pushes
        # reach every process's sockets); with several processes the conversations' states also
        # follow what the others commit (an assignment by the ACD leader).
        services.bus.subscribe(self.service.on_event, name="assist.suggestions", local_only=True)
        services.bus.subscribe(self.service.on_remote_event, name="assist.states", remote_only=True,
                               types=STATE_EVENTS)
        if self.bot.enabled:  # a durable consumer: a reply the hub owed before a crash comes after it
            services.bus.consume(WidgetBot.CONSUMER, self.bot.on_event, types=WidgetBot.EVENTS,
                                 concurrency=WidgetBot.CONCURRENCY)
        self._load_task = asyncio.create_task(self._load(), name="assist-load")

    async def _load(self) -> None:
        assert self.service is not None and self.bot is not None
        try:
            await self.bot.load()  # which conversations are the bot's (until then: read each)
        except Exception:  # noqa: BLE001 - the bot reads each conversation's status then
            log.exception("assist: could not load the bot's conversations")
        try:
            n = await self.service.load_examples()
            log.info("assist: %d labelled conversations for category suggestions", n)
        except Exception:  # noqa: BLE001 - category suggestions start empty then
            log.exception("assist: could not load labelled conversations")

    def status(self) -> dict[str, Any]:
        bot = self.bot
        return {
            "kb": self.faq is not None, "reason": self.kb_missing_reason,
            "bot_enabled": bool(bot and bot.enabled), "bot_queues": list(bot.queues) if bot else [],
            "bot_threshold": bot.policy.threshold if bot else None,
            "bot_margin": bot.policy.margin if bot else None,
            "bot_calibration": bot.policy.source if bot else None,
            "category_examples": len(self.service.categories) if self.service else 0,
            "suggestions": self.service.load() if self.service else None,
        }

    async def stop(self) -> None:
        if self._load_task is not None:
            self._load_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._load_task
        if self.service is not None:
            await self.service.stop()
