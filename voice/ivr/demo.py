"""The demo main line of the reference customer (a city gas company), routed from number 4000, in
the demo's language (setting ``demo_locale``).

The line's hours condition uses the demo calendar that is open around the clock ("Open 24/7",
"全天服务"), so a newcomer's call is answered at any hour; an administrator points it at the office
hours ("Office hours", "营业时间", which the demo shows on one queue) to hear the after-hours
branch.

``en``: a holiday and business-hours condition, a menu 1 billing /
2 repairs / 3 speech menu / 0 operator, queues with position announcements and a callback /
voicemail offer, after-hours voicemail and a satisfaction survey an agent can send callers to.

``zh-CN`` (:func:`main_flow_zh`): the same line in Mandarin (flow language ``zh-CN``: the prompts
are rendered by the Chinese TTS voice, the built-in prompts come from the Chinese templates, the
speech menu listens for Chinese words; "wrong key", "no key" and "not understood" are the built-in
Chinese prompts): 1 燃气报修 / 2 账单缴费 / 3 业务办理 / 4 投诉建议 /
5 说出您的问题 / 9 English service (sets the call's language to English) / 0 人工服务; after
hours a leak still reaches the repair queue (1), everything else leaves a voicemail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.app import Services
    from voice.ivr.component import IvrComponent

DEMO_NUMBER = "4000"
DEMO_FLOW_NAME = "Main line"
ZH_FLOW_NAME = "客服热线"
# the demo calendars (hub/demo.py) the main line's hours condition uses: open around the clock
ALWAYS_OPEN = {"en": "Open 24/7", "zh-CN": "全天服务"}


def _t(*texts: str) -> list[dict[str, str]]:
    return [{"text": t} for t in texts]


def _queue(queue_id: str, intro: str, priority: int, overflow: str, max_wait_s: float,
           announce_s: float, *, announce: str | None = None,
           offer: str = "To be called back instead, press 1. To leave a voicemail, press 2.",
           ) -> dict[str, Any]:
    """A queue node; ``announce`` None: the flow's own English announcement text, "" the built-in
    one in the call's language (voice/ivr/texts.py)."""
    return {
        "type": "queue", "queue_id": queue_id, "priority": priority,
        "intro": _t(intro), "music": [{"builtin": "moh"}],
        "announce": {"every_s": announce_s} if announce == "" else {"every_s": announce_s, "prompt": _t(
            announce or "You are number {position} in the queue. Your expected wait is about "
            "{wait_min} minutes.")},
        "offer": {"every_s": 90, "first_after_s": 60, "prompt": _t(offer)},
        "keys": {"1": "callback", "2": "voicemail"},
        "max_wait_s": max_wait_s, "overflow": overflow,
    }


