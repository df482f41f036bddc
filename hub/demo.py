"""Demo data for ``make run`` and the end-to-end tests: users agent1..agent5, supervisor, admin,
km, dispatch and the repair departments' accounts (password ``demo``, accepted at login only while
demo data is on), skills, a business-hours calendar, queues and a handful of contacts. Seeding
runs only on an empty database.

Two demos, chosen by the setting ``demo_locale``: ``zh-CN`` (the default of ``make run``) is a
Chinese city gas company's centre — queues 燃气报修 / 账单缴费 / 投诉建议 / 业务办理, Chinese names,
contacts with addresses and account numbers; ``en`` is the English demo the test suite runs on.
The usernames, passwords and roles are the same in both."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from hub.db import tables as t
from hub.security import ScryptParams, hash_password
from hub.services.auth import DEMO_PASSWORD

if TYPE_CHECKING:
    from hub.app import Services

PASSWORD = DEMO_PASSWORD


@functools.cache
def _password_hash(params: ScryptParams) -> str:
    """One scrypt hash of the demo password per process and parameters: the demo users share
    its salt, which reveals nothing — their password is published above."""
    return hash_password(PASSWORD, params)


async def _demo_user(s: Services, data: dict[str, Any]) -> Any:
    return await s.auth.create_user({**data, "password": PASSWORD},
                                    password_hash=_password_hash(s.auth.scrypt))


@dataclass(frozen=True)
class DemoData:
    """One demo's people, routing and customers. Queue ``members`` and a contact's ``owner`` name
    users; a queue with ``"general": True`` is the widget's default queue (its id is the setting
    ``widget_default_queue``); ``"overflow_to_general"`` sends its overflow there; ``"calendar"``
    names its business hours (a new contact outside them goes to the general queue).
    ``calendar`` is the office hours (an example on one queue), ``always_open`` the main line's
    calendar: open around the clock, so a newcomer's first call is answered, not sent to the night
    message (voice/ivr/demo.py ``ALWAYS_OPEN`` names it)."""

    agents: dict[str, tuple[str, dict[str, int]]]
    supervisor: tuple[str, dict[str, int]]
    staff: list[tuple[str, str, str]]  # username, display name, role (admin, km, dispatch, departments)
    skills: list[tuple[str, str]]
    calendar: dict[str, Any]
    always_open: dict[str, Any]
    queues: list[dict[str, Any]]
    custom_fields: list[dict[str, Any]]
    contacts: list[dict[str, Any]]


def _always_open(name: str) -> dict[str, Any]:
    return {"name": name, "tz": "Asia/Shanghai", "weekly": {str(d): [["00:00", "24:00"]] for d in range(7)},
            "holidays": []}


EN = DemoData(
    agents={
        "agent1": ("Alice Chen", {"billing": 80, "gas_service": 60, "english": 90, "chinese": 90}),
        "agent2": ("Bob Li", {"billing": 60, "gas_service": 80, "english": 80, "chinese": 70}),
        "agent3": ("Carol Wang", {"gas_service": 90, "repairs": 80, "chinese": 90}),
        "agent4": ("Dan Zhao", {"billing": 50, "english": 90}),
        "agent5": ("Eve Sun", {"repairs": 70, "gas_service": 50, "chinese": 80}),
    },
    supervisor=("Grace Supervisor", {"billing": 90, "gas_service": 90, "repairs": 90}),
    staff=[("admin", "Admin", "admin"), ("km", "Kim Knowledge", "knowledge_manager"),
           ("dispatch", "Dora Dispatch", "dispatcher"), ("pipes", "Pipe repair crew", "department"),
           ("meters", "Meter team", "department")],
    skills=[("billing", "Billing & payments"), ("gas_service", "Gas service"), ("repairs", "Repairs"),
            ("english", "English"), ("chinese", "Chinese")],
    calendar={"name": "Office hours", "tz": "Asia/Shanghai",
              "weekly": {str(d): [["08:00", "20:00"]] for d in range(0, 6)},
              "holidays": ["2027-01-01", "2027-02-17"]},
    always_open=_always_open("Open 24/7"),
    queues=[
        {"general": True, "name": "General enquiries", "strategy": "longest_idle",
         "members": ["agent1", "agent2", "agent3", "agent4", "agent5", "supervisor"],
         "offer_timeout_s": 30, "wrapup_s": 30, "service_level_s": 30,
         "overflow": {"kind": "offline_form"}, "max_wait_s": 900},
        {"name": "Billing", "strategy": "skills_best_match", "required_skills": {"billing": 50},
         "members": ["agent1", "agent2", "agent4", "supervisor"],
         "offer_timeout_s": 30, "wrapup_s": 30,
         "overflow_steps": [{"after_s": 120, "relax_skills": ["billing"], "level_delta": 0}],
         "overflow_to_general": True, "max_wait_s": 600},
        {"name": "Repairs and leaks", "strategy": "ring_all", "required_skills": {"gas_service": 50},
         "members": ["agent2", "agent3", "agent5", "supervisor"],
         "offer_timeout_s": 20, "wrapup_s": 60, "overflow_to_general": True, "max_wait_s": 300},
        # business hours as an example (the other queues answer around the clock, as the demo line)
        {"name": "Account services", "strategy": "round_robin", "required_skills": {"billing": 50},
         "calendar": "Office hours", "members": ["agent1", "agent2", "agent4", "supervisor"],
         "offer_timeout_s": 30, "wrapup_s": 45, "overflow_to_general": True, "max_wait_s": 600},
    ],
    custom_fields=[{"key": "account_no", "label": "Account number", "type": "text"},
                   {"key": "meter_type", "label": "Meter type", "type": "choice",
                    "choices": ["smart", "mechanical", "prepaid"]}],
    contacts=[
        {"name": "Zhang Wei", "email": "zhang.wei@example.com", "phone": "+86 138 0000 1111",
         "tags": ["residential"], "custom": {"account_no": "GC-100231", "meter_type": "smart"}},
        {"name": "Li Na", "email": "li.na@example.com", "phone": "+86 139 0000 2222", "vip": True,
         "tags": ["business", "vip"], "company": "Li's Noodle House",
         "custom": {"account_no": "GC-200876", "meter_type": "mechanical"}},
        {"name": "John Smith", "email": "john.smith@example.com", "phone": "+1 555 0100",
         "tags": ["residential"], "custom": {"account_no": "GC-300017"}},
        {"name": "Maria Garcia", "email": "maria@example.com", "phone": "+34 600 000 333",
         "owner": "agent2", "custom": {"account_no": "GC-400555", "meter_type": "prepaid"}},
        {"name": "Wang Fang", "phone": "+86 137 0000 4444", "tags": ["complaint-history"]},
    ],
)

_ALL_AGENTS = ["agent1", "agent2", "agent3", "agent4", "agent5", "supervisor"]

ZH = DemoData(
    agents={
        "agent1": ("陈晓丽", {"billing": 80, "gas_service": 60, "complaints": 70, "mandarin": 90,
                              "english": 80}),
        "agent2": ("李建国", {"billing": 60, "repairs": 80, "gas_service": 80, "mandarin": 90}),
        "agent3": ("王芳", {"repairs": 90, "complaints": 80, "mandarin": 90, "cantonese": 70}),
        "agent4": ("赵明", {"billing": 70, "gas_service": 70, "mandarin": 80, "english": 90}),
        "agent5": ("孙伟", {"repairs": 70, "gas_service": 60, "mandarin": 90}),
    },
    supervisor=("周敏", {"billing": 90, "gas_service": 90, "repairs": 90, "complaints": 90,
                        "mandarin": 90}),
    staff=[("admin", "系统管理员", "admin"), ("km", "刘静", "knowledge_manager"),
           ("dispatch", "吴强（总调度室）", "dispatcher"), ("pipes", "抢修队", "department"),
           ("network", "管网所", "department"), ("meters", "表务所", "department")],
    skills=[("billing", "账单缴费"), ("gas_service", "燃气业务办理"), ("repairs", "燃气报修"),
            ("complaints", "投诉处理"), ("mandarin", "普通话"), ("cantonese", "粤语"),
            ("english", "英语")],
    calendar={"name": "营业时间", "tz": "Asia/Shanghai",
              "weekly": {str(d): [["08:00", "20:00"]] for d in range(0, 6)},
              # 元旦、春节（2027 年）、清明、劳动节、端午、中秋、国庆
              "holidays": ["2027-01-01", "2027-02-06", "2027-02-07", "2027-02-08", "2027-04-05",
                           "2027-05-01", "2027-06-09", "2027-09-15", "2027-10-01", "2027-10-02",
                           "2027-10-03"]},
    always_open=_always_open("全天服务"),
    queues=[
        {"general": True, "name": "综合服务", "strategy": "longest_idle", "members": _ALL_AGENTS,
         "offer_timeout_s": 30, "wrapup_s": 30, "service_level_s": 30,
         "overflow": {"kind": "offline_form"}, "max_wait_s": 900},
        {"name": "燃气报修", "strategy": "ring_all", "required_skills": {"repairs": 50},
         "members": ["agent2", "agent3", "agent5", "supervisor"],
         "offer_timeout_s": 20, "wrapup_s": 60, "service_level_s": 15,
         "overflow_to_general": True, "max_wait_s": 300},
        {"name": "账单缴费", "strategy": "skills_best_match", "required_skills": {"billing": 50},
         "members": ["agent1", "agent2", "agent4", "supervisor"], "offer_timeout_s": 30,
         "wrapup_s": 30, "overflow_steps": [{"after_s": 120, "relax_skills": ["billing"],
                                             "level_delta": 0}],
         "overflow_to_general": True, "max_wait_s": 600},
        {"name": "投诉建议", "strategy": "skills_best_match", "required_skills": {"complaints": 60},
         "members": ["agent1", "agent3", "supervisor"], "offer_timeout_s": 30, "wrapup_s": 90,
         "overflow_to_general": True, "max_wait_s": 600},
        {"name": "业务办理", "strategy": "round_robin", "required_skills": {"gas_service": 50},
         "calendar": "营业时间",
         "members": ["agent1", "agent2", "agent4", "agent5", "supervisor"], "offer_timeout_s": 30,
         "wrapup_s": 45, "overflow_to_general": True, "max_wait_s": 600},
    ],
    custom_fields=[{"key": "account_no", "label": "户号", "type": "text"},
                   {"key": "address", "label": "用气地址", "type": "text"},
                   {"key": "meter_type", "label": "表具类型", "type": "choice",
                    "choices": ["智能表", "IC卡表", "机械表"]}],
    contacts=[
        {"name": "张伟", "email": "zhang.wei@example.com", "phone": "+86 138 0000 1111",
         "tags": ["居民用户"], "custom": {"account_no": "0201003156", "meter_type": "智能表",
                                       "address": "江苏省南京市鼓楼区中山北路 108 号 3 栋 502 室"}},
        {"name": "李娜", "email": "li.na@example.com", "phone": "+86 139 0000 2222", "vip": True,
         "tags": ["工商户", "VIP"], "company": "李记面馆",
         "custom": {"account_no": "0305008876", "meter_type": "机械表",
                    "address": "江苏省南京市秦淮区夫子庙贡院街 25 号"}},
        {"name": "王芳芳", "phone": "+86 137 0000 4444", "tags": ["有投诉记录"],
         "custom": {"account_no": "0102004411", "meter_type": "IC卡表",
                    "address": "江苏省南京市玄武区北京东路 41 号 2 单元 1101 室"}},
        {"name": "刘洋", "email": "liu.yang@example.com", "phone": "+86 135 1234 5678",
         "owner": "agent2", "tags": ["居民用户"],
         "custom": {"account_no": "0408007723", "meter_type": "智能表",
                    "address": "江苏省南京市建邺区江东中路 300 号 8 幢 1602 室"}},
        {"name": "陈静", "phone": "+86 186 5555 0101", "tags": ["居民用户", "独居老人"],
         "custom": {"account_no": "0207001298", "meter_type": "IC卡表",
                    "address": "江苏省南京市鼓楼区湖南路 12 号 1 栋 301 室"}},
        {"name": "赵强", "email": "zhaoqiang@example.com", "phone": "+86 159 0000 3333",
         "company": "金陵大酒店", "tags": ["工商户"],
         "custom": {"account_no": "0501000087", "meter_type": "智能表",
                    "address": "江苏省南京市秦淮区汉中路 2 号"}},
    ],
)

DEMOS = {"en": EN, "zh-CN": ZH}


def demo_data(locale: str) -> DemoData:
    """The demo of ``locale`` (the setting ``demo_locale``: ``zh-CN`` or ``en``)."""
    return DEMOS[locale]


async def seed_demo(s: Services) -> bool:
    async with s.db.read() as conn:
        if (await conn.execute(select(func.count()).select_from(t.users))).scalar():
            return False
    demo = demo_data(s.settings.demo_locale)
    ids: dict[str, str] = {}
    for username, (name, skills) in demo.agents.items():
        u = await _demo_user(s, {"username": username, "display_name": name,
                                 "roles": ["agent"], "skills": skills,
                                 "capacity": {"chat": 3, "email": 5, "voice": 1}})
        ids[username] = u.id
    sup_name, sup_skills = demo.supervisor
    ids["supervisor"] = (await _demo_user(s, {"username": "supervisor", "display_name": sup_name,
                                              "roles": ["supervisor"], "skills": sup_skills})).id
    for username, name, role in demo.staff:
        ids[username] = (await _demo_user(s, {"username": username, "display_name": name,
                                              "roles": [role]})).id
    for name, label in demo.skills:
        await s.directory.create_skill(name, label)
    calendars = {}
    for calendar in (demo.calendar, demo.always_open):
        calendars[calendar["name"]] = (await s.directory.create_calendar(calendar))["id"]
    general_id = s.settings.widget_default_queue
    for spec in demo.queues:
        data = {k: v for k, v in spec.items() if k not in {"general", "overflow_to_general", "calendar"}}
        if "calendar" in spec:
            data["calendar_id"] = calendars[spec["calendar"]]
            data["closed_target"] = {"kind": "queue", "queue_id": general_id}
        data["members"] = [ids[m] for m in spec["members"]]
        if spec.get("general"):
            data["id"] = general_id
        if spec.get("overflow_to_general"):
            data["overflow"] = {"kind": "queue", "queue_id": general_id}
        await s.directory.create_queue(data)
    for field in demo.custom_fields:
        await s.contacts.define_custom_field(field, None)
    for contact in demo.contacts:
        data = {k: v for k, v in contact.items() if k != "owner"}
        if "owner" in contact:
            data["owner_agent_id"] = ids[contact["owner"]]
        await s.contacts.create(data)
    return True
