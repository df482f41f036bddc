"""HTTP digest authentication for SIP (RFC 2617, RFC 7616, RFC 8760), qop=auth.

- :func:`parse_auth_header` reads ``Digest k=v, k="quoted, with commas"`` headers;
  :class:`DigestChallenge` (WWW-Authenticate / Proxy-Authenticate) and
  :class:`DigestCredentials` (Authorization / Proxy-Authorization) are typed views with
  ``parse``/``str``.
- :func:`compute_response` is the client side (MD5 and SHA-256).
- :class:`NonceFactory` makes stateless nonces: a timestamp and an HMAC of it under a server
  secret, so a nonce expires and cannot be forged; :class:`DigestAuthenticator` issues
  challenges and verifies credentials on a clock you pass in, with nonce-count replay checks.

Passwords never need to be stored in clear: :func:`compute_ha1` gives the value to keep.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from voice.sip.errors import DigestError

__all__ = [
    "AuthResult",
    "DigestAuthenticator",
    "DigestChallenge",
    "DigestCredentials",
    "NonceFactory",
    "compute_ha1",
    "compute_response",
    "parse_auth_header",
]

_HASHES: dict[str, Callable[[bytes], hashlib._Hash]] = {
    "MD5": hashlib.md5,
    "SHA-256": hashlib.sha256,
}


def _algorithm(name: str | None) -> str:
    algo = (name or "MD5").upper()
    if algo not in _HASHES:
        raise DigestError(f"unsupported digest algorithm {name!r}", algorithm=name)
    return algo


def _h(algorithm: str, data: str) -> str:
    return _HASHES[_algorithm(algorithm)](data.encode("utf-8")).hexdigest()


def compute_ha1(algorithm: str, username: str, realm: str, password: str) -> str:
    """``H(username:realm:password)``."""
    return _h(algorithm, f"{username}:{realm}:{password}")


def compute_response(
    *,
    algorithm: str = "MD5",
    method: str,
    uri: str,
    nonce: str,
    username: str | None = None,
    realm: str | None = None,
    password: str | None = None,
    ha1: str | None = None,
    qop: str | None = "auth",
    nc: str = "00000001",
    cnonce: str | None = None,
) -> str:
    """The ``response`` value. Give either ``ha1`` or ``username``/``realm``/``password``.
    With ``qop=None`` the RFC 2069 form ``H(HA1:nonce:HA2)`` is used."""
    if ha1 is None:
        if username is None or realm is None or password is None:
            raise ValueError("compute_response needs ha1 or username, realm and password")
        ha1 = compute_ha1(algorithm, username, realm, password)
    ha2 = _h(algorithm, f"{method}:{uri}")
    if qop is None:
        return _h(algorithm, f"{ha1}:{nonce}:{ha2}")
    if qop != "auth":
        raise DigestError(f"unsupported qop {qop!r}", qop=qop)
    if not cnonce:
        raise ValueError("qop=auth needs a cnonce")
    return _h(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


# -- header syntax -----------------------------------------------------------------------------


def parse_auth_header(value: str) -> tuple[str, dict[str, str]]:
    """Split ``Scheme k=v, k2="v, 2"`` into the scheme and a dict with lower-case keys.

    Quoted values are unescaped (``\\"`` → ``"``). Raises :class:`DigestError` on bad syntax.
    """
    text = value.strip()
    scheme, _, rest = text.partition(" ")
    if not scheme or "=" in scheme:
        raise DigestError(f"authentication header has no scheme: {value[:60]!r}")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " \t,":
            i += 1
        if i >= n:
            break
        eq = rest.find("=", i)
        if eq < 0:
            raise DigestError(f"authentication parameter without '=': {rest[i : i + 40]!r}")
        name = rest[i:eq].strip().lower()
        if not name or any(c in name for c in ' \t,"'):
            raise DigestError(f"bad authentication parameter name {name!r}")
        i = eq + 1
        while i < n and rest[i] in " \t":
            i += 1
        if i < n and rest[i] == '"':
            i += 1
            buf: list[str] = []
            while True:
                if i >= n:
                    raise DigestError(f"unterminated quoted value for {name}")
                ch = rest[i]
                if ch == "\\" and i + 1 < n:
                    buf.append(rest[i + 1])
                    i += 2
                    continue
                if ch == '"':
                    i += 1
                    break
                buf.append(ch)
                i += 1
            val = "".join(buf)
            while i < n and rest[i] in " \t":
                i += 1
            if i < n and rest[i] != ",":
                raise DigestError(f"junk after quoted value of {name}")
        else:
            end = rest.find(",", i)
            end = n if end < 0 else end
            val = rest[i:end].strip()
            i = end
        if name in params:
            raise DigestError(f"authentication parameter {name} appears twice")
        params[name] = val
    return scheme, params


def _q(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class DigestChallenge:
    """A ``WWW-Authenticate: Digest ...`` challenge."""

    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: str | None = "auth"
    opaque: str | None = None
    stale: bool = False

    @classmethod
    def parse(cls, value: str) -> DigestChallenge:
        scheme, p = parse_auth_header(value)
        if scheme.lower() != "digest":
            raise DigestError(f"not a Digest challenge: {scheme}")
        if "realm" not in p or "nonce" not in p:
            raise DigestError("Digest challenge needs realm and nonce")
        return cls(
            realm=p["realm"],
            nonce=p["nonce"],
            algorithm=_algorithm(p.get("algorithm")),
            qop=p.get("qop"),
            opaque=p.get("opaque"),
            stale=p.get("stale", "").lower() == "true",
        )

    def __str__(self) -> str:
        parts = [f"realm={_q(self.realm)}", f"nonce={_q(self.nonce)}"]
        if self.opaque is not None:
            parts.append(f"opaque={_q(self.opaque)}")
        parts.append(f"algorithm={self.algorithm}")
        if self.qop:
            parts.append(f"qop={_q(self.qop)}")
        if self.stale:
            parts.append("stale=TRUE")
        return "Digest " + ", ".join(parts)

    def respond(
        self,
        *,
        method: str,
        uri: str,
        username: str,
        password: str,
        cnonce: str | None = None,
        nc: int = 1,
    ) -> DigestCredentials:
        """Client side: credentials answering this challenge."""
        qop = None
        if self.qop:
            offered = [q.strip() for q in self.qop.split(",")]
            if "auth" not in offered:
                raise DigestError(f"challenge offers no supported qop: {self.qop}")
            qop = "auth"
        cnonce = cnonce or secrets.token_hex(8)
        ncs = f"{nc:08x}"
        response = compute_response(
            algorithm=self.algorithm,
            method=method,
            uri=uri,
            nonce=self.nonce,
            username=username,
            realm=self.realm,
            password=password,
            qop=qop,
            nc=ncs,
            cnonce=cnonce,
        )
        return DigestCredentials(
            username=username,
            realm=self.realm,
            nonce=self.nonce,
            uri=uri,
            response=response,
            algorithm=self.algorithm,
            qop=qop,
            nc=ncs if qop else None,
            cnonce=cnonce if qop else None,
            opaque=self.opaque,
        )


@dataclass(frozen=True, slots=True)
class DigestCredentials:
    """An ``Authorization: Digest ...`` value."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"
    qop: str | None = None
    nc: str | None = None
    cnonce: str | None = None
    opaque: str | None = None

    @classmethod
    def parse(cls, value: str) -> DigestCredentials:
        scheme, p = parse_auth_header(value)
        if scheme.lower() != "digest":
            raise DigestError(f"not Digest credentials: {scheme}")
        missing = [k for k in ("username", "realm", "nonce", "uri", "response") if k not in p]
        if missing:
            raise DigestError(f"Digest credentials miss {', '.join(missing)}", missing=missing)
        qop = p.get("qop")
        if qop is not None and ("nc" not in p or "cnonce" not in p):
            raise DigestError("Digest credentials with qop need nc and cnonce")
        return cls(
            username=p["username"],
            realm=p["realm"],
            nonce=p["nonce"],
            uri=p["uri"],
            response=p["response"].lower(),
            algorithm=_algorithm(p.get("algorithm")),
            qop=qop,
            nc=p.get("nc"),
            cnonce=p.get("cnonce"),
            opaque=p.get("opaque"),
        )

    def __str__(self) -> str:
        parts = [
            f"username={_q(self.username)}",
            f"realm={_q(self.realm)}",
            f"nonce={_q(self.nonce)}",
            f"uri={_q(self.uri)}",
            f"response={_q(self.response)}",
            f"algorithm={self.algorithm}",
        ]
        if self.cnonce is not None:
            parts.append(f"cnonce={_q(self.cnonce)}")
        if self.opaque is not None:
            parts.append(f"opaque={_q(self.opaque)}")
        if self.qop is not None:
            parts.append(f"qop={self.qop}")
        if self.nc is not None:
            parts.append(f"nc={self.nc}")
        return "Digest " + ", ".join(parts)


