"""An administrator's text reaches every hub process (issue #17): process B has the Chinese texts
cached from a chat it served; the administrator changes one on process A; B's next chat uses the
new text at once (the change's admin.changed event reaches B through Redis and drops B's cache),
and going back to the default does the same."""

from __future__ import annotations

from typing import Any

from channels.webchat.texts import catalogue
from tests.support.hub import ApiClient, HubProcess
from tests.support.wait import eventually

QUEUED = catalogue().defaults["zh-CN"]["widget.status.queued"]


async def chinese_chat_status(hub: HubProcess) -> dict[str, Any]:
    """A Chinese customer starts a chat on ``hub``; the status line the widget shows."""
    customer = ApiClient(hub.base_url)
    try:
        session = await customer.ok("POST", "/api/widget/sessions",
                                    {"name": "王芳", "message": "你好，燃气费怎么交？"}, status=201)
        customer.http.headers["Authorization"] = f"Bearer {session['token']}"
        return dict(await customer.ok("GET", "/api/widget/conversation"))
    finally:
        await customer.close()


async def test_a_text_changed_on_one_process_is_used_by_the_other_at_once(
        pair: tuple[HubProcess, HubProcess]) -> None:
    a, b = pair
    assert (await chinese_chat_status(b))["text"] == QUEUED  # B has read (and cached) the texts
    admin = await ApiClient(a.base_url).login("admin")
    try:
        new = "感谢您的耐心等待，客服马上就到！"
        await admin.ok("PUT", "/api/texts/widget.status.queued/zh-CN", {"body": new})
        # the event travels through Redis: bounded wait, then every chat on B has the new text
        await eventually(lambda: chinese_chat_status(b), within=10, until=lambda s: s["text"] == new)
        assert (await chinese_chat_status(b))["text"] == new
        await admin.ok("DELETE", "/api/texts/widget.status.queued/zh-CN")
        await eventually(lambda: chinese_chat_status(b), within=10, until=lambda s: s["text"] == QUEUED)
    finally:
        await admin.close()
