"""Customer-facing texts in the customer's language (issue #17) over real HTTP and Socket.IO: the
widget's status lines, the rating request and the offline form's notice in Chinese for a Chinese
customer and in English for an English one; administrators edit a text per language and the next
conversation gets it, without a restart."""

from __future__ import annotations

from typing import Any

import pytest

from channels.webchat.texts import catalogue
from hub.errors import ValidationFailed
from tests.api.helpers import agent_desk, queue_id
from tests.support.hub import ApiClient, InProcessHub
from tests.support.sockets import Recorder

ZH = catalogue().defaults["zh-CN"]
EN = catalogue().defaults["en"]


async def open_chat(hub: InProcessHub, queue: str, message: str, lang: str | None = None,
                    name: str = "王芳", email: str = "wang.fang@example.cn") -> tuple[ApiClient, Recorder, str]:
    """A customer starts a chat in the widget (``lang``: what the widget says its language is)."""
    customer = await hub.client()
    body: dict[str, Any] = {"name": name, "email": email, "message": message, "queue_id": queue}
    if lang:
        body["lang"] = lang
    session = await customer.ok("POST", "/api/widget/sessions", body, status=201)
    customer.http.headers["Authorization"] = f"Bearer {session['token']}"
    widget = await Recorder("/widget").connect(hub.base_url, auth={"token": session["token"]})
    return customer, widget, session["conversation_id"]


async def chat_to_the_end(hub: InProcessHub, agent: ApiClient, desk: Recorder, customer: ApiClient,
                          widget: Recorder, cid: str) -> dict[str, Any]:
    """The agent takes the chat and closes it; what the customer's widget was told."""
    waiting = await customer.ok("GET", "/api/widget/conversation")
    await desk.wait("offer", lambda d: d["conversation"]["id"] == cid)
    await agent.ok("POST", f"/api/conversations/{cid}/accept")
    assigned = await widget.wait("status", lambda d: d["status"] == "assigned")
    await agent.ok("POST", f"/api/conversations/{cid}/close", {"disposition": "resolved"})
    closed = await widget.wait("status", lambda d: d["status"] == "closed")
    csat = await widget.wait("csat_request")
    await customer.ok("POST", "/api/widget/csat", {"rating": 5}, status=204)
    await agent.ok("POST", "/api/agent/wrapup/end")
    return {"waiting": waiting, "assigned": assigned, "closed": closed, "csat": csat}


async def test_a_chinese_customer_is_told_everything_in_chinese_and_an_english_one_in_english(hub):
    agent, desk = await agent_desk(hub, "agent1")
    general = await queue_id(agent, "General enquiries")

    # no language from the widget: the customer's first words decide
    customer, widget, cid = await open_chat(hub, general, "你好，我家的燃气表不走字了")
    told = await chat_to_the_end(hub, agent, desk, customer, widget, cid)
    assert told["waiting"]["language"] == "zh-CN"
    assert told["waiting"]["text"] == ZH["widget.status.queued"] == "正在为您转接人工客服，请稍候……"
    assert told["assigned"]["text"] == "客服Alice Chen已接入，很高兴为您服务。"
    assert told["closed"]["text"] == ZH["widget.status.closed"]
    assert told["csat"] == {"prompt": ZH["widget.csat.prompt"], "thanks": ZH["widget.csat.thanks"]}
    assert (await agent.ok("GET", f"/api/conversations/{cid}"))["language"] == "zh-CN"
    await widget.close()

    customer, widget, cid = await open_chat(hub, general, "My gas meter shows an error",
                                            name="Zhang Wei", email="zhang.wei@example.com")
    told = await chat_to_the_end(hub, agent, desk, customer, widget, cid)
    assert told["waiting"]["language"] == "en"
    assert told["waiting"]["text"] == EN["widget.status.queued"]
    assert told["assigned"]["text"] == "Alice Chen has joined the chat."
    assert told["closed"]["text"] == EN["widget.status.closed"]
    assert told["csat"] == {"prompt": EN["widget.csat.prompt"], "thanks": EN["widget.csat.thanks"]}
    await widget.close()
    await desk.close()


async def test_the_widgets_language_wins_over_the_words_and_digits_decide_nothing(hub):
    general = await queue_id(await hub.client("admin"), "General enquiries")
    # a Chinese widget whose customer writes an account number: Chinese
    customer, widget, cid = await open_chat(hub, general, "GC-100231", lang="zh-CN")
    assert (await customer.ok("GET", "/api/widget/conversation"))["language"] == "zh-CN"
    await widget.close()
    # the browser's tag is normalised (zh-Hans-CN); a language the hub does not ship is ignored
    customer, widget, cid = await open_chat(hub, general, "12345 😀", lang="fr-FR")
    row = await hub.services.conversations.row(cid)
    assert row.language is None  # not known yet: the default language is used meanwhile
    assert (await customer.ok("GET", "/api/widget/conversation"))["language"] == "zh-CN"
    # … until the customer's first words
    ack = await widget.call("message", {"body": "Hello, is anyone there?", "client_id": "w1"})
    assert ack["ok"] is True
    assert (await customer.ok("GET", "/api/widget/conversation"))["language"] == "en"
    # and the first words stay the conversation's language
    await widget.call("message", {"body": "你好", "client_id": "w2"})
    assert (await hub.services.conversations.row(cid)).language == "en"
    await widget.close()


