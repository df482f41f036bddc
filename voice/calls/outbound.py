"""Outbound calls through the configured provider trunk (VOICE-1): the hub as a UAC towards
``voice_trunk_uri``, answering the provider's 401/407 digest challenge once with
``voice_trunk_username`` / ``voice_trunk_password``.

Used for transfers to external numbers: an agent's desk phone REFERs the caller to a number that
matches ``voice_external_pattern``; the B2BUA rings the number through the trunk and, once it
answers, bridges the caller to it (the recording goes on). :class:`TrunkEndpoint` is a
:class:`~voice.calls.endpoints.SipPhoneEndpoint` whose target is the trunk instead of a
registered phone, so ringing, cancelling, hanging up and in-dialog requests work the same way.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

from voice.calls.endpoints import SipPhoneEndpoint
from voice.media.engine import MediaEngine
from voice.sip.digest import DigestChallenge, DigestCredentials, compute_response
from voice.sip.errors import SipError
from voice.sip.message import SipRequest, SipResponse, SipUri, new_branch

if TYPE_CHECKING:
    from voice.calls.sipcore import SipCore

__all__ = ["Trunk", "TrunkEndpoint", "TrunkError"]


class TrunkError(ValueError):
    """The trunk settings are unusable (raised at start-up) or the trunk host does not resolve."""


@dataclass(frozen=True, slots=True)
class TrunkTarget:
    """Where one outbound call goes; has the fields :class:`SipPhoneEndpoint` reads from a
    registrar binding."""

    username: str  # the dialled number
    uri: SipUri  # Request-URI: <number>@<trunk host>
    target: tuple[str, int]
    transport: str


@dataclass(frozen=True, slots=True)
class Trunk:
    uri: SipUri
    transport: str
    username: str
    password: str
    caller_id: str
    pattern: re.Pattern[str]

    @classmethod
    def from_settings(cls, uri: str, username: str, password: str, caller_id: str,
                      pattern: str) -> Trunk | None:
        """None when no trunk is configured; :class:`TrunkError` when it is misconfigured."""
        if not uri.strip():
            return None
        try:
            parsed = SipUri.parse(uri)
        except SipError as err:
            raise TrunkError(f"setting 'voice_trunk_uri' is not a SIP URI: {err}") from err
        if parsed.scheme != "sip" or not parsed.host:
            raise TrunkError("setting 'voice_trunk_uri' must look like sip:provider.example.com[:port]")
        transport = (parsed.params.get("transport") or "udp").upper()
        if transport not in ("UDP", "TCP"):
            raise TrunkError(f"setting 'voice_trunk_uri': transport {transport} is not supported (UDP, TCP)")
        try:
            compiled = re.compile(pattern)
        except re.error as err:
            raise TrunkError(f"setting 'voice_external_pattern' is not a regular expression: {err}") from err
        return cls(parsed, transport, username, password, caller_id, compiled)

    def dialable(self, number: str) -> bool:
        return bool(self.pattern.fullmatch(number))

    async def target_for(self, number: str) -> TrunkTarget:
        host, port = self.uri.host.strip("[]"), self.uri.port or 5060
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, family=socket.AF_INET, type=socket.SOCK_DGRAM)
        except OSError as err:
            raise TrunkError(f"the trunk host {host} does not resolve: {err}") from err
        addr = infos[0][4]
        uri = SipUri("sip", self.uri.host, number, port=self.uri.port)
        return TrunkTarget(number, uri, (str(addr[0]), int(addr[1])), self.transport)


class TrunkEndpoint(SipPhoneEndpoint):
    """One outbound call leg to ``number`` through the trunk."""

    def __init__(self, number: str, trunk: Trunk, target: TrunkTarget, core: SipCore,
                 engine: MediaEngine, media_address: str) -> None:
        super().__init__(f"external:{number}", target, core, engine, media_address)  # type: ignore[arg-type]  # Binding-like
        self.number = number
        self.trunk = trunk
        self._challenged = False

    def to_uri(self) -> SipUri:
        return self.binding.uri

    def authorised(self, invite: SipRequest, response: SipResponse) -> SipRequest | None:
        """Answer the first digest challenge; a second one means the credentials are wrong."""
        if self._challenged or not self.trunk.username:
            return None
        self._challenged = True
        proxy = response.status == 407
        try:
            ch = DigestChallenge.parse(response.require("Proxy-Authenticate" if proxy else "WWW-Authenticate"))
        except SipError:
            return None
        qop = "auth" if ch.qop and "auth" in [q.strip() for q in ch.qop.split(",")] else None
        cnonce = secrets.token_hex(8) if qop else None
        uri = str(invite.uri)
        digest = compute_response(algorithm=ch.algorithm, method="INVITE", uri=uri, nonce=ch.nonce,
                                  username=self.trunk.username, realm=ch.realm,
                                  password=self.trunk.password, qop=qop, cnonce=cnonce)
        creds = DigestCredentials(username=self.trunk.username, realm=ch.realm, nonce=ch.nonce, uri=uri,
                                  response=digest, algorithm=ch.algorithm, qop=qop,
                                  nc="00000001" if qop else None, cnonce=cnonce, opaque=ch.opaque)
        via = self.core.via(self.binding.transport)
        via = type(via)(via.transport, via.host, via.port, {**via.params, "branch": new_branch()})
        cseq = int(invite.require("CSeq").split()[0]) + 1
        return (invite.with_replaced("Via", str(via)).with_replaced("CSeq", f"{cseq} INVITE")
                .with_header("Proxy-Authorization" if proxy else "Authorization", str(creds)))
