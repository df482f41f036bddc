"""Demo data for ``make run`` and the end-to-end tests: users agent1..agent5, supervisor, admin
(password ``demo``, accepted at login only while demo data is on), skills, a business-hours
calendar, queues and a handful of contacts. Seeding runs only on an empty database."""

from __future__ import annotations

import functools
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


AGENTS = {
    "agent1": ("Alice Chen", {"billing": 80, "gas_service": 60, "english": 90, "chinese": 90}),
    "agent2": ("Bob Li", {"billing": 60, "gas_service": 80, "english": 80, "chinese": 70}),
    "agent3": ("Carol Wang", {"gas_service": 90, "repairs": 80, "chinese": 90}),
    "agent4": ("Dan Zhao", {"billing": 50, "english": 90}),
    "agent5": ("Eve Sun", {"repairs": 70, "gas_service": 50, "chinese": 80}),
}


async def seed_demo(s: Services) -> bool:
    async with s.db.read() as conn:
        if (await conn.execute(select(func.count()).select_from(t.users))).scalar():
            return False
    ids: dict[str, str] = {}
    for username, (name, skills) in AGENTS.items():
        u = await _demo_user(s, {"username": username, "display_name": name,
                                 "roles": ["agent"], "skills": skills,
                                 "capacity": {"chat": 3, "email": 5, "voice": 1}})
        ids[username] = u.id
    sup = await _demo_user(s, {"username": "supervisor", "display_name": "Grace Supervisor",
                               "roles": ["supervisor"],
                               "skills": {"billing": 90, "gas_service": 90, "repairs": 90}})
    ids["supervisor"] = sup.id
    await _demo_user(s, {"username": "admin", "display_name": "Admin", "roles": ["admin"]})
    for username, name, role in [("km", "Kim Knowledge", "knowledge_manager"),
                                 ("dispatch", "Dora Dispatch", "dispatcher"),
                                 ("pipes", "Pipe repair crew", "department"),
                                 ("meters", "Meter team", "department")]:
        await _demo_user(s, {"username": username, "display_name": name, "roles": [role]})
    for name, label in [("billing", "Billing & payments"), ("gas_service", "Gas service"),
                        ("repairs", "Repairs"), ("english", "English"), ("chinese", "Chinese")]:
        await s.directory.create_skill(name, label)
    await s.directory.create_calendar({
        "name": "Office hours", "tz": "Asia/Shanghai",
        "weekly": {str(d): [["08:00", "20:00"]] for d in range(0, 6)},
        "holidays": ["2027-01-01", "2027-02-17"],
    })
    everyone = [ids[a] for a in AGENTS] + [ids["supervisor"]]
    general = await s.directory.create_queue({
        "id": s.settings.widget_default_queue, "name": "General enquiries",
        "strategy": "longest_idle", "members": everyone,
        "offer_timeout_s": 30, "wrapup_s": 30, "service_level_s": 30,
        "overflow": {"kind": "offline_form"}, "max_wait_s": 900,
    })
    await s.directory.create_queue({
        "name": "Billing", "strategy": "skills_best_match", "required_skills": {"billing": 50},
        "members": [ids["agent1"], ids["agent2"], ids["agent4"], ids["supervisor"]],
        "offer_timeout_s": 30, "wrapup_s": 30,
        "overflow_steps": [{"after_s": 120, "relax_skills": ["billing"], "level_delta": 0}],
        "overflow": {"kind": "queue", "queue_id": general["id"]}, "max_wait_s": 600,
    })
    await s.directory.create_queue({
        "name": "Repairs and leaks", "strategy": "ring_all", "required_skills": {"gas_service": 50},
        "members": [ids["agent2"], ids["agent3"], ids["agent5"], ids["supervisor"]],
        "offer_timeout_s": 20, "wrapup_s": 60,
        "overflow": {"kind": "queue", "queue_id": general["id"]}, "max_wait_s": 300,
    })
    await s.contacts.define_custom_field({"key": "account_no", "label": "Account number", "type": "text"}, None)
    await s.contacts.define_custom_field({"key": "meter_type", "label": "Meter type", "type": "choice",
                                          "choices": ["smart", "mechanical", "prepaid"]}, None)
    demo_contacts: list[dict[str, Any]] = [
        {"name": "Zhang Wei", "email": "zhang.wei@example.com", "phone": "+86 138 0000 1111",
         "tags": ["residential"], "custom": {"account_no": "GC-100231", "meter_type": "smart"}},
        {"name": "Li Na", "email": "li.na@example.com", "phone": "+86 139 0000 2222", "vip": True,
         "tags": ["business", "vip"], "company": "Li's Noodle House",
         "custom": {"account_no": "GC-200876", "meter_type": "mechanical"}},
        {"name": "John Smith", "email": "john.smith@example.com", "phone": "+1 555 0100",
         "tags": ["residential"], "custom": {"account_no": "GC-300017"}},
        {"name": "Maria Garcia", "email": "maria@example.com", "phone": "+34 600 000 333",
         "owner_agent_id": ids["agent2"], "custom": {"account_no": "GC-400555", "meter_type": "prepaid"}},
        {"name": "Wang Fang", "phone": "+86 137 0000 4444", "tags": ["complaint-history"]},
    ]
    for data in demo_contacts:
        await s.contacts.create(data)
    return True
