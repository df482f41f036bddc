"""The demo main line of the reference customer (a city gas company), routed from number 4000:
business hours from the demo calendar "Office hours" (holidays closed), a menu 1 billing /
2 repairs / 3 speech menu / 0 operator, queues with position announcements and a callback /
voicemail offer, after-hours voicemail and a satisfaction survey an agent can send callers to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.app import Services
    from voice.ivr.component import IvrComponent

DEMO_NUMBER = "4000"
DEMO_FLOW_NAME = "Main line"


def _t(*texts: str) -> list[dict[str, str]]:
    return [{"text": t} for t in texts]


def _queue(queue_id: str, intro: str, priority: int, overflow: str, max_wait_s: float,
           announce_s: float) -> dict[str, Any]:
    return {
        "type": "queue", "queue_id": queue_id, "priority": priority,
        "intro": _t(intro), "music": [{"builtin": "moh"}],
        "announce": {"every_s": announce_s, "prompt": _t(
            "You are number {position} in the queue. Your expected wait is about {wait_min} "
            "minutes.")},
        "offer": {"every_s": 90, "first_after_s": 60, "prompt": _t(
            "To be called back instead, press 1. To leave a voicemail, press 2.")},
        "keys": {"1": "callback", "2": "voicemail"},
        "max_wait_s": max_wait_s, "overflow": overflow,
    }


def main_flow(billing: str, repairs: str, general: str) -> dict[str, Any]:
    return {
        "name": DEMO_FLOW_NAME,
        "start": "hours",
        "settings": {"timezone": "Asia/Shanghai", "return_key": "0",
                     "agent_entries": ["survey"]},
        "nodes": {
            "hours": {"type": "condition", "label": "Open today?", "rules": [
                {"when": [{"type": "holiday", "calendar": "Office hours"}], "next": "holiday"},
                {"when": [{"type": "calendar_open", "calendar": "Office hours"}],
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


async def seed_demo_flow(comp: IvrComponent, services: Services) -> None:
    # an admin may have deleted the demo flow: keep it so
    if await comp.s.list_flows() or await services.eventlog.ever_changed("ivr_flow"):
        return
    queues = {q["name"]: q["id"] for q in await services.directory.list_queues()}
    general = services.settings.widget_default_queue
    billing = queues.get("Billing", general)
    repairs = queues.get("Repairs and leaks", general)
    calendars = [c["name"] for c in await services.directory.list_calendars()]
    flow = main_flow(billing, repairs, general)
    fid = await comp.s.create_flow(DEMO_FLOW_NAME, "The company's main number: hours, menu, "
                                   "queues, voicemail", flow, None)
    if "Office hours" in calendars:
        await comp.s.publish(fid, None, calendars=calendars, queues=list(queues.values()))
        await comp.s.route_number(DEMO_NUMBER, fid, None)
    await comp.refresh()
