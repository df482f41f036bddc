"""The registrar (RFC 3261 section 10) with digest authentication, as pure logic.

:class:`Registrar` holds the SIP accounts (digest HA1 values only) and the current bindings;
:meth:`Registrar.register` takes a REGISTER, its source and ``now`` and returns the response.
:class:`FailureLimiter` counts authentication failures per source address and user
(``max_failures``) and per source address across all users (``max_source_failures``): past either
within ``window_s`` that key is blocked for ``block_s`` and its attempts are answered ``403``
without checking the password (an online guessing attack gets nowhere). Never per user alone: an
attacker's failures must not lock the real phone, which registers from another address, out. The
answers are the same whether the user exists or not.
:meth:`Registrar.authenticate` is the same check for INVITEs from phones (``407``).
"""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field

from voice.sip.digest import AuthResult, DigestAuthenticator, DigestCredentials, NonceFactory
from voice.sip.errors import SipParseError
from voice.sip.message import NameAddr, SipRequest, SipResponse, SipUri, new_tag

__all__ = ["Account", "AuthOutcome", "Binding", "FailureLimiter", "LimitKey", "Registrar", "limit_keys"]

MIN_EXPIRES = 60
MAX_EXPIRES = 3600
DEFAULT_EXPIRES = 3600


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    user_id: str | None
    kind: str  # phone | trunk
    ha1_md5: str
    ha1_sha256: str


@dataclass
class Binding:
    username: str
    contact: NameAddr
    source: tuple[str, int]
    transport: str
    expires_at: float
    call_id: str
    cseq: int

    @property
    def uri(self) -> SipUri:
        assert self.contact.uri is not None
        return self.contact.uri

    @property
    def target(self) -> tuple[str, int]:
        """Where requests for this binding go: the Contact's address when it is the host the
        REGISTER came from (a phone, or a registration made on behalf of an endpoint on the same
        host), else the source address (the phone is behind NAT: symmetric response, RFC 3581).
        Over TCP always the connection the REGISTER came on."""
        uri = self.uri
        if self.transport == "UDP" and uri.host == self.source[0]:
            return uri.host, uri.port or 5060
        return self.source


LimitKey = tuple[str, str]  # (scope, value): ("source", ip) or ("source_user", "ip user")


def limit_keys(source_ip: str, username: str | None) -> list[LimitKey]:
    """The keys an authentication attempt counts against: its source address, and the address
    with the user it claims to be (when its credentials name one)."""
    keys: list[LimitKey] = [("source", source_ip)]
    if username is not None:
        keys.append(("source_user", f"{source_ip} {username}"))
    return keys


