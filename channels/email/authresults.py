"""``Authentication-Results`` (RFC 8601): what the receiving relay found when it checked SPF, DKIM
and DMARC, read offline from the header it added.

Anyone can write such a header into a mail, so only a header whose authserv-id (the token before
the first ``;``) is one of the relays the hub trusts (``email_trusted_authserv_ids``) counts, and of
those only the topmost: the relay prepends its own above whatever the mail arrived with (RFC 8601
§5 asks relays to remove forged copies of their own id; taking the topmost trusted one holds even
when a relay does not). Without a trusted header the results are unknown (``None``), never a
guess."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: the methods shown in the desk
METHODS = ("spf", "dkim", "dmarc")
#: RFC 8601 result values (section 2.7); anything else is reported as "none"
RESULTS = frozenset({"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror",
                     "policy"})
_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*=\s*([A-Za-z]+)")


@dataclass(frozen=True)
class AuthResults:
    authserv_id: str
    spf: str
    dkim: str
    dmarc: str

    def as_dict(self) -> dict[str, str]:
        return {"authserv_id": self.authserv_id, "spf": self.spf, "dkim": self.dkim,
                "dmarc": self.dmarc}

    @classmethod
    def parse(cls, value: str) -> AuthResults:
        """One header's value: ``authserv-id [version]; method=result ...; ...``. Raises
        ``ValueError`` when it has no authserv-id."""
        text = value
        while _COMMENT.search(text):  # nested comments, innermost first
            text = _COMMENT.sub(" ", text)
        head, _, rest = text.partition(";")
        words = head.split()
        if not words:
            raise ValueError("Authentication-Results has no authserv-id")
        found: dict[str, list[str]] = {}
        for clause in rest.split(";"):
            m = _RESULT.match(clause)
            if m is None:
                continue
            method, result = m.group(1).lower(), m.group(2).lower()
            if method in METHODS:
                found.setdefault(method, []).append(result if result in RESULTS else "none")
        return cls(words[0].lower(), *(_combined(found.get(m, [])) for m in METHODS))


def _combined(results: Sequence[str]) -> str:
    """Several results of one method (a mail with two DKIM signatures): pass if any passed, else
    the first, else none."""
    if "pass" in results:
        return "pass"
    return results[0] if results else "none"


def trusted_results(values: Iterable[str], trusted_ids: Iterable[str]) -> AuthResults | None:
    """The topmost header (``values`` in the mail's order) whose authserv-id is trusted, or None."""
    trusted = {t.strip().lower() for t in trusted_ids if t.strip()}
    if not trusted:
        return None
    for value in values:
        try:
            res = AuthResults.parse(value)
        except ValueError:
            continue
        if res.authserv_id in trusted:
            return res
    return None
