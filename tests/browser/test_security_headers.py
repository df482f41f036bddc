"""The Content Security Policy in a real browser (issue #16, item 9): the desk, the staff pages and
the embedded chat widget work under it without a single violation, and the widget's chat panel
can be framed by a site listed in ``widget_origins`` but not by any other site; the staff UI by none.

Two small web sites on their own loopback ports stand for the company's shop (configured) and an
attacker's page (not configured); each embeds the widget with the one-tag loader and frames the
desk."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.browser.conftest import csp_violation
from tests.browser.hubs import running
from tests.browser.steps import (
    accept_offer,
    bodies,
    customer_writes,
    go_ready,
    log_in,
    open_desk,
    open_widget,
    reply,
    start_chat,
    widget_messages,
)
from tests.support.hub import ThreadedHub

pytestmark = pytest.mark.browser


class Site:
    """A web site on a loopback port serving one page (set ``page`` before a browser asks)."""

    def __init__(self) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                body = site.page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.page = ""
        self._thread = threading.Thread(target=self.server.serve_forever, name=f"site-{self.origin}",
                                        daemon=True)

    def embed(self, hub_url: str) -> None:
        """The company's page: the widget's one tag, and (what no site should manage) the desk in a frame."""
        self.page = (f'<!doctype html><html><head><title>Shop</title></head><body><h1>Shop</h1>'
                     f'<iframe id="desk-frame" src="{hub_url}/login" width="600" height="300"></iframe>'
                     f'<script src="{hub_url}/widget.js" async></script></body></html>')

    def __enter__(self) -> Site:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


@pytest.fixture
def shop() -> Iterator[Site]:
    with Site() as s:
        yield s


@pytest.fixture
def evil() -> Iterator[Site]:
    with Site() as s:
        yield s


@pytest.fixture
def hub(tmp_path: Path, request: pytest.FixtureRequest, shop: Site, evil: Site) -> Iterator[ThreadedHub]:
    """The hub with the shop as the one site that embeds the widget."""
    h = ThreadedHub(tmp_path / "data", env={"HUB_WIDGET_ORIGINS": shop.origin})
    shop.embed(h.base_url)
    evil.embed(h.base_url)
    with running(h, request) as started:
        yield started


def watch_csp(page: Page) -> list[str]:
    """What the hub's policy blocks on ``page`` from now on (conftest.csp_violation)."""
    seen: list[str] = []
    page.on("console", lambda msg: seen.extend([msg.text] if csp_violation(msg.text) else []))
    return seen


def refused_frame(page: Page, directive: str, action: Callable[[], object]) -> None:
    """Do ``action`` and wait for Chromium's message that a hub page's ``directive`` (its
    frame-ancestors) blocked showing it in a frame."""
    def is_refusal(msg: ConsoleMessage) -> bool:
        return f'Content Security Policy directive: "{directive}"' in msg.text and "blocked" in msg.text

    with page.expect_console_message(is_refusal):
        action()


def test_desk_and_widget_work_under_the_policy_without_a_violation(
        hub: ThreadedHub, customer: Page, agent1: Page, person: Callable[[str], Page]) -> None:
    admin = person("admin")
    seen = {name: watch_csp(page) for name, page in
            (("customer", customer), ("agent1", agent1), ("admin", admin))}
    # a whole chat: the desk's and the widget's sockets, lazy-loaded pages and their styles
    open_desk(agent1, "agent1")
    go_ready(agent1)
    widget = open_widget(customer)
    start_chat(widget, "Zhang Wei", "zhang.wei@example.com", "Is my repair visit still on for Friday?")
    accept_offer(agent1, "Zhang Wei")
    reply(agent1, "Yes, between 9 and 12.")
    expect(bodies(widget_messages(widget, "agent"))).to_have_text(["Yes, between 9 and 12."])
    customer_writes(widget, "Thank you!")
    # the other pages, each a lazily loaded chunk with its own stylesheet (loaded before the
    # router names the page)
    log_in(admin, "admin")
    for path, title in (("/wallboard", "Wallboard"), ("/contacts", "Contacts"), ("/kb", "Knowledge base"),
                        ("/tickets", "Tickets"), ("/workorders", "Work orders"), ("/recordings", "Recordings"),
                        ("/admin/users", "Users"), ("/admin/ivr", "IVR flows")):
        admin.goto(path)
        expect(admin).to_have_title(f"{title} · Contact Hub")
    # the policy was there all along
    response = customer.request.get(f"{hub.base_url}/desk")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert seen == {"customer": [], "agent1": [], "admin": []}


def test_only_a_configured_site_can_frame_the_widget_and_none_the_desk(
        hub: ThreadedHub, shop: Site, evil: Site, person: Callable[[str], Page]) -> None:
    # the shop (in widget_origins): the chat panel opens in its page and works
    customer = person("customer")
    seen = watch_csp(customer)
    refused_frame(customer, "frame-ancestors 'none'", lambda: customer.goto(shop.origin))  # the desk
    customer.get_by_test_id("widget-launcher").click()
    panel = customer.frame_locator("#hub-widget-frame")
    expect(panel.get_by_test_id("offline-form")).to_be_visible()  # nobody is ready: leave a message
    assert seen == []

    # another site: the browser refuses to show the chat panel in its page
    visitor = person("visitor")
    visitor.goto(evil.origin)
    refused_frame(visitor, f"frame-ancestors 'self' {shop.origin}",
                  lambda: visitor.get_by_test_id("widget-launcher").click())
    frame = visitor.locator("#hub-widget-frame").element_handle().content_frame()
    assert frame is not None and not frame.url.startswith(hub.base_url)
    assert frame.locator("[data-testid=offline-form]").count() == 0
    assert visitor.frame_locator("#desk-frame").get_by_test_id("login-username").count() == 0