async def test_the_offline_form_and_the_prechat_labels_speak_the_customers_language(hub):
    anon = await hub.client()
    zh = await anon.ok("GET", "/api/widget/config?lang=zh-Hans-CN")
    assert zh["language"] == "zh-CN" and zh["offline_notice"] == ZH["widget.offline.intro"]
    assert [f["label"] for f in zh["prechat"]] == ["您的姓名", "电子邮箱", "手机号码"]
    en = await anon.ok("GET", "/api/widget/config?lang=en-GB")
    assert [f["label"] for f in en["prechat"]] == ["Your name", "Email", "Phone"]

    left = await anon.ok("POST", "/api/widget/offline",
                         {"name": "李娜", "email": "li.na@example.cn", "message": "明天上午能上门检查燃气管道吗？"},
                         status=201)
    assert left["language"] == "zh-CN"
    assert left["notice"] == "李娜，您好！我们已收到您的留言，将在工作时间内尽快通过邮件回复您。"
    left = await anon.ok("POST", "/api/widget/offline",
                         {"name": "Li Na", "email": "li.na@example.com", "message": "Can you call me back?",
                          "lang": "en"}, status=201)
    assert left["notice"].startswith("Thank you, Li Na! We received your message")


async def test_an_administrators_text_is_used_by_the_next_chat_without_a_restart(hub):
    admin = await hub.client("admin")
    general = await queue_id(admin, "General enquiries")
    listing = await admin.ok("GET", "/api/texts")
    assert listing["default_language"] == "zh-CN"
    queued = next(i for i in listing["items"] if i["key"] == "widget.status.assigned")
    assert queued["owner"] == "webchat" and queued["placeholders"] == ["agent_name"]
    assert queued["texts"]["zh-CN"] == {"body": ZH["widget.status.assigned"], "default": ZH["widget.status.assigned"],
                                        "customised": False, "updated_at": None, "updated_by": None}
    # every shipped text has both languages
    keys = {i["key"] for i in listing["items"]}
    assert {"bot.greeting", "widget.csat.prompt", "workorder.completed", "sms.keyword.balance"} <= keys

    new = "感谢您的耐心等待，客服马上就到！"
    changed = await admin.ok("PUT", "/api/texts/widget.status.queued/zh-CN", {"body": new})
    assert changed["texts"]["zh-CN"]["body"] == new and changed["texts"]["zh-CN"]["customised"]
    assert changed["texts"]["en"]["customised"] is False
    customer, widget, _ = await open_chat(hub, general, "请问营业厅几点开门？")
    assert (await customer.ok("GET", "/api/widget/conversation"))["text"] == new
    await widget.close()
    # the English version is untouched
    customer, widget, _ = await open_chat(hub, general, "When does the office open?",
                                          name="Tom", email="tom@example.com")
    assert (await customer.ok("GET", "/api/widget/conversation"))["text"] == EN["widget.status.queued"]
    await widget.close()

    # a placeholder the text does not have is refused with its name; nothing changes
    r = await admin.http.put("/api/texts/widget.status.queued/zh-CN", json={"body": "请稍候，{agent_name}马上就来"})
    assert r.status_code == 422 and r.json()["code"] == "unknown_placeholder"
    assert r.json()["placeholder"] == "agent_name" and r.json()["allowed"] == []
    r = await admin.http.put("/api/texts/widget.status.assigned/en", json={"body": "{agent_name.upper} joined"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_template"
    r = await admin.http.put("/api/texts/widget.status.assigned/en", json={"body": "{agent_name joined"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_template"
    r = await admin.http.put("/api/texts/widget.status.queued/fr", json={"body": "Patientez"})
    assert r.status_code == 422 and r.json()["code"] == "unknown_language"
    r = await admin.http.put("/api/texts/no.such.text/en", json={"body": "x"})
    assert r.status_code == 404 and r.json()["code"] == "unknown_text"
    after = {i["key"]: i for i in (await admin.ok("GET", "/api/texts"))["items"]}
    assert after["widget.status.queued"] == changed
    assert after["widget.status.assigned"]["texts"]["en"]["customised"] is False

    # only administrators
    agent = await hub.client("agent1")
    assert (await agent.get("/api/texts")).status_code == 403
    assert (await agent.http.put("/api/texts/widget.status.queued/zh-CN", json={"body": "x"})).status_code == 403

    # audited, and back to the default
    audit = await admin.ok("GET", "/api/audit")
    assert any(e["type"] == "admin.changed" and e["data"].get("entity") == "text_template"
               and e["data"]["id"] == "widget.status.queued/zh-CN" and e["data"]["action"] == "update"
               and e["user_id"] == admin.user["id"] for e in audit)
    reset = await admin.ok("DELETE", "/api/texts/widget.status.queued/zh-CN")
    assert reset["texts"]["zh-CN"]["body"] == ZH["widget.status.queued"] and not reset["texts"]["zh-CN"]["customised"]
    customer, widget, _ = await open_chat(hub, general, "燃气费怎么交？", name="赵敏", email="zhao.min@example.cn")
    assert (await customer.ok("GET", "/api/widget/conversation"))["text"] == ZH["widget.status.queued"]
    await widget.close()


async def test_the_ivr_entry_sets_the_language_the_next_texts_use(hub):
    """``ConversationService.set_language``: what the IVR calls for the entry the caller chose
    (and any component that learns the customer's language); a language the hub does not ship is
    refused, nothing changed."""
    general = await queue_id(await hub.client("admin"), "General enquiries")
    customer, widget, cid = await open_chat(hub, general, "Hello", name="Tom", email="tom@example.com")
    assert (await customer.ok("GET", "/api/widget/conversation"))["text"] == EN["widget.status.queued"]
    row = await hub.services.conversations.set_language(cid, "zh-CN")
    assert row.language == "zh-CN"
    assert (await customer.ok("GET", "/api/widget/conversation"))["text"] == ZH["widget.status.queued"]
    with pytest.raises(ValidationFailed) as err:
        await hub.services.conversations.set_language(cid, "fr")
    assert err.value.code == "unknown_language"
    assert (await hub.services.conversations.row(cid)).language == "zh-CN"
    await widget.close()
