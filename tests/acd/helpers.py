"""Small builders shared by the ACD tests (real engine, no mocks)."""

from __future__ import annotations

from collections.abc import Iterable

from hub.acd import Acd, AgentConfig, Channel, ContactRequest, Offer, QueueConfig


def build(*queues: QueueConfig, agents: Iterable[AgentConfig | str] = (), seed: int = 0) -> Acd:
    acd = Acd(seed=seed)
    for q in queues:
        acd.configure_queue(q, now=0.0)
    for a in agents:
        acd.configure_agent(a if isinstance(a, AgentConfig) else AgentConfig(id=a), now=0.0)
    return acd


def ready(acd: Acd, *agent_ids: str, now: float = 0.0) -> list:
    out: list = []
    for aid in agent_ids:
        out += acd.login(aid, now)
        out += acd.set_ready(aid, now)
    return out


def contact(cid: str, queue: str = "q", channel: Channel = Channel.VOICE, **kw) -> ContactRequest:
    return ContactRequest(id=cid, channel=channel, queue_id=queue, **kw)


def offers(decisions: list) -> list[tuple[str, str]]:
    return [(d.contact_id, d.agent_id) for d in decisions if isinstance(d, Offer)]


def of_type(decisions: list, cls: type) -> list:
    return [d for d in decisions if isinstance(d, cls)]


def queue(members: Iterable[str] = ("a", "b", "c"), qid: str = "q", **kw) -> QueueConfig:
    return QueueConfig(id=qid, name=qid.upper(), members=tuple(members), **kw)


def serve(acd: Acd, cid: str, aid: str, start: float, end: float) -> None:
    """Offer is pending for (cid, aid): accept at start, release at end."""
    acd.accept(cid, aid, start)
    acd.release(cid, end)
