"""Issue #17, acceptance 1 for the admin, knowledge-base, tickets/work-orders and wallboard pages:
every page each role sees, walked in a browser that speaks Chinese, shows no text of the English
catalogue (and the same walk in English shows none of the Chinese one); a screenshot of each page is
saved to test-artifacts/ (``i18n-<locale>-<user>-<page>.png``).

What counts as "a text of the other catalogue": every message of web/src/i18n/locales/<other>/*.json
that differs from the same key's message in the page's locale. A message without placeholders must
not be the whole of a text on the page (a text node, or a placeholder/title/aria-label); one with
placeholders is matched as a pattern when its fixed words carry at least four letters. Data (queue
names, demo articles, people) is not catalogue text and may be in any language.

Pages are listed per user in WALK: (name, path, what to wait for, what to click to open the page's
other states), so more pages are one line each."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.steps import log_in
from tests.support.hub import REPO, ThreadedHub

pytestmark = pytest.mark.browser

LOCALES = REPO / "web" / "src" / "i18n" / "locales"


@dataclass(frozen=True)
class Step:
    """One page: open ``path``, wait for ``ready`` (a data-testid), then click ``clicks`` in turn
    (data-testids; a ``:first`` suffix takes the first match), checking the page after each."""

    name: str
    path: str
    ready: str
    clicks: tuple[str, ...] = field(default=())


ADMIN_PAGES = [
    Step("users", "/admin/users", "users-table", ("admin-row:first a",)),
    Step("queues", "/admin/queues", "queues-table", ("admin-row:first a", "overflow-step-add")),
    Step("skills", "/admin/skills", "skills-table", ("admin-new",)),
    Step("calendars", "/admin/calendars", "calendars-table", ("admin-new",)),
    Step("rules", "/admin/rules", "rules-table", ("dry-run",)),
    Step("sla", "/admin/sla", "sla-table"),
    Step("departments", "/admin/departments", "departments-page"),
    Step("ivr", "/admin/ivr", "ivr-voice-off"),  # voice is off in the hubs under test: its notice
]
KB_PAGES = [
    Step("kb", "/kb", "kb-articles", ("kb-article-row:first",)),
    Step("kb-gaps", "/kb", "kb-articles", ("kb-tab-gaps",)),
    Step("kb-feedback", "/kb", "kb-articles", ("kb-tab-feedback",)),
    Step("kb-import", "/kb", "kb-articles", ("kb-tab-import",)),
]
TICKETS = Step("tickets", "/tickets", "tickets-table", ("ticket-new",))
TICKET = Step("ticket", "/tickets/{ticket}", "ticket-history")
WORKORDERS = Step("workorders", "/workorders", "wo-table")
WORKORDER = Step("workorder", "/workorders/{workorder}", "wo-history")
REPORT = Step("report", "/workorders/report", "report-total")
WALLBOARD = Step("wallboard", "/wallboard", "wallboard")

WALK: dict[str, list[Step]] = {
    "admin": [*ADMIN_PAGES, *KB_PAGES, TICKETS, TICKET, WORKORDERS, WORKORDER, REPORT, WALLBOARD],
    "km": KB_PAGES,
    "dispatch": [WORKORDERS, WORKORDER, REPORT, TICKETS, TICKET, KB_PAGES[0]],
    "pipes": [WORKORDERS, WORKORDER],
    "supervisor": [WALLBOARD, TICKETS, TICKET, WORKORDERS, REPORT, KB_PAGES[0]],
}


def _flatten(obj: dict[str, object], prefix: str = "") -> Iterator[tuple[str, str]]:
    for k, v in obj.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            yield from _flatten(v, key)
        else:
            yield key, str(v)


def catalogue(locale: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in sorted((LOCALES / locale).glob("*.json")):
        out.update(_flatten(json.loads(f.read_text("utf-8")), f.stem))
    return out


@dataclass
class Foreign:
    """The messages of the other locale, as whole texts and as patterns."""

    texts: dict[str, str]
    patterns: list[tuple[str, re.Pattern[str]]]
    data: frozenset[str] = frozenset()

    def find(self, shown: list[str]) -> list[str]:
        hits = []
        for s in shown:
            if s in self.data:
                continue
            if s in self.texts:
                hits.append(f"{self.texts[s]}: {s!r}")
                continue
            hits += [f"{key}: {s!r}" for key, rx in self.patterns if rx.fullmatch(s)]
        return hits


def foreign_messages(page_locale: str, data: frozenset[str] = frozenset()) -> Foreign:
    other = "en" if page_locale == "zh-CN" else "zh-CN"
    mine, theirs = catalogue(page_locale), catalogue(other)
    texts: dict[str, str] = {}
    patterns: list[tuple[str, re.Pattern[str]]] = []
    for key, msg in theirs.items():
        if mine.get(key) == msg:
            continue  # the same in both languages (VIP, 中文/English, —)
        msg = msg.replace("{'@'}", "@").strip()
        parts = re.split(r"\{\s*\w+\s*\}", msg)
        if len(parts) == 1:
            if re.search(r"[^\W\d_]", msg):
                texts[msg] = key
        elif len(re.findall(r"[^\W\d_]", "".join(parts))) >= 4:
            patterns.append((key, re.compile(".+?".join(re.escape(p) for p in parts), re.S)))
    return Foreign(texts, patterns, data)


def data_texts(api: httpx.Client) -> frozenset[str]:
    """Names the demo data holds (a user called "admin", a KB category "Account"): the pages show
    them as they are, in whatever language they were written."""
    out: set[str] = set()
    for u in api.get("/api/users").json():
        out |= {u["username"], u["display_name"]}
    for path in ("/api/queues", "/api/skills", "/api/departments", "/api/calendars"):
        body = api.get(path).json()
        for item in body if isinstance(body, list) else body["items"]:
            out |= {v for k in ("name", "label") if isinstance(v := item.get(k), str)}
    facets = api.get("/api/kb/facets").json()
    out |= set(facets["categories"]) | set(facets["products"])
    return frozenset(out)


# every text the page shows: trimmed text nodes (not in <script>/<style>/<datalist>, not hidden by
# CSS) and the translatable attributes of the visible elements
SHOWN_TEXTS = """() => {
  const out = []
  const seen = (el) => el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden'
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT)
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement
    if (!el || el.closest('script,style,datalist,textarea,[contenteditable],[translate="no"]')) continue
    const t = n.textContent.replace(/\\s+/g, ' ').trim()
    if (t && (seen(el) || el.closest('select'))) out.push(t)
  }
  for (const el of document.body.querySelectorAll('[placeholder],[title],[aria-label],optgroup[label]')) {
    if (!seen(el) && !el.closest('select')) continue
    for (const a of ['placeholder', 'title', 'aria-label', 'label']) {
      const v = el.getAttribute(a)
      if (v && v.trim() && !(a === 'label' && el.tagName !== 'OPTGROUP')) out.push(v.replace(/\\s+/g, ' ').trim())
    }
  }
  return out
}"""


def _locator(page: Page, spec: str) -> Locator:
    testid, _, rest = spec.partition(" ")
    testid, first = (testid[:-6], True) if testid.endswith(":first") else (testid, False)
    loc = page.get_by_test_id(testid)
    if first:
        loc = loc.first
    return loc.locator(rest).first if rest else loc


@pytest.fixture
def records(hub: ThreadedHub, admin_api: httpx.Client) -> dict[str, str]:
    """A ticket and a work order dispatched to the pipe crew, so their pages have content."""
    r = admin_api.post("/api/tickets", json={"type": "complaint", "priority": "high", "subject": "Gas smell",
                                             "description": "Smell of gas near the meter"})
    assert r.status_code in (200, 201), r.text
    ticket = r.json()["id"]
    assert admin_api.post(f"/api/tickets/{ticket}/status", json={"status": "pending"}).status_code == 200
    r = admin_api.post("/api/workorders", json={"title": "Leaking pipe", "address": "12 Main Road",
                                                "priority": "urgent"})
    assert r.status_code in (200, 201), r.text
    wo = admin_api.get(f"/api/workorders/{r.json()['id']}").json()
    pipes = next(d for d in admin_api.get("/api/departments").json() if d["name"] == "Pipe repairs")
    r = admin_api.post(f"/api/workorders/{wo['id']}/transitions",
                       json={"action": "dispatch", "department_id": pipes["id"],
                             "planned_start": wo["now"] + 3600, "planned_end": wo["now"] + 7200})
    assert r.status_code == 200, r.text
    return {"ticket": ticket, "workorder": wo["id"]}


def walk(page: Page, user: str, foreign: Foreign, locale: str, records: dict[str, str],
         artifacts: Path) -> list[str]:
    problems: list[str] = []
    log_in(page, user)
    expect(page.locator("html")).to_have_attribute("lang", locale)
    for step in WALK[user]:
        page.goto(step.path.format(**records))
        expect(page.get_by_test_id(step.ready).first).to_be_visible()
        states = [("", None), *[(f"-{i + 1}", c) for i, c in enumerate(step.clicks)]]
        for suffix, click in states:
            if click:
                _locator(page, click).click()
            page.wait_for_load_state("networkidle")
            shown = page.evaluate(SHOWN_TEXTS)
            problems += [f"{user} {step.name}{suffix}: {h}" for h in foreign.find(shown)]
            page.screenshot(path=str(artifacts / f"i18n-{locale}-{user}-{step.name}{suffix}.png"), full_page=True)
    return problems


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_pages_show_only_the_users_language(locale: str, person: Callable[..., Page], admin_api: httpx.Client,
                                            records: dict[str, str], artifacts: Path) -> None:
    foreign = foreign_messages(locale, data_texts(admin_api))
    problems: list[str] = []
    for user in WALK:
        problems += walk(person(user, locale), user, foreign, locale, records, artifacts)
    assert not problems, "text of the other language:\n" + "\n".join(problems)


def test_the_check_finds_english_left_in_a_chinese_page() -> None:
    """The matcher itself: a raw English label, an English message with a placeholder and an enum
    shown as its code are found; Chinese texts and data are not."""
    foreign = foreign_messages("zh-CN")
    hits = foreign.find(["Tickets", "overdue 5m 03s", "Save new version", "工单", "剩余 5分03秒",
                         "Zhang Wei", "General enquiries"])
    assert [h.split(": ", 1)[1] for h in hits] == ["'Tickets'", "'overdue 5m 03s'", "'Save new version'"]


def test_admin_sets_a_users_language(person: Callable[..., Page], admin_api: httpx.Client) -> None:
    """An administrator gives Bob Chinese on the users page; Bob's English browser then shows the
    desk in Chinese, and the admin's page stays English."""
    admin = person("admin", "en")
    log_in(admin, "admin")
    admin.goto("/admin/users")
    admin.get_by_test_id("admin-row").filter(has_text="agent2").locator("a").first.click()
    admin.get_by_test_id("user-language").select_option("zh-CN")
    admin.get_by_test_id("admin-save").click()
    expect(admin.get_by_test_id("user-language")).to_have_value("zh-CN")

    def agent2_language() -> str | None:  # the save is a request of its own: wait for it
        return next(u for u in admin_api.get("/api/users").json() if u["username"] == "agent2")["language"]

    deadline = time.monotonic() + 10
    while agent2_language() != "zh-CN" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert agent2_language() == "zh-CN"
    expect(admin.get_by_test_id("admin-new")).to_have_text("New")

    bob = person("agent2", "en")
    log_in(bob, "agent2")
    expect(bob.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(bob.get_by_test_id("nav-tickets")).to_have_text("工单")
