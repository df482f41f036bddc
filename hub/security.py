"""Password hashing (scrypt, stdlib) and opaque session tokens.

Password hashes are ``scrypt$N$r$p$salt$digest`` (base64). New hashes use :data:`DEFAULT_SCRYPT`,
OWASP's current recommendation for scrypt (Password Storage Cheat Sheet: N=2^17, r=8, p=1 — about
128 MiB and a few hundred milliseconds per hash); ``password_scrypt_n`` can lower N for test suites
only. Stored hashes of any parameters keep verifying; :func:`needs_rehash` tells the login to store
a new hash when a stored one was made with other parameters."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class ScryptParams:
    n: int  # CPU/memory cost, a power of two
    r: int = 8  # block size
    p: int = 1  # parallelism

    @property
    def maxmem(self) -> int:
        """Memory scrypt needs (128·r·N for V, 128·r·p for B) plus room for its buffers."""
        return 128 * self.r * (self.n + self.p + 2) + 1024 * 1024


#: OWASP Password Storage Cheat Sheet: scrypt with N=2^17 (128 MiB), r=8, p=1
DEFAULT_SCRYPT = ScryptParams(2**17, 8, 1)
#: stored hashes asking for more than this are refused (not worth a gigabyte of memory)
_MAX_N = 2**20


def hash_password(password: str, params: ScryptParams = DEFAULT_SCRYPT) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=params.n, r=params.r, p=params.p,
                            maxmem=params.maxmem, dklen=32)
    return (f"scrypt${params.n}${params.r}${params.p}$"
            f"{base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}")


def _params(stored: str) -> ScryptParams | None:
    try:
        scheme, n, r, p, _salt, _digest = stored.split("$")
        return ScryptParams(int(n), int(r), int(p)) if scheme == "scrypt" else None
    except (ValueError, TypeError):
        return None


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``, whatever scrypt parameters it was made with."""
    params = _params(stored)
    if params is None or params.n > _MAX_N:
        return False
    try:
        _scheme, _n, _r, _p, salt_b64, digest_b64 = stored.split("$")
        digest = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt_b64), n=params.n,
                                r=params.r, p=params.p, maxmem=params.maxmem, dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


def needs_rehash(stored: str, params: ScryptParams = DEFAULT_SCRYPT) -> bool:
    """Whether ``stored`` was made with other parameters than ``params`` (or another scheme)."""
    return _params(stored) != params


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_id() -> str:
    return secrets.token_hex(8)
