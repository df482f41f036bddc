"""The widget bot speaks the customer's language (issue #17): a Chinese customer gets the greeting,
the frame around an FAQ answer and the hand-over line in Chinese, an English customer in English;
an administrator's new greeting is used by the next chat without a restart. Real hub, real
knowledge base and embedding model, real Socket.IO clients."""

from __future__ import annotations

from typing import Any

from assist.texts import catalogue
from tests.api.helpers import agent_desk
from tests.support.hub import ApiClient, InProcessHub
from tests.support.sockets import Recorder
from tests.support.wait import eventually

ZH = catalogue().defaults["zh-CN"]
EN = catalogue().defaults["en"]
QUESTION = "燃气表显示屏不亮怎么办？"
ANSWER = "请先为燃气表更换电池；如果仍然不亮，请拨打 95007 报修。"


async def published_article(hub: InProcessHub) -> dict[str, Any]:
    km = await hub.client("km")
    art = await km.ok("POST", "/api/kb/articles", {
        "question": QUESTION, "alternatives": ["燃气表黑屏了"], "answer_html": f"<p>{ANSWER}</p>",
        "category": "Meters", "product": "Gas supply", "keywords": ["燃气表", "黑屏"]}, status=201)
    await km.ok("POST", f"/api/kb/articles/{art['id']}/publish")
    # the index follows the commit: searchable a moment later
    await eventually(lambda: km.ok("GET", f"/api/kb/search?q={QUESTION}"), within=20,
                     until=lambda r: bool(r["hits"]) and r["hits"][0]["article_id"] == art["id"])
    return art


async def chat(hub: InProcessHub, name: str, email: str, message: str) -> tuple[ApiClient, Recorder, str]:
    customer = await hub.client()
    session = await customer.ok("POST", "/api/widget/sessions",
                                {"name": name, "email": email, "message": message}, status=201)
    customer.http.headers["Authorization"] = f"Bearer {session['token']}"
    widget = await Recorder("/widget").connect(hub.base_url, auth={"token": session["token"]})
    return customer, widget, session["conversation_id"]


async def bot_lines(customer: ApiClient, count: int) -> list[dict[str, Any]]:
    conv = await eventually(lambda: customer.ok("GET", "/api/widget/conversation"), within=15,
                            until=lambda c: len([m for m in c["messages"] if m["sender"] == "bot"]) >= count)
    return [m for m in conv["messages"] if m["sender"] == "bot"]


async def test_the_bot_greets_answers_and_hands_over_in_the_customers_language(bot_hub) -> None:  # type: ignore[no-untyped-def]
    agent, desk = await agent_desk(bot_hub, "agent1")
    await published_article(bot_hub)

    customer, widget, cid = await chat(bot_hub, "王芳", "wang.fang@example.cn", QUESTION)
    greeting, answer = await bot_lines(customer, 2)
    assert greeting["body"] == ZH["bot.greeting"] and greeting["sender_name"] == "智能客服"
    assert answer["body"] == f"{ANSWER}\n\n（没有解决您的问题？您可以换个说法再问，或点击“转人工”。）"
    await widget.call("message", {"body": "转人工", "client_id": "zh-1"})
    handover = await widget.wait("message", lambda m: m["sender"] == "bot" and m["client_id"] == "bot:handover",
                                 timeout=10)
    assert handover["body"] == ZH["bot.handover.asked"] == "好的，正在为您转接人工客服，请稍候。"
    queued = await widget.wait("status", lambda s: s["status"] in ("queued", "offered"), timeout=10)
    assert queued["text"] == "正在为您转接人工客服，请稍候……"
    await widget.close()

    customer, widget, cid = await chat(bot_hub, "Zhang Wei", "zhang.wei@example.com", "How do I read my gas meter?")
    greeting, answer = await bot_lines(customer, 2)
    assert greeting["body"] == EN["bot.greeting"] and greeting["sender_name"] == "Virtual assistant"
    assert answer["body"].endswith("\n\n(Not what you needed? Ask again, or choose “Talk to a person”.)")
    assert "black digits" in answer["body"]
    await widget.call("message", {"body": "talk to a person", "client_id": "en-1"})
    handover = await widget.wait("message", lambda m: m["sender"] == "bot" and m["client_id"] == "bot:handover",
                                 timeout=10)
    assert handover["body"] == "Of course — I'm connecting you with a person now."
    queued = await widget.wait("status", lambda s: s["status"] in ("queued", "offered"), timeout=10)
    assert queued["text"] == "Please wait a moment: we are connecting you with an agent."
    await widget.close()

    # a question the bot cannot answer: the "no answer" hand-over, in Chinese
    customer, widget, cid = await chat(bot_hub, "李娜", "li.na@example.cn", "你们公司的年会在哪里举办？")
    greeting, low = await bot_lines(customer, 2)
    assert low["body"] == ZH["bot.handover.low_confidence"]
    await widget.close()
    await desk.close()


async def test_an_edited_greeting_is_used_by_the_next_chat(bot_hub) -> None:  # type: ignore[no-untyped-def]
    admin = await bot_hub.client("admin")
    customer, widget, _ = await chat(bot_hub, "王芳", "wang.fang@example.cn", "你好")
    [before, *_] = await bot_lines(customer, 1)
    assert before["body"] == ZH["bot.greeting"]
    await widget.close()
    mine = "您好！我是燃气公司的在线助手，请问有什么可以帮您？"
    await admin.ok("PUT", "/api/texts/bot.greeting/zh-CN", {"body": mine})
    customer, widget, _ = await chat(bot_hub, "赵敏", "zhao.min@example.cn", "你好")
    [after, *_] = await bot_lines(customer, 1)
    assert after["body"] == mine
    await widget.close()