def main_flow(billing: str, repairs: str, general: str, calendar: str = "Office hours") -> dict[str, Any]:
    return {
        "name": DEMO_FLOW_NAME,
        "start": "hours",
        "settings": {"timezone": "Asia/Shanghai", "return_key": "0",
                     "agent_entries": ["survey"]},
        "nodes": {
            "hours": {"type": "condition", "label": "Open today?", "rules": [
                {"when": [{"type": "holiday", "calendar": calendar}], "next": "holiday"},
                {"when": [{"type": "calendar_open", "calendar": calendar}],
                 "next": "welcome"}], "default": "after_hours"},
            "welcome": {"type": "play", "label": "Welcome", "prompts": _t(
                "Welcome to City Gas customer service. Calls are recorded for quality."),
                "next": "main"},
            "main": {"type": "menu", "label": "Main menu", "prompt": _t(
                "For billing and payments, press 1. For repairs and gas leaks, press 2. "
                "To tell us in your own words what you are calling about, press 3. "
                "To speak to an operator, press 0."),
                "options": {"1": "billing", "2": "repairs", "3": "speech", "0": "operator"},
                "invalid_prompt": _t("Sorry, that is not one of the choices."),
                "timeout_prompt": _t("Sorry, I did not hear your choice."),
                "timeout_s": 6, "retries": 2, "default": "operator", "store": "menu_choice"},
            "billing": _queue(billing, "Connecting you to our billing team.", 0, "voicemail",
                              600, 45),
            "repairs": _queue(repairs, "Connecting you to our repair service. If you smell "
                              "gas, leave the building first.", 5, "callback", 300, 30),
            "operator": _queue(general, "Please hold for the next available operator.", 0,
                               "voicemail", 900, 60),
            "speech": {"type": "speech_menu", "label": "Say your reason", "prompt": _t(
                "In a few words, please tell me what you are calling about."),
                "branches": [
                    {"key": "billing", "keywords": ["bill", "billing", "payment", "pay",
                                                    "balance", "invoice", "账单", "缴费"],
                     "next": "billing"},
                    {"key": "repairs", "keywords": ["repair", "leak", "smell", "broken",
                                                    "meter", "维修", "漏气"],
                     "next": "repairs"}],
                "hook": "faq", "min_confidence": 0.5, "options": {"0": "operator"},
                "no_match_prompt": _t("Sorry, I did not catch that."),
                "retries": 1, "after_answer": "anything_else", "default": "operator",
                "store": "topic"},
            "anything_else": {"type": "menu", "label": "After an FAQ answer", "prompt": _t(
                "To speak to an agent, press 0. For the main menu, press 9."),
                "options": {"0": "operator", "9": "main"}, "retries": 0, "default": "goodbye"},
            "callback": {"type": "callback", "label": "Callback request", "queue_id": general,
                         "next": "goodbye", "on_failure": "voicemail"},
            "voicemail": {"type": "voicemail", "label": "Voicemail", "mailbox": "general",
                          "greeting": _t("Please leave your name, number and message after the "
                                         "tone. Press hash when you are done."),
                          "max_s": 120, "thanks": _t("Thank you, we will get back to you.")},
            "holiday": {"type": "play", "label": "Holiday", "prompts": _t(
                "Our office is closed today for the public holiday."), "next": "closed_vm"},
            "after_hours": {"type": "play", "label": "After hours", "prompts": _t(
                "Our office is open Monday to Saturday from 8 in the morning to 8 in the "
                "evening. For a gas leak, hang up and call the emergency line."),
                "next": "closed_vm"},
            "closed_vm": {"type": "voicemail", "label": "After-hours voicemail",
                          "mailbox": "after_hours", "greeting": _t(
                              "Leave a message after the tone and we will call you back on the "
                              "next working day."), "max_s": 120},
            "survey": {"type": "menu", "label": "Satisfaction survey", "prompt": _t(
                "How satisfied were you with our service? Press 1 for satisfied, 2 for neutral, "
                "3 for dissatisfied."), "options": {"1": "goodbye", "2": "goodbye",
                                                   "3": "goodbye"},
                "retries": 1, "default": "goodbye", "store": "csat"},
            "goodbye": {"type": "hangup", "label": "Goodbye", "prompt": _t(
                "Thank you for calling City Gas. Goodbye.")},
        },
    }


_ZH_OFFER = "如需稍后回电，请按 1；如需留言，请按 2。"


def _zh_queue(queue_id: str, intro: str, priority: int, overflow: str, max_wait_s: float,
              announce_s: float) -> dict[str, Any]:
    # announcements: the built-in Chinese template (the flow's language)
    return _queue(queue_id, intro, priority, overflow, max_wait_s, announce_s, announce="",
                  offer=_ZH_OFFER)


