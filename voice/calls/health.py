"""Voice health for the wallboard (issue 3, "Health"): each active call with the receive quality
of its RTP legs (loss and RFC 3550 jitter, :mod:`voice.media.quality`), and the registration state
of every SIP account (desk phones and trunks) plus the outbound trunk's configuration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from voice.calls.settings import VoiceSettings

if TYPE_CHECKING:
    from voice.calls.service import CallService

__all__ = ["active_calls", "leg_quality", "registrations"]


def leg_quality(media: Any) -> dict[str, Any] | None:
    """Receive quality of a media leg; ``None`` when it has received no RTP (a WebRTC agent leg
    carries its audio over the peer connection, not RTP packets of ours)."""
    q = getattr(media, "rx_quality", None)
    if q is None or not q.received:
        return None
    return q.public()


def active_calls(svc: CallService) -> list[dict[str, Any]]:
    out = []
    for call in list(svc.calls.values()):
        if call.ended:
            continue
        entry = call.public()
        agent_media = call.agent.media if call.agent is not None else None
        entry["quality"] = {"caller": leg_quality(call.caller.media), "agent": leg_quality(agent_media)}
        out.append(entry)
    return out


def registrations(svc: CallService) -> dict[str, Any]:
    """Every SIP account with whether it is registered now; the outbound trunk as configured."""
    now = svc.engine.now()
    bindings: dict[str, Any] = {}
    for bd in svc.registrar.active_bindings(now):
        if bd.username not in bindings or bd.expires_at > bindings[bd.username].expires_at:
            bindings[bd.username] = bd
    accounts = []
    for acc in sorted(svc.registrar.accounts.values(), key=lambda a: (a.kind, a.username)):
        b = bindings.get(acc.username)
        accounts.append({"username": acc.username, "kind": acc.kind, "user_id": acc.user_id,
                         "registered": b is not None, "contact": str(b.uri) if b else None,
                         "source": f"{b.source[0]}:{b.source[1]}" if b else None,
                         "expires_in": int(b.expires_at - now) if b else None})
    trunk_uri = svc.settings.section(VoiceSettings).trunk_uri
    return {"accounts": accounts,
            "outbound_trunk": {"configured": bool(trunk_uri), "uri": trunk_uri or None}}
