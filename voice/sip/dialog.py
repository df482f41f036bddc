"""SIP dialogs (RFC 3261 section 12): state and in-dialog requests as values.

A :class:`Dialog` is created from an INVITE and the 2xx (or 1xx with a To tag, early dialog)
that answers it, on either side (:meth:`Dialog.for_uas`, :meth:`Dialog.for_uac`). It holds the
Call-ID, tags, CSeq counters, route set and remote target, and builds in-dialog requests
(BYE, re-INVITE, INFO, REFER, UPDATE, ACK for a 2xx) with loose or strict routing (12.2.1.1).
:meth:`Dialog.receive_request` checks CSeq ordering and applies target refreshes.

The dialog is a small mutable state object owned by one call; it does no I/O: requests go to
the transaction layer, which hands back the transactions' fates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from voice.sip.errors import DialogError
from voice.sip.message import (
    CSeq,
    NameAddr,
    SipRequest,
    SipResponse,
    SipUri,
    Via,
    new_branch,
)

__all__ = ["Dialog", "DialogId"]

TARGET_REFRESH = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})


@dataclass(frozen=True, slots=True)
class DialogId:
    call_id: str
    local_tag: str
    remote_tag: str


@dataclass
class Dialog:
    """One side's view of a dialog."""

    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: NameAddr
    remote_uri: NameAddr
    remote_target: SipUri
    local_contact: NameAddr
    route_set: list[NameAddr] = field(default_factory=list)
    local_seq: int = 0
    remote_seq: int | None = None
    invite_seq: int | None = None
    secure: bool = False
    early: bool = False

    @property
    def id(self) -> DialogId:
        return DialogId(self.call_id, self.local_tag, self.remote_tag)

    # -- creation -------------------------------------------------------------------------------

    @classmethod
    def for_uas(cls, invite: SipRequest, response: SipResponse, *, local_seq: int = 0) -> Dialog:
        """UAS side (12.1.1): route set = the INVITE's Record-Route in order; remote target =
        the INVITE's Contact; local tag from the response's To. ``local_contact`` is the
        Contact we put in the response."""
        to_tag = response.to.tag
        from_tag = invite.from_.tag
        if not to_tag or from_tag is None:
            raise DialogError("a dialog needs a To tag in the response and a From tag")
        return cls(
            call_id=invite.call_id,
            local_tag=to_tag,
            remote_tag=from_tag,
            local_uri=response.to,
            remote_uri=invite.from_,
            remote_target=_contact_uri(invite),
            local_contact=_contact(response),
            route_set=[NameAddr.parse(v) for v in invite.get_all("Record-Route")],
            local_seq=local_seq,
            remote_seq=invite.cseq.number,
            invite_seq=invite.cseq.number,
            secure=invite.request_uri.scheme.lower() == "sips",
            early=response.is_provisional,
        )

    @classmethod
    def for_uac(cls, invite: SipRequest, response: SipResponse) -> Dialog:
        """UAC side (12.1.2): route set = the response's Record-Route reversed; remote target
        = the response's Contact; local CSeq continues from the INVITE's."""
        to_tag = response.to.tag
        from_tag = invite.from_.tag
        if not to_tag or from_tag is None:
            raise DialogError("a dialog needs a To tag in the response and a From tag")
        return cls(
            call_id=invite.call_id,
            local_tag=from_tag,
            remote_tag=to_tag,
            local_uri=invite.from_,
            remote_uri=response.to,
            remote_target=_contact_uri(response),
            local_contact=_contact(invite),
            route_set=[NameAddr.parse(v) for v in reversed(response.get_all("Record-Route"))],
            local_seq=invite.cseq.number,
            remote_seq=None,
            invite_seq=invite.cseq.number,
            secure=invite.request_uri.scheme.lower() == "sips",
            early=response.is_provisional,
        )

    def confirm(self, response: SipResponse) -> None:
        """Early → confirmed on the 2xx (UAC: the 2xx may carry a new Contact/Record-Route)."""
        self.early = False
        if response.get("Contact"):
            self.remote_target = _contact_uri(response)

    # -- requests -------------------------------------------------------------------------------

    def create_request(
        self,
        method: str,
        via: Via,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
        max_forwards: int = 70,
    ) -> SipRequest:
        """Build an in-dialog request (12.2.1.1). ``via`` is our Via without a branch or with
        one; a fresh branch is added when missing. The local CSeq is incremented (except for
        ACK and CANCEL, which reuse the INVITE's number — use :meth:`ack` for the ACK)."""
        if method in ("ACK", "CANCEL"):
            raise ValueError(f"use ack()/the INVITE transaction for {method}")
        self.local_seq += 1
        if method == "INVITE":
            self.invite_seq = self.local_seq
        return self._build(method, CSeq(self.local_seq, method), via, headers, body, content_type, max_forwards)

    def ack(
        self,
        via: Via,
        *,
        cseq: int | None = None,
        body: bytes = b"",
        content_type: str | None = None,
    ) -> SipRequest:
        """The ACK for a 2xx to our INVITE (13.2.2.4): CSeq number of the INVITE, new branch,
        routed like any in-dialog request."""
        number = cseq if cseq is not None else self.invite_seq
        if number is None:
            raise DialogError("no INVITE to acknowledge in this dialog")
        return self._build("ACK", CSeq(number, "ACK"), via, (), body, content_type, 70)

    def bye(self, via: Via) -> SipRequest:
        return self.create_request("BYE", via)

    def reinvite(self, via: Via, sdp: bytes) -> SipRequest:
        return self.create_request(
            "INVITE",
            via,
            headers=[("Contact", str(self.local_contact))],
            body=sdp,
            content_type="application/sdp",
        )

    def info(self, via: Via, body: bytes, content_type: str = "application/dtmf-relay") -> SipRequest:
        return self.create_request("INFO", via, body=body, content_type=content_type)

    def refer(self, via: Via, refer_to: str | NameAddr, *, replaces: str | None = None) -> SipRequest:
        """REFER (RFC 3515). ``replaces`` is an escaped Replaces value for attended transfer
        (RFC 3891), put as a header of the Refer-To URI."""
        target = refer_to if isinstance(refer_to, NameAddr) else NameAddr.parse(refer_to)
        if replaces is not None and target.uri is not None:
            headers = dict(target.uri.headers)
            headers["Replaces"] = replaces
            target = NameAddr(
                SipUri(
                    target.uri.scheme,
                    target.uri.host,
                    target.uri.user,
                    target.uri.password,
                    target.uri.port,
                    target.uri.params,
                    headers,
                ),
                target.display_name,
                target.params,
            )
        return self.create_request(
            "REFER",
            via,
            headers=[
                ("Refer-To", str(target)),
                ("Referred-By", str(NameAddr(self.local_uri.uri, self.local_uri.display_name))),
                ("Contact", str(self.local_contact)),
            ],
        )

    def _build(
        self,
        method: str,
        cseq: CSeq,
        via: Via,
        extra: Iterable[tuple[str, str]],
        body: bytes,
        content_type: str | None,
        max_forwards: int,
    ) -> SipRequest:
        if via.branch is None:
            via = Via(via.transport, via.host, via.port, {**via.params, "branch": new_branch()})
        uri, routes = self._route()
        headers: list[tuple[str, str]] = [("Via", str(via)), ("Max-Forwards", str(max_forwards))]
        headers += [("Route", str(r)) for r in routes]
        headers += [
            ("From", str(self.local_uri.with_tag(self.local_tag))),
            ("To", str(self.remote_uri.with_tag(self.remote_tag))),
            ("Call-ID", self.call_id),
            ("CSeq", str(cseq)),
        ]
        headers += list(extra)
        return SipRequest.build(method, uri, headers, body, content_type)

    def _route(self) -> tuple[SipUri, list[NameAddr]]:
        """Request-URI and Route headers (12.2.1.1: loose vs strict routing)."""
        if not self.route_set:
            return self.remote_target, []
        first = self.route_set[0]
        assert first.uri is not None
        if first.uri.loose_route:
            return self.remote_target, list(self.route_set)
        return first.uri, [*self.route_set[1:], NameAddr(self.remote_target)]

    # -- incoming -------------------------------------------------------------------------------

    def matches(self, request: SipRequest) -> bool:
        """True if ``request`` belongs to this dialog (Call-ID and both tags)."""
        return (
            request.call_id == self.call_id
            and request.to.tag == self.local_tag
            and request.from_.tag == self.remote_tag
        )

    def receive_request(self, request: SipRequest) -> None:
        """Check CSeq order (12.2.2: lower than the last one → 500) and apply target refresh.
        ACK and CANCEL carry the INVITE's number and are not checked."""
        if request.method in ("ACK", "CANCEL"):
            return
        number = request.cseq.number
        if self.remote_seq is not None and number <= self.remote_seq:
            raise DialogError(
                f"CSeq {number} is not above the last remote CSeq {self.remote_seq}",
                cseq=number,
                last=self.remote_seq,
            )
        self.remote_seq = number
        if request.method in TARGET_REFRESH and request.get("Contact"):
            self.remote_target = _contact_uri(request)


def _contact(message: SipRequest | SipResponse) -> NameAddr:
    contacts = message.contacts
    if not contacts or contacts[0].uri is None:
        raise DialogError(f"{message.kind} has no usable Contact")
    return NameAddr(contacts[0].uri, contacts[0].display_name)


def _contact_uri(message: SipRequest | SipResponse) -> SipUri:
    uri = _contact(message).uri
    assert uri is not None
    return uri
