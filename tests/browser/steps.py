"""What people do in the browser, one small function per step, so tests read like the story."""

from __future__ import annotations

from playwright.sync_api import FrameLocator, Locator, Page, expect


# ---------------------------------------------------------------------------------- staff
def log_in(page: Page, username: str, password: str = "demo") -> None:
    """Sign in through the login page, as a person would."""
    page.goto("/login")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("current-user")).to_be_visible()


def go_to(page: Page, testid: str) -> None:
    """Follow a link of the top bar; one in a menu (channels, settings) after opening the menu."""
    link = page.get_by_test_id(testid)
    menu = page.locator("details.topbar-menu", has=link)
    if menu.count() and not link.is_visible():
        menu.locator("summary").click()
    link.click()


def open_desk(page: Page, username: str) -> None:
    log_in(page, username)
    expect(page).to_have_url("/desk")
    expect(page.get_by_test_id("desk")).to_be_visible()
    # Live updates (offers, messages) need the desk socket; the state bar must have loaded the
    # agent's state before anyone clicks Ready (a late first answer would overwrite the badge).
    expect(page.get_by_test_id("connection-status")).to_contain_text("live")
    expect(page.get_by_test_id("agent-state")).not_to_have_text("…")


def go_ready(page: Page) -> None:
    page.get_by_test_id("state-ready").click()
    expect(page.get_by_test_id("agent-state")).to_have_text("ready")


def offer_for(page: Page, customer_name: str) -> Locator:
    card = page.get_by_test_id("offer-card").filter(has_text=customer_name)
    expect(card).to_be_visible()
    return card


def accept_offer(page: Page, customer_name: str) -> None:
    offer_for(page, customer_name).get_by_test_id("offer-accept").click()
    expect(page.get_by_test_id("conversation-contact")).to_have_text(customer_name)
    expect(page.get_by_test_id("conversation-status")).to_have_text("assigned")


def reply(page: Page, text: str) -> None:
    page.get_by_test_id("reply-input").fill(text)
    page.get_by_test_id("reply-send").click()
    expect(desk_messages(page, "agent").filter(has_text=text)).to_have_count(1)


def desk_messages(page: Page, sender: str) -> Locator:
    """The messages in the open conversation from ``sender`` (customer, agent, system)."""
    return page.get_by_test_id("message-list").locator(f'[data-testid="message"][data-sender="{sender}"]')


def bodies(messages: Locator) -> Locator:
    """Just the text of each message (without sender name and time), desk or widget."""
    return messages.locator(".msg-body, .w-msg-body")


# ---------------------------------------------------------------------------------- customer
def open_widget(page: Page, site: str = "/demo.html") -> FrameLocator:
    """The company's page with the one-tag widget; click the launcher, get the chat iframe.
    ``site="/demo-zh.html"``: the company's Chinese page (``<html lang="zh-CN">``: the widget
    speaks Chinese there)."""
    page.goto(site)
    page.get_by_test_id("widget-launcher").click()
    expect(page.locator("#hub-widget-frame")).to_be_visible()
    return page.frame_locator("#hub-widget-frame")


def start_chat(widget: FrameLocator, name: str, email: str, message: str,
               topic: str = "General enquiries") -> None:
    form = widget.get_by_test_id("prechat-form")
    expect(form).to_be_visible()
    widget.get_by_test_id("prechat-name").fill(name)
    widget.get_by_test_id("prechat-email").fill(email)
    widget.get_by_test_id("prechat-queue").select_option(label=topic)
    widget.get_by_test_id("prechat-message").fill(message)
    widget.get_by_test_id("prechat-start").click()
    expect(widget_messages(widget, "customer").filter(has_text=message)).to_be_visible()


def widget_messages(widget: FrameLocator, sender: str) -> Locator:
    return widget.locator(f'[data-testid="widget-message"][data-sender="{sender}"]')


def customer_writes(widget: FrameLocator, text: str) -> None:
    widget.get_by_test_id("widget-input").fill(text)
    widget.get_by_test_id("widget-send").click()
    # The message is shown at once and marked sent when the hub has stored it (the ack).
    expect(widget_messages(widget, "customer").filter(has_text=text)).to_have_attribute("data-state", "sent")
