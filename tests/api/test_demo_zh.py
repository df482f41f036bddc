"""The Chinese demo (issue #17, "Demo"): ``make run`` serves a Chinese city gas company's centre by
default (``demo_locale = "zh-CN"``), with the English demo one setting away (``en``, which the rest
of the suite runs on)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bootstrap import load_settings
from hub.errors import ConfigError
from tests.support.hub import InProcessHub, running_hub
from tests.support.wait import eventually
from voice.ivr import IvrSession
from voice.ivr.demo import DEMO_NUMBER
from voice.ivr.model import Dtmf, Enqueue, Play, PromptFinished, SetVariable

HAN = re.compile(r"[\u4e00-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


def chinese(text: str) -> bool:
    return bool(HAN.search(text))


def test_the_demo_is_chinese_unless_the_setting_says_english() -> None:
    assert load_settings(environ={}).demo_locale == "zh-CN"  # make run
    assert load_settings(environ={"HUB_DEMO_LOCALE": "en"}).demo_locale == "en"
    with pytest.raises(ConfigError, match="demo_locale"):
        load_settings(environ={"HUB_DEMO_LOCALE": "fr"})


@pytest.fixture
async def zh_hub(tmp_path: Path, database_url: str) -> AsyncIterator[InProcessHub]:
    async with running_hub(tmp_path / "data", database_url, demo_locale="zh-CN",
                           ivr_prerender_tts=False) as h:
        yield h


async def test_chinese_demo_seeds_a_gas_utility_centre(zh_hub: InProcessHub) -> None:
    admin = await zh_hub.client("admin")
    queues = {q["name"]: q for q in await admin.ok("GET", "/api/queues")}
    assert {"燃气报修", "账单缴费", "投诉建议", "业务办理"} <= set(queues)
    # the widget's default queue exists under its configured id
    assert any(q["id"] == zh_hub.settings.widget_default_queue for q in queues.values())

    departments = {d["name"] for d in await admin.ok("GET", "/api/departments")}
    assert {"抢修队", "管网所", "表务所"} <= departments
    policies = " ".join(p["name"] for p in await admin.ok("GET", "/api/sla-policies"))
    for word in ("报修", "投诉", "咨询", "表务", "安检"):
        assert word in policies

    # people: Chinese names, the same usernames, passwords and roles as the English demo
    users = {u["username"]: u for u in await admin.ok("GET", "/api/users")}
    for username, role in [("agent1", "agent"), ("agent5", "agent"), ("supervisor", "supervisor"),
                           ("admin", "admin"), ("km", "knowledge_manager"),
                           ("dispatch", "dispatcher"), ("pipes", "department"),
                           ("meters", "department")]:
        assert role in users[username]["roles"]
        assert chinese(users[username]["display_name"]), users[username]
    agent = await zh_hub.client("agent1")  # logs in with the demo password
    assert agent.user is not None and chinese(agent.user["display_name"])
    skills = {s["name"]: s["label"] for s in await admin.ok("GET", "/api/skills")}
    assert all(chinese(label) for label in skills.values()), skills

    contacts = (await admin.ok("GET", "/api/contacts?q=张伟"))["items"]
    assert contacts and re.fullmatch(r"\d{10}", contacts[0]["custom"]["account_no"])
    assert "南京市" in contacts[0]["custom"]["address"]

    articles = (await admin.ok("GET", "/api/kb/articles?limit=200&status=published"))
    assert articles["total"] >= 60
    for a in articles["items"]:
        assert chinese(a["question"]) and len([a["question"], *a["alternatives"]]) >= 2, a
        assert all(chinese(q) for q in a["alternatives"])
        assert chinese(a["answer_html"])


async def test_chinese_demo_main_line_speaks_mandarin(zh_hub: InProcessHub) -> None:
    flow = zh_hub.services.ports.ivr.flow_for_number(DEMO_NUMBER)
    assert flow is not None and flow.definition.settings.language == "zh-CN"
    queues = {q["name"]: q["id"] for q in await (await zh_hub.client("admin")).ok("GET", "/api/queues")}
    now = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()  # a Monday
    s = IvrSession(flow, caller="+8613800001111", now=now)
    first = s.start(now)
    assert SetVariable("language", "zh-CN") in first  # the conversation's language
    welcome = next(a for a in first if isinstance(a, Play))
    assert "欢迎致电" in welcome.prompts[0].value
    menu = next(a for a in s.handle(PromptFinished(welcome.play_id), now) if isinstance(a, Play))
    menu_text = " ".join(p.value for p in menu.prompts)
    assert "请按 1" in menu_text and "人工服务" in menu_text
    # the only English in the Chinese menu is the offer of English service
    assert LATIN_WORD.findall(menu_text) == ["For", "English", "service", "please", "press"]
    out = s.handle(Dtmf("1"), now)
    assert next(a for a in out if isinstance(a, Enqueue)).queue_id == queues["燃气报修"]
    intro = next(a for a in out if isinstance(a, Play))
    assert "燃气味" in intro.prompts[0].value

    # 9: English service — the call's language becomes English, and so do the built-in prompts
    s2 = IvrSession(flow, caller="+8613800001111", now=now)
    s2.start(now)
    out = s2.handle(Dtmf("9"), now)  # typed during the welcome: the menu's choice
    assert SetVariable("language", "en") in out
    assert s2.language == "en"


# Customers' own words, in none of the articles' phrasings -> the article that answers them
PARAPHRASES = [
    ("我在厨房里闻到一股臭鸡蛋的味道，是不是漏气了", "家里闻到燃气味怎么办？"),
    ("刚买的二手房，想把燃气户主改成我的名字", "二手房怎么办理燃气过户？"),
    ("欠了几个月气费，会不会给我断气", "欠费多久会停气？"),
    ("插卡式燃气表要去哪儿买气", "IC卡燃气表怎么充值？"),
    ("想请人上门做一次燃气安全检查，怎么约", "如何预约燃气入户安检？"),
    ("厨房装修想把燃气管挪个位置", "家里装修想改燃气管道怎么办？"),
    ("交完燃气费需要报销，怎么拿电子票", "燃气费发票怎么开？"),
    ("今年用气超过三百方以后单价是多少", "居民阶梯气价是怎么计算的？"),
    ("采暖炉点不着，屏幕上有个故障码", "燃气壁挂炉不启动怎么办？"),
    ("物联网燃气表付了钱但阀门还是关着的", "智能表缴费后还是不通气怎么办？"),
]


async def test_chinese_faq_finds_the_right_article_for_paraphrased_questions(
        zh_hub: InProcessHub) -> None:
    agent = await zh_hub.client("agent1")
    articles = (await agent.ok("GET", "/api/kb/articles?limit=200"))["items"]
    phrasings = {q for a in articles for q in [a["question"], *a["alternatives"]]}

    async def indexed() -> bool:
        return (await agent.ok("GET", "/api/kb/status")).get("indexed") == len(articles)

    await eventually(indexed, within=120, what="every demo article is in the search index")
    found, misses = 0, []
    for asked, wanted in PARAPHRASES:
        assert asked not in phrasings and wanted in phrasings
        hits = (await agent.ok("GET", f"/api/kb/search?q={asked}&limit=3"))["hits"]
        top3 = [h["question"] for h in hits]
        if wanted in top3:
            found += 1
        else:
            misses.append((asked, wanted, top3))
    assert found >= 8, misses
