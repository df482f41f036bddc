"""The real hub on a loopback port: in-process (a uvicorn task on the test's loop, or on its own loop
in a thread for the synchronous browser tests) or as a subprocess (for kill tests), and a small
HTTP client that logs in like the UI does."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from bootstrap import build_app, load_settings
from hub.clock import Clock
from tests.support.databases import fresh_seeded, fresh_sqlite
from tests.support.postgres import free_port

REPO = Path(__file__).resolve().parents[2]
# scrypt cost of the hubs under test: every login hashes once, and OWASP's 2^17 (the default,
# tests/api/test_first_start.py checks it) costs about a second on a busy machine
TEST_SCRYPT_N = 2**10
# IVR prompts rendered by the hubs under test (keyed by text, TTS engine and voice, written
# atomically): shared by every hub and kept between runs, so each text is synthesised once
TTS_CACHE = REPO / "test-artifacts" / "tts-cache"


#: every client of a test hub is 127.0.0.1 (hundreds of chats and logins a minute): the rate limits
#: are off unless a test sets them (tests/api/test_rate_limits.py tests them on their defaults)
NO_RATE_LIMITS = {"rate_login_per_min": 0, "rate_widget_sessions_per_min": 0,
                  "rate_widget_offline_per_min": 0, "rate_widget_messages_per_min": 0}


class _Server(uvicorn.Server):
    """uvicorn's server that stops as soon as it is told (:meth:`exit`), not at its next 0.1 s
    tick: the suite starts and stops hundreds of hubs."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._exit = asyncio.Event()

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000  # on_tick refreshes the Date header every 10th tick
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1):
                    await self._exit.wait()

    def exit(self) -> None:
        """Stop serving (callable from any thread)."""
        self.should_exit = True
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: it stopped already
                self._loop.call_soon_threadsafe(self._exit.set)


class ApiClient:
    """An httpx client bound to the hub; ``login`` keeps the session cookie like a browser, and
    like a browser on the hub's own pages it says where its requests come from (``Origin``: the
    hub's cross-site checks, hub/api/csrf.py)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.AsyncClient(base_url=base_url, timeout=10, headers={"Origin": base_url})
        self.user: dict[str, Any] | None = None

    async def login(self, username: str, password: str = "demo") -> ApiClient:
        r = await self.http.post("/api/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        self.user = r.json()["user"]
        return self

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.get(path, **kw)

    async def post(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return await self.http.post(path, json=json, **kw)

    async def patch(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return await self.http.patch(path, json=json, **kw)

    async def delete(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.delete(path, **kw)

    async def ok(self, method: str, path: str, json: Any = None, status: int = 200) -> Any:
        r = await self.http.request(method, path, json=json)
        assert r.status_code == status, f"{method} {path} -> {r.status_code} {r.text}"
        return r.json() if r.content else None

    async def close(self) -> None:
        await self.http.aclose()


class InProcessHub:
    def __init__(self, data_dir: Path, database_url: str = "", **settings: Any) -> None:
        self.port = free_port()
        # Inbound email is off unless a test asks for a port: hubs under test must not fight over 2525.
        # The widget bot is off unless a test turns it on (tests/assist): chats go straight to the ACD.
        # Demo data is on unless a test turns it off, the English demo unless a test asks for
        # demo_locale="zh-CN" (the default of make run); passwords are hashed cheaply
        # (TEST_SCRYPT_N); every JSON answer is checked against its operation's declared response model.
        # Voice (SIP, RTP, the demo flow's prompts rendered at start) is off unless a test turns it
        # on, although the demo turns it on for make run.
        settings = {"email_port": 0, "assist_bot": "off", "demo": True, "demo_locale": "en",
                    "voice_enabled": False, "ivr_tts_cache_dir": str(TTS_CACHE),
                    "api_check_responses": True,
                    "password_scrypt_n": TEST_SCRYPT_N, **NO_RATE_LIMITS, **settings}
        # the demo's data is seeded once per test process for each set of settings, into a data
        # folder that every later hub with the same settings starts from (tests/support/databases.py)
        self._seed_key: str | None = (repr(sorted(settings.items())) if not database_url and settings["demo"]
                                      else None)
        self._overrides = settings
        self.settings = load_settings(environ={}, data_dir=str(data_dir), port=self.port,
                                      database_url=database_url, web_dir=str(REPO / "web" / "dist"),
                                      wallboard_interval_s=0.1, **settings)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.app = build_app(self.settings)
        self._own_app = self.app  # a test that sets its own (on its clock) seeds the demo itself
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._clients: list[ApiClient] = []

    @property
    def services(self) -> Any:
        return self.app.other_asgi_app.state.services

    async def start(self) -> InProcessHub:
        if self._seed_key is not None and self.app is self._own_app:  # (not on a test's own clock)
            await fresh_seeded(Path(self.settings.data_dir), self._seed_key, self._seed)
        elif not self.settings.database_url:
            fresh_sqlite(self.settings.data_dir)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", ws_per_message_deflate=self.settings.ws_per_message_deflate)
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(), name="hub-under-test")
        async with asyncio.timeout(30):
            while not self._server.started:
                if self._task.done():
                    self._task.result()
                    raise RuntimeError("the hub stopped during start-up")
                await asyncio.sleep(0.02)
        return self

    async def _seed(self, folder: Path) -> None:
        """Start and stop a hub with this one's settings on ``folder``: the demo seeded there."""
        seeder = InProcessHub(folder, **self._overrides)
        seeder._seed_key = None
        await seeder.start()
        await seeder.stop()

    async def client(self, username: str | None = None) -> ApiClient:
        c = ApiClient(self.base_url)
        self._clients.append(c)
        if username:
            await c.login(username)
        return c

    async def stop(self) -> None:
        for c in self._clients:
            await c.close()
        if self._server is not None and self._task is not None:
            self._server.exit()
            try:
                async with asyncio.timeout(15):
                    await self._task
            except TimeoutError:  # a stop step hangs: cancel it (the database is closed regardless)
                self._task.cancel()
                with contextlib.suppress(BaseException):
                    async with asyncio.timeout(5):
                        await self._task
                logging.getLogger(__name__).warning("the hub under test did not stop within 15 s: cancelled")
            except Exception:  # noqa: BLE001 - the test's own outcome matters more than the stop's
                pass


