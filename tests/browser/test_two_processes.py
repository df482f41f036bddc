"""#14 acceptance 3 in a real browser: two hub processes on PostgreSQL + Redis behind
deploy/haproxy.cfg. The customer's browser is pinned to process A (the ACD leader), the agents'
and the supervisor's to process B: chat both ways, a transfer, the wallboard live; then A is
SIGKILLed mid-conversation: the widget reconnects by itself (to B), the chat goes on, and a new
chat is offered within 5 s."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import TIMEOUT_MS, VIEWPORT
from tests.browser.steps import (
    accept_offer,
    bodies,
    customer_writes,
    desk_messages,
    go_ready,
    log_in,
    offer_for,
    open_desk,
    open_widget,
    reply,
    start_chat,
    widget_messages,
)
from tests.multiprocess.conftest import hub_env
from tests.support.hub import HubProcess
from tests.support.postgres import PostgresServer
from tests.support.proxy import Proxy
from tests.support.redis import RedisServer

pytestmark = pytest.mark.browser


@pytest.fixture
def centre(tmp_path: Path, postgres: PostgresServer,
           redis_server: RedisServer) -> Iterator[tuple[HubProcess, HubProcess, Proxy]]:
    redis_server.flush()
    url = postgres.new_database()
    a = HubProcess(tmp_path / "a", url, env=hub_env(redis_server))
    b = HubProcess(tmp_path / "b", url, env=hub_env(redis_server))
    proxy: Proxy | None = None
    try:
        a.start()
        b.start()
        proxy = Proxy(a, b, log=tmp_path / "haproxy.log").start()
        yield a, b, proxy
    finally:
        if proxy is not None:
            proxy.stop()
        for h in (a, b):
            if h.proc is not None:
                h.kill()


@pytest.fixture
def person(browser: Browser,
           centre: tuple[HubProcess, HubProcess, Proxy]) -> Iterator[Callable[[str, str], Page]]:
    """``person("agent1", "hub2")``: a browser context of its own, pinned to a process."""
    proxy = centre[2]
    pages: list[Page] = []

    def make(name: str, server: str) -> Page:
        ctx = browser.new_context(base_url=proxy.base_url, viewport=VIEWPORT)
        ctx.add_cookies([{"name": "HUBSRV", "value": server, "url": proxy.base_url}])
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.set_default_navigation_timeout(TIMEOUT_MS)
        page = ctx.new_page()
        pages.append(page)
        return page

    try:
        yield make
    finally:
        for page in pages:
            page.context.close()


def open_chat_over_rest(base_url: str, name: str) -> str:
    with httpx.Client(base_url=base_url, timeout=10) as c:
        r = c.post("/api/widget/sessions", json={"name": name, "message": f"hello from {name}"})
        assert r.status_code == 201, r.text
        return str(r.json()["conversation_id"])


def test_widget_on_a_desk_on_b_and_the_leader_killed(
        centre: tuple[HubProcess, HubProcess, Proxy], person: Callable[[str, str], Page]) -> None:
    a, b, proxy = centre
    assert httpx.get(f"{a.base_url}/api/health").json()["cluster"]["leader"] is True
    customer = person("customer", "hub1")
    agent1 = person("agent1", "hub2")
    agent2 = person("agent2", "hub2")
    supervisor = person("supervisor", "hub2")

    open_desk(agent1, "agent1")
    go_ready(agent1)  # B forwards it to the ACD on A
    open_desk(agent2, "agent2")
    log_in(supervisor, "supervisor")
    supervisor.get_by_test_id("nav-wallboard").click()
    expect(supervisor).to_have_url("/wallboard")
    general = supervisor.get_by_test_id("wallboard-queue").filter(has_text="General enquiries")
    alice = supervisor.get_by_test_id("wallboard-agent").filter(has_text="Alice Chen")
    expect(alice).to_have_attribute("data-state", "ready")

    # The customer's widget talks to A; Alice on B is offered the chat and accepts it.
    widget = open_widget(customer)
    start_chat(widget, "Zhang Wei", "zhang.wei@example.com", "My gas meter shows an error")
    accept_offer(agent1, "Zhang Wei")
    expect(widget.get_by_test_id("widget-status")).to_have_text("You are chatting with Alice Chen")
    reply(agent1, "Hello Mr Zhang, what does the display say?")
    expect(bodies(widget_messages(widget, "agent"))).to_have_text(
        ["Hello Mr Zhang, what does the display say?"])
    customer_writes(widget, "It says E3")
    expect(desk_messages(agent1, "customer").filter(has_text="It says E3")).to_be_visible()
    expect(general.get_by_test_id("queue-answered")).to_have_text("1")
    expect(alice.get_by_test_id("agent-tile-load")).to_have_text("chat 1")

    # Transfer to Billing: Bob gets it.
    go_ready(agent2)
    agent1.get_by_test_id("transfer-open").click()
    agent1.get_by_test_id("transfer-queue").select_option(label="Billing")
    agent1.get_by_test_id("transfer-confirm").click()
    expect(agent1.get_by_test_id("transfer-dialog")).to_have_count(0)
    accept_offer(agent2, "Zhang Wei")
    expect(agent2.get_by_test_id("conversation-queue")).to_have_text("Billing")
    expect(widget.get_by_test_id("widget-status")).to_have_text("You are chatting with Bob Li")

    # SIGKILL the leader (A, where the customer's browser is): B takes over the ACD; the
    # widget reconnects by itself through the proxy (to B) and the chat goes on.
    t_kill = time.monotonic()
    a.kill()
    name = "Li Na"
    deadline = time.monotonic() + 10
    while True:  # the proxy answers for B as soon as it has noticed A is gone
        try:
            cid = open_chat_over_rest(proxy.base_url, name)
            break
        except (httpx.HTTPError, AssertionError):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    card = offer_for(agent1, name)  # Alice is free again: the new chat is hers
    offered_s = time.monotonic() - t_kill
    print(f"\nleader killed: a new chat offered to a desk after {offered_s:.2f} s")
    assert offered_s < 5.0
    expect(card).to_be_visible()
    assert cid
    # the widget noticed its socket dropped and reconnected by itself (through the proxy, to B)
    reconnecting = widget.get_by_test_id("widget-reconnecting")
    with contextlib.suppress(AssertionError):  # it may already be back
        expect(reconnecting).to_be_visible(timeout=3_000)
    expect(reconnecting).to_have_count(0)
    customer_writes(widget, "Are you still there?")
    expect(desk_messages(agent2, "customer").filter(has_text="Are you still there?")).to_be_visible()
    reply(agent2, "Yes, still here")
    expect(widget_messages(widget, "agent").filter(has_text="Yes, still here")).to_be_visible()
    expect(supervisor.get_by_test_id("wallboard-agent").filter(has_text="Bob Li")
           .get_by_test_id("agent-tile-load")).to_have_text(re.compile(r"chat 1"))