# -- server side -------------------------------------------------------------------------------


class NonceFactory:
    """Stateless nonces: ``base64url(timestamp(8) || random(8) || HMAC-SHA256(secret)[:16])``.

    The HMAC covers the timestamp, the random part and the realm, so a nonce cannot be forged
    or moved to another realm, and its age is known without server state.
    """

    def __init__(self, secret: bytes, *, lifetime: float = 300.0) -> None:
        if len(secret) < 16:
            raise ValueError("nonce secret must be at least 16 bytes")
        self._secret = secret
        self.lifetime = lifetime

    def _mac(self, head: bytes, realm: str) -> bytes:
        return hmac.new(self._secret, head + realm.encode(), hashlib.sha256).digest()[:16]

    def make(self, now: float, realm: str = "") -> str:
        head = struct.pack(">d", now) + secrets.token_bytes(8)
        return base64.urlsafe_b64encode(head + self._mac(head, realm)).decode().rstrip("=")

    def check(self, nonce: str, now: float, realm: str = "") -> AuthResult:
        """``OK``, ``STALE`` (genuine but expired) or ``BAD_NONCE`` (forged or garbled)."""
        try:
            raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
        except (ValueError, TypeError):
            return AuthResult.BAD_NONCE
        if len(raw) != 32:
            return AuthResult.BAD_NONCE
        head, mac = raw[:16], raw[16:]
        if not hmac.compare_digest(mac, self._mac(head, realm)):
            return AuthResult.BAD_NONCE
        (issued,) = struct.unpack(">d", head[:8])
        if not (issued - 1.0 <= now <= issued + self.lifetime):
            return AuthResult.STALE
        return AuthResult.OK