async def clocked_hub(data_dir: Path, clock: Clock, database_url: str = "", **settings: Any) -> InProcessHub:
    """A started in-process hub on ``clock`` (a ``ManualClock``) whose timers fire only when the
    test calls ``services.scheduler.run_due()``: for retention and deadline tests. Sessions last a
    year (the test moves the clock by months); kb, SMS and email are off unless asked for."""
    h = InProcessHub(data_dir, database_url, **{"session_ttl_s": 365 * 86400, "kb_enabled": False,
                                                "sms_enabled": False, "email_enabled": False, **settings})
    h.app = build_app(h.settings, clock)
    await h.start()
    await h.services.scheduler.stop()  # timers fire when the test calls run_due()
    return h


@contextlib.asynccontextmanager
async def running_hub(data_dir: Path, database_url: str = "", **settings: Any) -> AsyncIterator[InProcessHub]:
    hub = InProcessHub(data_dir, database_url, **settings)
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()


class _HubOnPort:
    """What a started hub process or thread shares: its port, data folder, log file and the
    ``HUB_*`` environment it is configured from (``server.py``'s way: ``load_settings``)."""

    def __init__(self, data_dir: Path, database_url: str = "", port: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.data_dir = data_dir
        self.database_url = database_url
        scheme = "https" if (env or {}).get("HUB_TLS_CERTFILE") else "http"  # the hub ends TLS itself
        self.base_url = f"{scheme}://127.0.0.1:{self.port}"
        self.log = data_dir / f"server-{self.port}.log"
        # inbound email off unless the caller's environment names a port (see the email tests)
        self.env = {**({} if "HUB_EMAIL_PORT" in os.environ else {"HUB_EMAIL_PORT": "0"}),
                    "HUB_ASSIST_BOT": "off",  # the widget bot: off unless asked
                    "HUB_DEMO_LOCALE": "en",  # the English demo unless asked (make run: zh-CN)
                    "HUB_VOICE_ENABLED": "0",  # voice off unless asked (the demo turns it on)
                    "HUB_IVR_TTS_CACHE_DIR": str(TTS_CACHE),
                    "HUB_API_CHECK_RESPONSES": "1",  # answers checked against their response models
                    **(env or {})}

    def _environ(self) -> dict[str, str]:
        env = {**os.environ, "HUB_DATA_DIR": str(self.data_dir), "HUB_PORT": str(self.port),
               "HUB_DEMO": "1", "HUB_DATABASE_URL": self.database_url, "HUB_LOG_LEVEL": "warning",
               "HUB_PASSWORD_SCRYPT_N": str(TEST_SCRYPT_N),
               "HUB_WEB_DIR": str(REPO / "web" / "dist"),
               **{f"HUB_{k.upper()}": "0" for k in NO_RATE_LIMITS}, **self.env}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not env["HUB_DATABASE_URL"]:
            fresh_sqlite(self.data_dir)
        return env


class ThreadedHub(_HubOnPort):
    """The hub configured exactly like ``python server.py`` (demo data, ``HUB_*`` settings from the
    environment plus ``env``), served by uvicorn on its own event loop in a thread of the test
    process: for the synchronous browser tests, which would otherwise start a Python process
    (imports, models) per test. Its warnings and errors go to ``log`` like a process's output.
    Tests that SIGKILL the hub use :class:`HubProcess`."""

    def __init__(self, data_dir: Path, database_url: str = "", port: int | None = None,
                 env: dict[str, str] | None = None) -> None:
        super().__init__(data_dir, database_url, port, env)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None
        self._handler: logging.Handler | None = None

    def start(self, timeout: float = 90) -> ThreadedHub:
        settings = load_settings(environ=self._environ())
        self._handler = logging.FileHandler(self.log)
        self._handler.setLevel(logging.WARNING)
        self._handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(self._handler)
        config = uvicorn.Config(build_app(settings), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="on",
                                ws_per_message_deflate=settings.ws_per_message_deflate)
        self._server = _Server(config)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=f"hub-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                self._close_log()
                raise RuntimeError(f"the hub stopped during start-up: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the hub did not start in {timeout} s")
            time.sleep(0.02)
        return self

    def _serve(self) -> None:
        assert self._loop is not None and self._server is not None
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._server.serve())
        except BaseException as err:  # noqa: BLE001 - reported by start() or stop()
            self._error = err
        finally:
            # what is left (a socket's ping task, say) ends with the loop, as at a process's exit
            left = asyncio.all_tasks(self._loop)
            for task in left:
                task.cancel()
            with contextlib.suppress(BaseException):
                self._loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
                self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def stop(self) -> None:
        if self._server is None or self._thread is None or self._loop is None:
            return
        self._server.exit()
        self._thread.join(15)
        if self._thread.is_alive():  # a stop step hangs: cancel what runs (the database is closed)
            loop = self._loop
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(lambda: [t.cancel() for t in asyncio.all_tasks(loop)])
            self._thread.join(5)
            logging.getLogger(__name__).warning("the hub under test did not stop within 15 s: cancelled")
        self._close_log()

    def _close_log(self) -> None:
        if self._handler is not None:
            logging.getLogger().removeHandler(self._handler)
            self._handler.close()
            self._handler = None


class HubProcess(_HubOnPort):
    """``python server.py`` as a child process, so a test can SIGKILL it. ``verify``: how its
    HTTPS certificate is checked when it serves TLS itself (``HUB_TLS_CERTFILE`` in ``env``)."""

    def __init__(self, data_dir: Path, database_url: str = "", port: int | None = None,
                 env: dict[str, str] | None = None, verify: ssl.SSLContext | bool = True) -> None:
        super().__init__(data_dir, database_url, port, env)
        self.proc: subprocess.Popen[bytes] | None = None
        self.verify = verify

    def start(self, timeout: float = 90) -> HubProcess:  # a bound, not a target: busy CI machines
        env = self._environ()
        self._logfh = open(self.log, "ab")  # noqa: SIM115 - closed in kill()/stop()
        self.proc = subprocess.Popen([sys.executable, str(REPO / "server.py")], cwd=REPO, env=env,
                                     stdout=self._logfh, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/api/health", timeout=1, verify=self.verify).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server did not become healthy: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._logfh.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._logfh.close()
