"""Browser end-to-end fixtures: a fresh hub per test (configured like ``python server.py`` with demo
data, served from a thread of the test process: tests/support/hub.py ``ThreadedHub``), one
headless Chromium per module, and one browser context per person (customer, agent1, agent2,
supervisor) so cookies and storage are as separate as on real machines.

The tests use Playwright's *sync* API in plain test functions. Every wait has a 10 s limit.
Screenshots go to ``test-artifacts/`` at the repository root (git-ignored); when a test fails,
every open page is captured there as ``FAILED-<test>-<person>.png``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from hub.api.headers import desk_policy, widget_policy
from tests.browser.hubs import failed, running
from tests.support.hub import REPO, ThreadedHub

CHROMIUM = Path(os.environ.get("HUB_TEST_CHROMIUM", "/usr/bin/chromium"))  # Debian's chromium
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 10_000
ARTIFACTS = REPO / "test-artifacts"
VIEWPORT = {"width": 1440, "height": 900}

# Every page reports what the hub's Content Security Policy blocked (hub/api/headers.py): the UI
# must never need anything the policy forbids. Frames that run scripts report it through the
# ``securitypolicyviolation`` event; sandboxed ones (an email's iframe, which inherits the desk's
# policy) only through Chromium's console message, which quotes the directive.
CSP_LISTENER = """document.addEventListener('securitypolicyviolation', (e) => console.error(
  `CSP violation: ${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`
  + ` in ${document.location.href} (policy: ${e.originalPolicy})`))"""
HUB_DIRECTIVES = tuple(
    part.strip() for policy in (desk_policy(None), widget_policy(None, frozenset()))
    for part in policy.split(";") if not part.strip().startswith("frame-ancestors"))
_QUOTED_DIRECTIVE = re.compile(r'Content Security Policy directive: "([^"]+)"')


def csp_violation(text: str) -> bool:
    """Whether a console message says the hub's policy blocked something. Refusals to be framed
    (``frame-ancestors``) are the policy at work, not the UI broken; an email's own stricter policy
    (remote images before the agent consents) is not the hub's."""
    if text.startswith("CSP violation: "):
        return not text.startswith("CSP violation: frame-ancestors") and "(policy: default-src 'self';" in text
    m = _QUOTED_DIRECTIVE.search(text)
    return m is not None and m.group(1).startswith(HUB_DIRECTIVES)

expect.set_options(timeout=TIMEOUT_MS)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per module, not per test process: while Playwright's sync API is open its event
    loop counts as running in this thread, so the asyncio tests that pytest-xdist runs next in the
    same process could not start theirs."""
    if not CHROMIUM.exists():
        msg = (f"{CHROMIUM} is missing: install the Debian package (apt-get install chromium); "
               "the browser tests never download a browser")
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True,
                               timeout=30_000)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def hub(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ThreadedHub]:
    """A fresh hub with the demo data for every test: nothing leaks from one test to the next."""
    with running(ThreadedHub(tmp_path / "data"), request) as h:
        yield h


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def person(browser: Browser, hub: ThreadedHub, request: pytest.FixtureRequest,
           artifacts: Path) -> Iterator[Callable[..., Page]]:
    """``person("agent1")`` opens a new browser context (own cookies and storage) and a page;
    ``person("agent1", "zh-CN")`` one whose browser speaks Chinese."""
    pages: dict[str, Page] = {}
    errors: list[str] = []
    slug = re.sub(r"[^\w.-]+", "_", request.node.name)
    for old in artifacts.glob(f"FAILED-{slug}-*.png"):  # from an earlier failed run
        old.unlink()

    def make(name: str, locale: str | None = None) -> Page:
        """``locale``: the browser's language (navigator.language), e.g. "zh-CN"; None: Chromium's."""
        assert name not in pages, f"{name} already has a browser"
        ctx = browser.new_context(base_url=hub.base_url, viewport=VIEWPORT,
                                  **({"locale": locale} if locale else {}))
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.set_default_navigation_timeout(TIMEOUT_MS)
        ctx.add_init_script(CSP_LISTENER)
        page = ctx.new_page()
        page.on("pageerror", lambda err, who=name: errors.append(f"{who}: {err}"))
        page.on("console", lambda msg, who=name: errors.extend(
            [f"{who}: {msg.text}"] if csp_violation(msg.text) else []))
        pages[name] = page
        return page

    yield make
    try:
        if failed(request):
            for name, page in pages.items():
                try:
                    page.screenshot(path=str(artifacts / f"FAILED-{slug}-{name}.png"), full_page=True,
                                    timeout=5_000)
                except Exception as err:  # noqa: BLE001 - best effort on an already failed test
                    print(f"could not capture {name}: {err}")
    finally:
        for page in pages.values():
            page.context.close()
    assert not errors, f"uncaught JavaScript errors or Content Security Policy violations: {errors}"


@pytest.fixture
def customer(person: Callable[[str], Page]) -> Page:
    return person("customer")


@pytest.fixture
def agent1(person: Callable[[str], Page]) -> Page:
    return person("agent1")


@pytest.fixture
def agent2(person: Callable[[str], Page]) -> Page:
    return person("agent2")


@pytest.fixture
def supervisor(person: Callable[[str], Page]) -> Page:
    return person("supervisor")


@pytest.fixture
def admin_api(hub: ThreadedHub) -> Iterator[httpx.Client]:
    """The admin REST API, logged in (for set-up that is not what the test is about)."""
    with httpx.Client(base_url=hub.base_url, timeout=10) as client:
        r = client.post("/api/auth/login", json={"username": "admin", "password": "demo"})
        assert r.status_code == 200, r.text
        yield client