class FailureLimiter:
    """Failed authentications per key within a sliding ``window_s``; a key past its scope's limit
    is blocked for ``block_s``. Memory is bounded under a spray of sources (oldest keys go)."""

    MAX_KEYS = 100_000

    def __init__(self, max_failures: int = 5, window_s: float = 60.0, block_s: float = 300.0,
                 max_source_failures: int = 20) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self.block_s = block_s
        self.limits = {"source": max_source_failures, "source_user": max_failures}
        self._failures: dict[LimitKey, deque[float]] = {}
        self._blocked: dict[LimitKey, float] = {}

    def blocked(self, keys: list[LimitKey], now: float) -> bool:
        for key in keys:
            until = self._blocked.get(key)
            if until is not None:
                if until > now:
                    return True
                del self._blocked[key]
        return False

    def fail(self, keys: list[LimitKey], now: float) -> None:
        for key in keys:
            q = self._failures.setdefault(key, deque())
            q.append(now)
            while q and q[0] < now - self.window_s:
                q.popleft()
            if len(q) >= self.limits[key[0]]:
                self._blocked[key] = now + self.block_s
                q.clear()
        for table in (self._failures, self._blocked):
            if len(table) > self.MAX_KEYS:
                for k in list(table)[: len(table) // 2]:
                    del table[k]

    def succeed(self, keys: list[LimitKey]) -> None:
        """A right password: that address's failures for the user are forgiven (not the
        address's failures for other users)."""
        for key in keys:
            if key[0] == "source_user":
                self._failures.pop(key, None)


@dataclass(frozen=True)
class AuthOutcome:
    account: Account | None
    response: SipResponse | None  # the challenge or refusal to send when account is None


@dataclass
class Registrar:
    realm: str
    limiter: FailureLimiter = field(default_factory=FailureLimiter)
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    accounts: dict[str, Account] = field(default_factory=dict)
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    # MD5 only by default: common phones (libre/baresip 1.0 among them) fail the whole
    # registration when any challenge has an algorithm they do not know (RFC 8760 SHA-256),
    # instead of answering the one they do. The SHA-256 HA1 is stored for when that changes.
    algorithms: tuple[str, ...] = ("MD5",)

    def __post_init__(self) -> None:
        self.auth = DigestAuthenticator(self.realm, NonceFactory(self.secret), self._ha1,
                                        algorithms=self.algorithms)

    # -- accounts ------------------------------------------------------------------------------

    def _ha1(self, username: str, algorithm: str) -> str | None:
        acc = self.accounts.get(username)
        if acc is None:
            return None
        return acc.ha1_sha256 if algorithm == "SHA-256" else acc.ha1_md5

    def set_accounts(self, accounts: list[Account]) -> None:
        self.accounts = {a.username: a for a in accounts}
        for username in list(self.bindings):
            if username not in self.accounts:
                del self.bindings[username]

    def account_for_user(self, user_id: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.user_id == user_id and a.kind == "phone"), None)

    def binding_for_user(self, user_id: str, now: float) -> Binding | None:
        acc = self.account_for_user(user_id)
        if acc is None:
            return None
        live = [b for b in self.bindings.get(acc.username, []) if b.expires_at > now]
        return live[-1] if live else None

    def active_bindings(self, now: float) -> list[Binding]:
        return [b for bs in self.bindings.values() for b in bs if b.expires_at > now]

    # -- authentication ------------------------------------------------------------------------

    def authenticate(self, request: SipRequest, source: tuple[str, int], now: float, *,
                     proxy: bool = False, expected_user: str | None = None) -> AuthOutcome:
        """Check the request's (Proxy-)Authorization; return the account or the answer."""
        header = "Proxy-Authorization" if proxy else "Authorization"
        status = 407 if proxy else 401
        challenge_header = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
        value = request.get(header)
        creds: DigestCredentials | None = None
        if value is not None:
            try:
                creds = DigestCredentials.parse(value)
            except SipParseError:
                creds = None
        keys = limit_keys(source[0], creds.username if creds is not None else None)
        if self.limiter.blocked(keys, now):
            return AuthOutcome(None, self._refuse(request, 403, "Too many failed attempts",
                                                  retry_after=int(self.limiter.block_s)))
        if creds is None:
            if value is not None:
                self.limiter.fail(keys, now)
                return AuthOutcome(None, self._refuse(request, 400, "Bad Request (unreadable credentials)"))
            return AuthOutcome(None, self._challenge(request, status, challenge_header, now))
        result = self.auth.verify(creds, request.method, now)
        if result is AuthResult.OK:
            acc = self.accounts[creds.username]
            if expected_user is not None and acc.username != expected_user:
                self.limiter.fail(keys, now)
                return AuthOutcome(None, self._refuse(request, 403, "Forbidden (credentials are for another user)"))
            self.limiter.succeed(keys)
            return AuthOutcome(acc, None)
        if result in (AuthResult.STALE, AuthResult.BAD_NONCE, AuthResult.REPLAY):
            return AuthOutcome(None, self._challenge(request, status, challenge_header, now,
                                                     stale=result is AuthResult.STALE))
        # wrong password, unknown user, or credentials not matching our challenge
        self.limiter.fail(keys, now)
        if self.limiter.blocked(keys, now):
            return AuthOutcome(None, self._refuse(request, 403, "Too many failed attempts",
                                                  retry_after=int(self.limiter.block_s)))
        return AuthOutcome(None, self._refuse(request, 403, "Forbidden (wrong credentials)"))

    def _challenge(self, request: SipRequest, status: int, header: str, now: float, *,
                   stale: bool = False) -> SipResponse:
        chals = self.auth.challenges(now, stale=stale)
        return SipResponse.for_request(request, status, to_tag=new_tag(),
                                       headers=[(header, str(c)) for c in chals])

    def _refuse(self, request: SipRequest, status: int, reason: str, *,
                retry_after: int | None = None) -> SipResponse:
        headers = [("Retry-After", str(retry_after))] if retry_after else []
        return SipResponse.for_request(request, status, reason, to_tag=new_tag(), headers=headers)

    # -- REGISTER ------------------------------------------------------------------------------

    def register(self, request: SipRequest, source: tuple[str, int], transport: str,
                 now: float) -> SipResponse:
        try:
            aor = request.to.uri
            contacts = request.contacts
        except SipParseError as err:
            return self._refuse(request, 400, f"Bad Request ({err})")
        if aor is None or not aor.user:
            return self._refuse(request, 404, "Not Found (no user in the To URI)")
        outcome = self.authenticate(request, source, now, expected_user=aor.user)
        if outcome.account is None:
            assert outcome.response is not None
            return outcome.response
        acc = outcome.account
        header_expires = request.get("Expires")
        default = int(header_expires) if header_expires and header_expires.strip().isdigit() else DEFAULT_EXPIRES
        current = [b for b in self.bindings.get(acc.username, []) if b.expires_at > now]
        call_id, cseq = request.call_id, request.cseq.number
        if any(c.wildcard for c in contacts):
            if len(contacts) != 1 or default != 0:
                return self._refuse(request, 400, "Bad Request (Contact * needs Expires: 0)")
            current = []
        for contact in contacts:
            if contact.wildcard or contact.uri is None:
                continue
            raw = contact.params.get("expires")
            expires = int(raw) if raw is not None and raw.isdigit() else default
            same = [b for b in current if str(b.uri) == str(contact.uri)]
            if same and same[0].call_id == call_id and cseq <= same[0].cseq:
                return self._refuse(request, 500, "Server Internal Error (out-of-order REGISTER)")
            current = [b for b in current if str(b.uri) != str(contact.uri)]
            if expires == 0:
                continue
            if expires < MIN_EXPIRES:
                return SipResponse.for_request(request, 423, "Interval Too Brief", to_tag=new_tag(),
                                               headers=[("Min-Expires", str(MIN_EXPIRES))])
            expires = min(expires, MAX_EXPIRES)
            current.append(Binding(acc.username, NameAddr(contact.uri), source, transport,
                                   now + expires, call_id, cseq))
        self.bindings[acc.username] = current
        headers = [("Contact", f"<{b.uri}>;expires={int(b.expires_at - now)}") for b in current]
        headers.append(("Date", _http_date()))
        return SipResponse.for_request(request, 200, to_tag=new_tag(), headers=headers)


def _http_date() -> str:
    from email.utils import formatdate

    return formatdate(usegmt=True)
