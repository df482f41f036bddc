"""Security headers (issue #16, item 9): what a browser is told about the hub's pages — scripts only
from the hub's files, no framing of the staff UI, the widget framable by the configured sites only,
no MIME sniffing, no referrer to other sites, HSTS when the hub is served over HTTPS. The browser
side (the UI works under the policy; framing is refused) is tests/browser/test_security_headers.py."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import httpx

from tests.support.hub import REPO, InProcessHub, running_hub


def directives(policy: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


async def get(hub: InProcessHub, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=10) as http:
        return await http.get(path)


async def test_staff_pages_run_only_the_hubs_scripts_and_cannot_be_framed(hub: InProcessHub) -> None:
    for path in ("/", "/desk", "/login", "/demo.html"):
        r = await get(hub, path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        csp = directives(r.headers["content-security-policy"])
        assert csp["script-src"] == ["'self'"], path  # no inline script, no eval, no other site
        assert csp["default-src"] == ["'self'"] and csp["object-src"] == ["'none'"]
        assert csp["base-uri"] == ["'self'"] and csp["form-action"] == ["'self'"]
        assert csp["frame-ancestors"] == ["'none'"], path
        host = f"127.0.0.1:{hub.port}"
        assert csp["connect-src"] == ["'self'", f"ws://{host}", f"wss://{host}"]  # API + Socket.IO
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        assert "strict-transport-security" not in r.headers  # plain HTTP by default


async def test_every_answer_says_nosniff_and_keeps_the_referrer_at_home(hub: InProcessHub) -> None:
    for path in ("/api/health", "/api/me", "/api/nothing-here", "/widget.js"):
        r = await get(hub, path)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["referrer-policy"] == "same-origin", path
        assert "content-security-policy" not in r.headers or path.endswith(".html")
    # a refused cross-site request (the CSRF guard answers itself) carries them too
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=10) as http:
        r = await http.post("/api/auth/logout", headers={"Cookie": "hub_session=x",
                                                         "Origin": "https://evil.example"})
    assert r.status_code == 403 and r.headers["x-content-type-options"] == "nosniff"


async def test_a_hostile_host_header_cannot_add_directives(hub: InProcessHub) -> None:
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=10) as http:
        r = await http.get("/", headers={"Host": "evil.example; script-src *"})
    csp = directives(r.headers["content-security-policy"])
    assert csp["connect-src"] == ["'self'"] and csp["script-src"] == ["'self'"]


async def test_the_widget_panel_is_framable_only_by_the_configured_sites(tmp_path: Path) -> None:
    sites = "https://shop.example, https://www.gas.example:8443"
    async with running_hub(tmp_path / "data", widget_origins=sites) as hub:
        r = await get(hub, "/widget.html")
        csp = directives(r.headers["content-security-policy"])
        assert csp["frame-ancestors"] == ["'self'", "https://shop.example", "https://www.gas.example:8443"]
        assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
        assert "x-frame-options" not in r.headers  # it cannot express a list; CSP does
        # the staff UI still cannot be framed by those sites
        assert directives((await get(hub, "/desk")).headers["content-security-policy"])["frame-ancestors"] == ["'none'"]
    async with running_hub(tmp_path / "data2") as hub:  # widget_origins empty: any site embeds it
        r = await get(hub, "/widget.html")
        assert directives(r.headers["content-security-policy"])["frame-ancestors"] == ["*"]


async def test_hsts_when_the_session_cookie_is_https_only(tmp_path: Path) -> None:
    async with running_hub(tmp_path / "data", secret_cookie_secure=True) as hub:
        for path in ("/", "/api/health"):
            r = await get(hub, path)
            assert r.headers["strict-transport-security"] == "max-age=31536000", path


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        self.handlers += [f"{tag} {k}" for k in names if k.startswith("on")]
        self._in_script = tag == "script" and "src" not in names

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data.strip()[:80])

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def test_the_built_pages_have_no_inline_script() -> None:
    """The policy forbids inline script: the built pages (and the widget loader) must not need any."""
    dist = REPO / "web" / "dist"
    pages = sorted(dist.glob("*.html"))
    assert {p.name for p in pages} >= {"index.html", "widget.html", "demo.html"}
    for page in pages:
        parser = _Scripts()
        parser.feed(page.read_text(encoding="utf-8"))
        assert parser.inline == [] and parser.handlers == [], page.name
    for js in [dist / "widget.js", *dist.glob("assets/*.js")]:
        text = js.read_text(encoding="utf-8")
        assert not re.search(r"\bnew Function\(|\beval\(", text), js.name  # no unsafe-eval needed
