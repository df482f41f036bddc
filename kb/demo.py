"""Demo FAQ (published, owned by ``km``) in the demo's language (setting ``demo_locale``):
``zh-CN`` the FAQ of a Chinese city gas company, kept as data in ``kb/demo_zh.json`` (each
article with its question and two or three other phrasings); ``en`` the English FAQ of a city gas
company's / bank's contact centre below."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from kb import tables as kt
from kb.service import KnowledgeBase

ARTICLES: list[dict[str, Any]] = [
    {"question": "I smell gas at home. What should I do?",
     "alternatives": ["gas leak at home", "there is a smell of gas in my kitchen",
                      "I think my stove is leaking gas"],
     "answer_html": "<p><strong>Leave the building now</strong> and do not switch lights or "
                    "appliances on or off. Do not use a phone inside. Once outside, call our "
                    "24-hour emergency line <strong>95007</strong>; an engineer is sent at once "
                    "and there is no charge for a leak call-out.</p>",
     "category": "Emergencies", "product": "Gas supply", "keywords": ["leak", "smell", "emergency"]},
    {"question": "How do I read my gas meter?",
     "alternatives": ["where do I find my meter reading", "submit a meter reading",
                      "what numbers on the meter count"],
     "answer_html": "<p>Read the black digits from left to right and ignore the red ones after "
                    "the decimal point. Submit the reading in the app under <em>Meter</em> or "
                    "reply to our reading SMS with the number.</p>",
     "category": "Meters", "product": "Gas supply", "keywords": ["meter", "reading"]},
    {"question": "My smart meter shows an error code",
     "alternatives": ["meter display shows E1", "the meter screen is blank",
                      "smart meter not working"],
     "answer_html": "<p>Codes <b>E1–E3</b> mean the battery is low: the meter keeps working and "
                    "we replace the battery for free. For <b>E4</b> or a blank screen, book a "
                    "meter check in the app or call us.</p>",
     "category": "Meters", "product": "Smart meter", "keywords": ["error", "E1", "battery"]},
    {"question": "Why is my bill higher than usual?",
     "alternatives": ["my gas bill went up", "bill is too high this month",
                      "unexpectedly large invoice"],
     "answer_html": "<p>Winter heating and an estimated reading are the usual reasons. Check "
                    "whether the bill says <em>estimated</em>; if so, send an actual meter reading "
                    "and we will re-issue the bill within 2 working days.</p>",
     "category": "Billing", "product": "Gas supply", "keywords": ["bill", "high", "estimate"]},
    {"question": "How can I pay my gas bill?",
     "alternatives": ["payment methods for my bill", "can I pay by card",
                      "pay the invoice online"],
     "answer_html": "<p>You can pay in the app, by direct debit, by bank transfer with your "
                    "account number as the reference, or at any partner bank counter.</p>",
     "category": "Billing", "product": "Payments", "keywords": ["pay", "payment", "card"]},
    {"question": "How do I set up a direct debit?",
     "alternatives": ["automatic payment of bills", "pay my bill automatically every month"],
     "answer_html": "<p>In the app open <em>Billing → Direct debit</em>, enter your bank "
                    "account and confirm with the SMS code. It takes effect from the next "
                    "bill.</p>",
     "category": "Billing", "product": "Payments", "keywords": ["direct debit", "automatic"]},
    {"question": "I am moving house. How do I close or transfer my account?",
     "alternatives": ["moving out, stop the gas supply", "transfer the gas account to the new "
                      "owner", "final meter reading when moving"],
     "answer_html": "<p>Tell us your moving date at least 5 days ahead. Give a final meter "
                    "reading on the day; we send the final bill within 10 days. The new "
                    "occupant opens their own account.</p>",
     "category": "Account", "product": "Gas supply", "keywords": ["move", "close account"]},
    {"question": "How do I book a repair visit?",
     "alternatives": ["my boiler needs repair", "schedule an engineer visit",
                      "request a technician"],
     "answer_html": "<p>Book in the app under <em>Repairs</em> or ask an agent. You receive an "
                    "SMS with the engineer's time window and another when they are on the "
                    "way.</p>",
     "category": "Repairs", "product": "Service", "keywords": ["repair", "engineer", "visit"]},
    {"question": "What are the opening hours of the service centre?",
     "alternatives": ["when are you open", "customer service hours",
                      "is the office open on Sunday"],
     "answer_html": "<p>Service centres are open Monday to Saturday, 8:30–17:30. The emergency "
                    "line <strong>95007</strong> answers 24 hours a day, every day.</p>",
     "category": "General", "product": "Service", "keywords": ["hours", "open"]},
    {"question": "How do I reset my online account password?",
     "alternatives": ["I forgot my password", "cannot log in to the app",
                      "change my login password"],
     "answer_html": "<p>On the login page choose <em>Forgot password</em>, enter your phone "
                    "number and follow the SMS code. The link is valid for 15 minutes.</p>",
     "category": "Account", "product": "App", "keywords": ["password", "login"]},
    {"question": "How do I report a lost or stolen bank card?",
     "alternatives": ["my card was stolen", "I lost my debit card", "block my card"],
     "answer_html": "<p>Freeze the card in the app right away (<em>Cards → Freeze</em>) and "
                    "call us to order a replacement. Frozen cards can be unfrozen if you find "
                    "them.</p>",
     "category": "Cards", "product": "Bank card", "keywords": ["lost", "stolen", "freeze"]},
    {"question": "How long does a refund take?",
     "alternatives": ["when will I get my money back", "refund not received yet"],
     "answer_html": "<p>Refunds reach your account within 5 working days after approval. "
                    "Overpaid gas bills are refunded to the account you paid from.</p>",
     "category": "Billing", "product": "Payments", "keywords": ["refund"]},
    {"question": "Are there fees for international transfers?",
     "alternatives": ["cost of sending money abroad", "transfer fee to another country"],
     "answer_html": "<p>Transfers abroad cost 0.1% of the amount (at least 5, at most 50). "
                    "Transfers within the country are free.</p>",
     "category": "Payments", "product": "Bank account", "keywords": ["fee", "abroad"]},
    {"question": "What should I do if the gas supply is interrupted?",
     "alternatives": ["no gas coming out of the stove", "gas outage in my area",
                      "the gas has been cut off"],
     "answer_html": "<p>Check the outage map in the app. If there is no planned work in your "
                    "area, check that your meter valve is open and call us: we send an engineer "
                    "the same day.</p>",
     "category": "Emergencies", "product": "Gas supply", "keywords": ["outage", "no gas"]},
    {"question": "How do I make a complaint?",
     "alternatives": ["I want to complain about the service", "file a complaint",
                      "unhappy with the engineer"],
     "answer_html": "<p>Tell any agent or use <em>Help → Complaint</em> in the app. We confirm "
                    "within 24 hours and resolve complaints within 5 working days.</p>",
     "category": "General", "product": "Service", "keywords": ["complaint"]},
    {"question": "Can I get a safety inspection of my gas appliances?",
     "alternatives": ["annual gas safety check", "inspect my boiler for safety"],
     "answer_html": "<p>Yes: a yearly safety inspection is free for residential customers. Book "
                    "it in the app or with an agent.</p>",
     "category": "Repairs", "product": "Service", "keywords": ["inspection", "safety"]},
    {"question": "燃气泄漏怎么办？",
     "alternatives": ["家里有煤气味", "闻到燃气味道怎么处理"],
     "answer_html": "<p><strong>立即离开房间</strong>，不要开关电器或使用明火，到室外后拨打 24 小时抢修"
                    "电话 <strong>95007</strong>。</p>",
     "category": "Emergencies", "product": "Gas supply", "keywords": ["泄漏", "燃气"],
     "language": "zh"},
    {"question": "如何查询燃气费账单？",
     "alternatives": ["怎么查看本月燃气费", "账单在哪里看"],
     "answer_html": "<p>在 App 的“账单”页面可以查看每月账单和缴费记录，也可以拨打客服电话查询。</p>",
     "category": "Billing", "product": "Gas supply", "keywords": ["账单", "燃气费"],
     "language": "zh"},
    {"question": "如何缴纳燃气费？",
     "alternatives": ["燃气费怎么交", "可以网上缴费吗"],
     "answer_html": "<p>可通过 App、银行代扣、银行柜台或营业厅缴纳燃气费。</p>",
     "category": "Billing", "product": "Payments", "keywords": ["缴费"], "language": "zh"},
    {"question": "如何预约上门维修？",
     "alternatives": ["燃气灶坏了怎么报修", "预约师傅上门"],
     "answer_html": "<p>在 App 的“报修”页面预约，或联系客服。维修人员出发前会短信通知您。</p>",
     "category": "Repairs", "product": "Service", "keywords": ["报修", "维修"], "language": "zh"},
    {"question": "忘记登录密码怎么办？",
     "alternatives": ["密码找不回来了", "如何重置密码"],
     "answer_html": "<p>在登录页点击“忘记密码”，按短信验证码提示重置即可。</p>",
     "category": "Account", "product": "App", "keywords": ["密码"], "language": "zh"},
    {"question": "营业厅的营业时间是什么？",
     "alternatives": ["你们几点上班", "周末营业吗"],
     "answer_html": "<p>营业厅周一至周六 8:30–17:30 营业；抢修电话 95007 全天 24 小时服务。</p>",
     "category": "General", "product": "Service", "keywords": ["营业时间"], "language": "zh"},
    {"question": "How do I update my phone number or email?",
     "alternatives": ["change my contact details", "new mobile number"],
     "answer_html": "<p>Update them in the app under <em>Profile</em>. A change of phone "
                    "number is confirmed with a code sent to the new number.</p>",
     "category": "Account", "product": "App", "keywords": ["phone", "email", "profile"]},
    {"question": "Can I pay my bill in instalments?",
     "alternatives": ["I cannot afford the whole bill", "payment plan for a large bill"],
     "answer_html": "<p>Yes. For bills above 500 you can split the amount into 3 monthly "
                    "instalments without interest. Ask an agent to set it up.</p>",
     "category": "Billing", "product": "Payments", "keywords": ["instalment", "payment plan"]},
]


ZH_ARTICLES_FILE = Path(__file__).with_name("demo_zh.json")


def demo_articles(locale: str) -> list[dict[str, Any]]:
    """The demo FAQ of ``locale`` (``zh-CN`` or ``en``)."""
    if locale == "zh-CN":
        articles: list[dict[str, Any]] = json.loads(ZH_ARTICLES_FILE.read_text(encoding="utf-8"))
        return articles
    return ARTICLES


async def seed_articles(kb: KnowledgeBase, owner: str | None, locale: str = "en") -> int:
    """Create the demo FAQ of ``locale`` once (nothing if any article exists); ``owner``: the demo
    knowledge manager's user id."""
    async with kb.db.read() as conn:
        if (await conn.execute(select(func.count()).select_from(kt.kb_articles))).scalar():
            return 0
    articles = demo_articles(locale)
    async with kb.db.tx() as tx:  # one transaction and one index sync for the whole set
        created = [await kb.create({**data, "status": "published", "owner_id": owner}, None,
                                   action="created", tx=tx) for data in articles]
    await kb.index.sync([a["id"] for a in created])
    return len(articles)