def main_flow_zh(q: dict[str, str], calendar: str) -> dict[str, Any]:
    """The Chinese main line; ``q``: queue ids by role (repairs, billing, business, complaints,
    general); ``calendar``: the office-hours calendar's name."""
    return {
        "name": ZH_FLOW_NAME,
        "start": "hours",
        "settings": {"timezone": "Asia/Shanghai", "language": "zh-CN", "return_key": "0",
                     "agent_entries": ["survey"]},
        "nodes": {
            "hours": {"type": "condition", "label": "是否营业", "rules": [
                {"when": [{"type": "holiday", "calendar": calendar}], "next": "holiday"},
                {"when": [{"type": "calendar_open", "calendar": calendar}], "next": "welcome"}],
                "default": "after_hours"},
            "welcome": {"type": "play", "label": "欢迎语", "prompts": _t(
                "您好，欢迎致电城市燃气客服热线。为提高服务质量，您的通话可能会被录音。"),
                "next": "main"},
            "main": {"type": "menu", "label": "主菜单", "prompt": _t(
                "燃气泄漏及故障报修，请按 1；账单查询和缴费，请按 2；开户、过户、安检预约等业务办理，"
                "请按 3；投诉和建议，请按 4；直接说出您要办理的事情，请按 5；For English service, "
                "please press 9；人工服务，请按 0。"),
                "options": {"1": "repairs", "2": "billing", "3": "business", "4": "complaints",
                            "5": "speech", "9": "english", "0": "operator"},
                "timeout_s": 6, "retries": 2, "default": "operator", "store": "menu_choice"},
            "repairs": _zh_queue(q["repairs"], "正在为您转接抢修调度。如果您闻到燃气味，请先开窗通风，"
                                 "不要开关电器，到室外安全的地方再通话。", 5, "callback", 300, 30),
            "billing": _zh_queue(q["billing"], "正在为您转接账单缴费专席。", 0, "voicemail", 600, 45),
            "business": _zh_queue(q["business"], "正在为您转接业务办理专席。", 0, "voicemail", 600,
                                  45),
            "complaints": _zh_queue(q["complaints"], "正在为您转接投诉建议专席。", 0, "voicemail",
                                    600, 45),
            "operator": _zh_queue(q["general"], "请稍候，正在为您转接人工客服。", 0, "voicemail", 900,
                                  60),
            "english": {"type": "set", "label": "English service", "variables": {"language": "en"},
                        "next": "operator_en"},
            "operator_en": _queue(q["general"], "Please hold for the next available operator.", 0,
                                  "voicemail", 900, 60, announce=""),
            "speech": {"type": "speech_menu", "label": "说出您的问题", "prompt": _t(
                "请用一句话简单说明您要办理的事情。"),
                "branches": [
                    {"key": "repairs", "keywords": ["漏气", "泄漏", "燃气味", "煤气味", "报修", "维修",
                                                    "坏了", "打不着", "点不着", "没气", "停气",
                                                    "壁挂炉", "燃气表"], "next": "repairs"},
                    {"key": "billing", "keywords": ["账单", "缴费", "交费", "燃气费", "欠费", "余额",
                                                    "充值", "发票", "气价"], "next": "billing"},
                    {"key": "business", "keywords": ["开户", "过户", "销户", "改管", "安检", "换表",
                                                     "办理"], "next": "business"},
                    {"key": "complaints", "keywords": ["投诉", "建议", "不满意", "态度"],
                     "next": "complaints"}],
                "hook": "faq", "min_confidence": 0.5, "options": {"0": "operator"},
                "language": "zh-CN",
                "retries": 1, "after_answer": "anything_else", "default": "operator",
                "store": "topic"},
            "anything_else": {"type": "menu", "label": "解答之后", "prompt": _t(
                "转人工服务请按 0，返回主菜单请按 9。"),
                "options": {"0": "operator", "9": "main"}, "retries": 0, "default": "goodbye"},
            "callback": {"type": "callback", "label": "预约回电", "queue_id": q["general"],
                         "next": "goodbye", "on_failure": "voicemail"},
            "voicemail": {"type": "voicemail", "label": "留言", "mailbox": "general",
                          "greeting": _t("请在提示音后留下您的姓名、电话和要办理的事情，"
                                         "结束请按井号键。"),
                          "max_s": 120, "thanks": _t("谢谢，我们会尽快与您联系。")},
            "holiday": {"type": "play", "label": "节假日", "prompts": _t(
                "今天是法定节假日，营业厅休息。"), "next": "after_hours"},
            "after_hours": {"type": "menu", "label": "非工作时间", "prompt": _t(
                "现在是非工作时间。我们的服务时间是周一至周六早上八点到晚上八点。"
                "如遇燃气泄漏或紧急抢修，请按 1，抢修值班二十四小时为您服务；其他事项请在提示音后留言。"),
                "options": {"1": "repairs"}, "timeout_s": 4, "retries": 0,
                "default": "closed_vm"},
            "closed_vm": {"type": "voicemail", "label": "下班留言", "mailbox": "after_hours",
                          "greeting": _t("请在提示音后留言，我们将在下一个工作日给您回电。"),
                          "max_s": 120},
            "survey": {"type": "menu", "label": "满意度调查", "prompt": _t(
                "请对本次服务进行评价：满意请按 1，一般请按 2，不满意请按 3。"),
                "options": {"1": "goodbye", "2": "goodbye", "3": "goodbye"},
                "retries": 1, "default": "goodbye", "store": "csat"},
            "goodbye": {"type": "hangup", "label": "结束语", "prompt": _t(
                "感谢您的来电，祝您生活愉快，再见。")},
        },
    }


async def seed_demo_flow(comp: IvrComponent, services: Services) -> None:
    # an admin may have deleted the demo flow: keep it so
    if await comp.s.list_flows() or await services.eventlog.ever_changed("ivr_flow"):
        return
    queues = {q["name"]: q["id"] for q in await services.directory.list_queues()}
    general = services.settings.widget_default_queue
    calendars = [c["name"] for c in await services.directory.list_calendars()]
    calendar = ALWAYS_OPEN[services.settings.demo_locale]
    if services.settings.demo_locale == "zh-CN":
        roles = {"repairs": "燃气报修", "billing": "账单缴费", "business": "业务办理",
                 "complaints": "投诉建议"}
        flow = main_flow_zh({"general": general, **{k: queues.get(v, general) for k, v in roles.items()}},
                            calendar)
        description = "客服热线主号码：营业时间、按键菜单、语音导航、排队、留言"
    else:
        flow = main_flow(queues.get("Billing", general), queues.get("Repairs and leaks", general),
                         general, calendar)
        description = "The company's main number: hours, menu, queues, voicemail"
    fid = await comp.s.create_flow(flow["name"], description, flow, None)
    if calendar in calendars:
        await comp.s.publish(fid, None, calendars=calendars, queues=list(queues.values()))
        await comp.s.route_number(DEMO_NUMBER, fid, None)
    await comp.refresh()
    if services.ports.voice is not None:  # callers can dial in: their prompts, ready
        await comp.prerender_published()