class AuthResult(StrEnum):
    OK = "ok"
    STALE = "stale"  # re-challenge with stale=TRUE (the client knew the password)
    BAD_NONCE = "bad_nonce"  # forged or for another realm: 401 with a fresh nonce
    BAD_RESPONSE = "bad_response"  # wrong password (or user): 401/403, count the failure
    REPLAY = "replay"  # nonce count not increasing
    UNKNOWN_USER = "unknown_user"
    MISMATCH = "mismatch"  # realm, algorithm or uri not what we asked for


class DigestAuthenticator:
    """Issues challenges and verifies credentials for one realm.

    ``ha1_lookup(username, algorithm)`` returns the stored HA1 or ``None``. The nonce-count
    memory is bounded (oldest nonces dropped first) and only guards against replays; expiry is
    in the nonce itself.
    """

    def __init__(
        self,
        realm: str,
        nonces: NonceFactory,
        ha1_lookup: Callable[[str, str], str | None],
        *,
        algorithms: tuple[str, ...] = ("SHA-256", "MD5"),
        max_tracked_nonces: int = 10_000,
    ) -> None:
        self.realm = realm
        self.nonces = nonces
        self.ha1_lookup = ha1_lookup
        self.algorithms = tuple(_algorithm(a) for a in algorithms)
        self._nc_seen: dict[str, int] = {}
        self._max_tracked = max_tracked_nonces

    def challenges(self, now: float, *, stale: bool = False) -> list[DigestChallenge]:
        """One challenge per algorithm, most preferred first (RFC 8760 ordering)."""
        nonce = self.nonces.make(now, self.realm)
        return [DigestChallenge(self.realm, nonce, a, "auth", stale=stale) for a in self.algorithms]

    def verify(self, credentials: DigestCredentials, method: str, now: float, *, uri: str | None = None) -> AuthResult:
        if credentials.realm != self.realm or credentials.algorithm not in self.algorithms:
            return AuthResult.MISMATCH
        if credentials.qop != "auth":
            return AuthResult.MISMATCH  # we always challenge with qop=auth: no RFC 2069 downgrade
        if uri is not None and credentials.uri != uri:
            return AuthResult.MISMATCH
        nonce_state = self.nonces.check(credentials.nonce, now, self.realm)
        if nonce_state is AuthResult.BAD_NONCE:
            return nonce_state
        ha1 = self.ha1_lookup(credentials.username, credentials.algorithm)
        if ha1 is None:
            return AuthResult.UNKNOWN_USER
        try:
            expected = compute_response(
                algorithm=credentials.algorithm,
                method=method,
                uri=credentials.uri,
                nonce=credentials.nonce,
                ha1=ha1,
                qop=credentials.qop,
                nc=credentials.nc or "",
                cnonce=credentials.cnonce,
            )
        except (DigestError, ValueError):
            return AuthResult.MISMATCH
        if not hmac.compare_digest(expected, credentials.response):
            return AuthResult.BAD_RESPONSE
        if nonce_state is AuthResult.STALE:
            return AuthResult.STALE
        if credentials.qop is not None:
            try:
                nc = int(credentials.nc or "", 16)
            except ValueError:
                return AuthResult.MISMATCH
            if nc <= self._nc_seen.get(credentials.nonce, 0):
                return AuthResult.REPLAY
            self._nc_seen[credentials.nonce] = nc
            while len(self._nc_seen) > self._max_tracked:
                del self._nc_seen[next(iter(self._nc_seen))]
        return AuthResult.OK
