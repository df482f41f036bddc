"""What the i18n browser checks share (issue #17): the catalogues, the check that a page shows no
message of the other language's catalogue, and the wait for a page's data to have arrived.

"A text of the other catalogue": every message of web/src/i18n/locales/<other>/*.json that the
page's language writes differently (not the same key's message, not a message of its own
catalogue). A message without placeholders must not be the whole of a text on the page (a text
node, an option of a list shown, or a placeholder/title/aria-label/alt); one with placeholders is
matched as a pattern of a whole text ({placeholders} match anything) when its fixed words carry at
least three letters. Data (queue names, demo articles, people) is not catalogue text and may be in
any language: ``data_texts`` lists what the demo holds."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from playwright.sync_api import Page, Request

from tests.support.hub import REPO

LOCALES = REPO / "web" / "src" / "i18n" / "locales"
LANG_OF = {"zh-CN": "zh-CN", "en": "en-US"}  # the browser's language for each walk
_PLACEHOLDER = re.compile(r"\{\s*\w+\s*\}")
_LETTER = re.compile(r"[^\W\d_]")

# every text the page (or the part ``scope`` selects) shows: trimmed text nodes (not in
# <script>/<style>/<datalist>/inputs being typed in, not hidden by CSS), the options of lists, the
# translatable attributes of the visible elements, and the document's title
SHOWN_TEXTS = """(scope) => {
  const root = scope ? document.querySelector(scope) : document.body
  const out = []
  const seen = (el) => el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden'
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT)
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement
    if (!el || el.closest('script,style,datalist,textarea,[contenteditable],[translate="no"]')) continue
    const t = n.textContent.replace(/\\s+/g, ' ').trim()
    if (t && (el.tagName === 'OPTION' ? seen(el.closest('select')) : seen(el))) out.push(t)
  }
  for (const el of root.querySelectorAll('[placeholder],[title],[aria-label],[alt],optgroup[label]')) {
    if (!seen(el) && !(el.tagName === 'OPTGROUP' && seen(el.closest('select')))) continue
    for (const a of ['placeholder', 'title', 'aria-label', 'alt', 'label']) {
      const v = el.getAttribute(a)
      if (v && v.trim() && !(a === 'label' && el.tagName !== 'OPTGROUP')) out.push(v.replace(/\\s+/g, ' ').trim())
    }
  }
  if (!scope) out.push(document.title)
  return out
}"""


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


class Foreign:
    """The messages of the language other than ``shown``, as whole texts and as patterns."""

    def __init__(self, shown: str, data: frozenset[str] = frozenset()) -> None:
        mine, theirs = catalogue(shown), catalogue("en" if shown == "zh-CN" else "zh-CN")
        own = set(mine.values())
        self.data = data
        self.texts: dict[str, str] = {}
        self.patterns: list[tuple[str, re.Pattern[str]]] = []
        for key, msg in theirs.items():
            msg = msg.replace("{'@'}", "@").strip()
            if mine.get(key) == msg or msg in own:
                continue  # the same in both languages (VIP, 中文/English, —)
            parts = _PLACEHOLDER.split(msg)
            if len(parts) == 1:
                if _LETTER.search(msg):
                    self.texts[msg] = key
            elif len(_LETTER.findall("".join(parts))) >= 3:
                # the spaces around a placeholder stay ("{n} min" is not the end of "Admin")
                joined = r".+?".join(re.sub(r"(\\ )+", r"\\s+", re.escape(p)) for p in parts)
                self.patterns.append((key, re.compile(r"\s*" + joined + r"\s*", re.S)))
        # one alternation first (C speed); the single patterns only to name a hit
        self._any = re.compile("|".join(f"(?:{rx.pattern})" for _, rx in self.patterns), re.S) \
            if self.patterns else None

    def find(self, shown: list[str]) -> list[str]:
        hits = []
        for s in shown:
            if s in self.data:
                continue
            if s in self.texts:
                hits.append(f"{self.texts[s]}: {s!r}")
            elif self._any is not None and self._any.fullmatch(s):
                hits += [f"{key}: {s!r}" for key, rx in self.patterns if rx.fullmatch(s)]
        return hits


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


class Quiet:
    """Waits until a page has no HTTP request in flight for a moment: what it loaded is on screen.
    (Playwright's "networkidle" waits half a second each time; the walks check a hundred states.)"""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.inflight: set[Request] = set()
        self.last = time.monotonic()
        page.on("request", self._start)
        page.on("requestfinished", self._end)
        page.on("requestfailed", self._end)

    def _start(self, request: Request) -> None:
        self.inflight.add(request)
        self.last = time.monotonic()

    def _end(self, request: Request) -> None:
        self.inflight.discard(request)
        self.last = time.monotonic()

    def wait(self, idle_s: float = 0.12, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        self.page.wait_for_timeout(30)  # let the click's requests start
        while self.inflight or time.monotonic() - self.last < idle_s:
            if time.monotonic() > deadline:
                raise AssertionError(f"requests still in flight after {timeout_s} s: "
                                     f"{[r.url for r in self.inflight]}")
            self.page.wait_for_timeout(30)


class Walk:
    """Checks and screenshots each page of one language's walk (test-artifacts/i18n/<locale>/)."""

    def __init__(self, locale: str, artifacts: Path, data: frozenset[str] = frozenset()) -> None:
        self.locale = locale
        self.foreign = Foreign(locale, data)
        self.dir = artifacts / "i18n" / locale
        self.dir.mkdir(parents=True, exist_ok=True)
        self.problems: list[str] = []
        self.console_errors: list[str] = []
        self.pages = 0
        self._quiet: dict[int, Quiet] = {}

    def open(self, page: Page, path: str) -> None:
        """Go to ``path`` inside the running app, as its own links do (a full page load costs four
        times as much); a page without the app, or already there (to start from the page's first
        state), loads it."""
        pushed = page.evaluate("""(path) => {
          const app = document.querySelector('#app')?.__vue_app__
          if (!app || location.pathname + location.search === path) return false
          app.config.globalProperties.$router.push(path)
          return true
        }""", path)
        if not pushed:
            page.goto(path)
        else:
            page.wait_for_url(lambda url: url.split("://", 1)[-1].split("/", 1)[-1].startswith(path.lstrip("/")))

    def track(self, page: Page) -> Page:
        """Follow ``page`` from now on: each check waits until what it loaded is shown, and what the
        page logs as an error (a failed request, a Vue warning) is kept in ``console_errors``."""
        self._quiet[id(page)] = Quiet(page)
        page.on("console", lambda msg: self.console_errors.extend(
            [f"{page.url}: {msg.text} ({msg.location.get('url', '')})"] if msg.type == "error" else []))
        return page

    def check(self, page: Page, name: str, scope: str | None = None) -> None:
        """Check the page (or only the part ``scope`` selects) and take its screenshot."""
        if id(page) in self._quiet:
            self._quiet[id(page)].wait()
        texts: list[str] = page.evaluate(SHOWN_TEXTS, scope)
        self.problems += [f"{name}: {hit}" for hit in self.foreign.find(texts)]
        file = re.sub(r"[^\w.-]+", "_", name) + ".jpeg"
        page.screenshot(path=str(self.dir / file), full_page=True, type="jpeg", quality=80)
        self.pages += 1
