"""Routing with several hub processes (docs/SCALING.md): the ACD runs in one process at a time
(the leader, chosen by ``hub/cluster.py``); every process uses :class:`ClusterRouting`, which has
the interface of :class:`RoutingService`, so callers do not change:

* on the leader it calls the local ``RoutingService`` (restored from the database when this
  process became the leader);
* elsewhere each command (enqueue, set_agent_state, accept, transfer, …) goes to the leader over
  Redis: pushed on the leader's request list ``hub:acd:req:<leader token>``, answered on a reply
  key; errors come back as the same ``HubError`` subclasses with their code and detail. A
  command the old leader never took is sent again to a new one (``LREM`` tells);
* the read-only views (``agent_state``, ``offers_for``, ``agent_ids``, ``engine``'s snapshots)
  are synchronous in ``RoutingService``, so followers answer them from a copy of the leader's view
  that the leader publishes on Redis after every change (coalesced; usually < 50 ms old).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from hub import acd
from hub.db.uow import Tx
from hub.errors import HubError, NotFound
from hub.events import cancel_task
from hub.services.auth import AuthService, User
from hub.services.conversations import ConversationService
from hub.services.directory import DirectoryService
from hub.services.routing import RoutingError, RoutingService

log = logging.getLogger(__name__)

LEADER_KEY = "hub:acd:leader"
VIEW_KEY = "hub:acd:view"
VIEW_CHANNEL = "hub:acd:view"
REQUESTS = "hub:acd:req:"
REPLIES = "hub:acd:reply:"


class RoutingUnavailable(HubError):
    code, status, title = "routing_unavailable", 503, "Routing is unavailable"


def _error_classes() -> dict[str, type[HubError]]:
    found: dict[str, type[HubError]] = {}
    todo: list[type[HubError]] = [HubError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.__name__, cls)
        todo.extend(cls.__subclasses__())
    return found


def error_to_json(err: BaseException) -> dict[str, Any]:
    if isinstance(err, HubError):
        return {"class": type(err).__name__, "code": err.code, "detail": err.detail,
                "details": err.details, "status": err.status}
    return {"class": "RoutingError", "code": "routing_error", "detail": f"routing failed: {err}",
            "details": {}, "status": 500}


def error_from_json(data: dict[str, Any]) -> HubError:
    cls = _error_classes().get(str(data.get("class")), RoutingError)
    err = cls(str(data.get("detail") or ""), details=data.get("details") or None,
              code=data.get("code"))
    return err


def user_to_json(user: User | None) -> dict[str, Any] | None:
    return None if user is None else dataclasses.asdict(user)


async def user_from_json(auth: AuthService, data: dict[str, Any] | None) -> User | None:
    """Re-read by id (the leader's current view of the user); a user that is not stored (the
    automation rules' pseudo-user) is rebuilt from what was sent."""
    if data is None:
        return None
    try:
        return await auth.get_user(str(data["id"]))
    except NotFound:
        return User(**{**data, "roles": tuple(data.get("roles") or ())})


# --- the leader's view, as followers see it ---------------------------------------------------
def build_view(routing: RoutingService) -> dict[str, Any]:
    """What followers need to answer the read-only questions (JSON)."""
    eng = routing.engine
    now = routing.clock.now()
    agents: dict[str, Any] = {}
    contacts: dict[str, Any] = {}
    for uid in sorted(routing.agent_ids):
        state = routing.agent_state(uid)
        snap = eng.agent_snapshot(uid)
        agents[uid] = {**state, "offers": [[c, e] for c, e in routing.offers_for(uid)],
                       "assigned": list(snap.assigned), "held": list(snap.held),
                       "busy": snap.busy, "talk_time_s": snap.talk_time_s,
                       "contacts_handled": snap.contacts_handled, "idle_since": snap.idle_since}
        for cid in snap.assigned:
            loc = eng.contact_location(cid)
            if loc is not None:
                contacts[cid] = [str(loc.state), loc.queue_id, list(loc.agent_ids), loc.enqueued_at,
                                 loc.priority]
    queues: dict[str, Any] = {}
    for qid in eng.queue_ids():
        snap_q = eng.queue_snapshot(qid, now)
        waiting = []
        for w in eng.waiting_contacts(qid):
            waiting.append([w.contact_id, str(w.state), w.enqueued_at, w.priority, w.held_for])
            loc = eng.contact_location(w.contact_id)
            if loc is not None:
                contacts[w.contact_id] = [str(loc.state), loc.queue_id, list(loc.agent_ids),
                                          loc.enqueued_at, loc.priority]
        queues[qid] = {"waiting": snap_q.waiting, "offered": snap_q.offered,
                       "by_channel": {str(k): v for k, v in snap_q.by_channel.items()},
                       "is_open": snap_q.is_open,
                       "agents_available": {str(k): v for k, v in snap_q.agents_available.items()},
                       "contacts": waiting}
    return {"at": now, "agents": agents, "queues": queues, "contacts": contacts,
            "agent_ids": sorted(routing.agent_ids)}


@dataclasses.dataclass(frozen=True, slots=True)
class ViewWaiting:
    """``acd.WaitingContact`` as a follower knows it (no request)."""

    contact_id: str
    state: str
    enqueued_at: float
    priority: int
    held_for: str | None
    request: Any = None


class AcdView:
    """The parts of ``acd.Acd`` that callers read (snapshots), answered from the leader's view."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {"agents": {}, "queues": {}, "contacts": {}, "agent_ids": []}
        self.received = False

    def queue_ids(self) -> list[str]:
        return list(self.data["queues"])

    def agent_ids(self) -> list[str]:
        return list(self.data["agent_ids"])

    def queue_snapshot(self, queue_id: str, now: float) -> acd.QueueSnapshot:
        q = self.data["queues"].get(queue_id)
        if q is None:  # not known to the leader (yet): open and empty
            return acd.QueueSnapshot(queue_id, 0, 0, 0.0, {}, True, {})
        oldest = min((c[2] for c in q["contacts"]), default=None)
        return acd.QueueSnapshot(
            queue_id=queue_id, waiting=int(q["waiting"]), offered=int(q["offered"]),
            longest_wait_s=0.0 if oldest is None else max(0.0, now - oldest),
            by_channel={acd.Channel(k): int(v) for k, v in q["by_channel"].items()},
            is_open=bool(q["is_open"]),
            agents_available={acd.Channel(k): int(v) for k, v in q["agents_available"].items()})

    def agent_snapshot(self, agent_id: str) -> acd.AgentSnapshot:
        a = self.data["agents"].get(agent_id)
        if a is None:
            raise acd.UnknownAgent(f"unknown agent {agent_id}")
        return acd.AgentSnapshot(
            agent_id=agent_id, state=cast(Any, a["state"]), reason=a["reason"], since=a["since"],
            load={acd.Channel(k): int(v) for k, v in a["load"].items()},
            offers=tuple(c for c, _ in a["offers"]), assigned=tuple(a["assigned"]),
            held=tuple(a["held"]), busy=bool(a["busy"]), talk_time_s=float(a["talk_time_s"]),
            contacts_handled=int(a["contacts_handled"]), idle_since=a["idle_since"],
            occupied=tuple(a["occupied"]))

    def waiting_contacts(self, queue_id: str) -> list[ViewWaiting]:
        q = self.data["queues"].get(queue_id)
        if q is None:
            raise acd.UnknownQueue(f"unknown queue {queue_id}")
        return [ViewWaiting(c[0], c[1], c[2], c[3], c[4]) for c in q["contacts"]]

    def contact_location(self, contact_id: str) -> acd.ContactLocation | None:
        c = self.data["contacts"].get(contact_id)
        if c is None:
            return None
        return acd.ContactLocation(contact_id, cast(Any, c[0]), c[1], tuple(c[2]), c[3], c[4])

    def next_deadline(self) -> float | None:
        return None


# --- the facade -------------------------------------------------------------------------------
#: the commands forwarded to the leader, with how their arguments travel
COMMANDS = frozenset({"enqueue", "set_agent_state", "occupy", "vacate", "end_wrapup", "accept",
                      "reject", "release", "transfer", "remove_queue", "reload_directory", "tick",
                      "reprioritise"})
#: commands that may be sent again to a new leader when the old one took them and died before
#: answering (doing them twice ends the same; the new leader restored the rest from the database)
RESENDABLE = frozenset({"enqueue", "set_agent_state", "end_wrapup", "release", "reload_directory",
                        "tick", "reprioritise"})


class ClusterRouting:
    """``RoutingService``'s interface, wherever the ACD runs (see the module docstring)."""

    def __init__(self, make_local: Callable[[], RoutingService], redis: aioredis.Redis,
                 clock: Any, directory: DirectoryService, auth: AuthService,
                 conversations: ConversationService, *, command_timeout_s: float = 8.0) -> None:
        self.make_local = make_local
        self.redis = redis
        self.clock = clock
        self.directory = directory
        self.auth = auth
        self.conversations = conversations
        self.command_timeout_s = command_timeout_s
        self.token = uuid.uuid4().hex  # this process, as a leader's address
        self.local: RoutingService | None = None
        self.view = AcdView()
        self._view_dirty = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._follower_task: asyncio.Task[None] | None = None
        self.commands_served = 0
        self.commands_sent = 0
        #: set by ``hub/cluster.py``: the leader's fencing check (``RoutingService.fence``)
        self.fence: Callable[[Tx], Awaitable[None]] | None = None

    # --- who runs the ACD ---------------------------------------------------------------------
    @property
    def is_leader(self) -> bool:
        return self.local is not None

    async def lead(self) -> None:
        """This process holds the leader lock: restore the ACD from the database and serve."""
        if self.local is not None:
            return
        await self._stop_following()
        local = self.make_local()
        local.on_change = self._view_dirty.set
        local.fence = self.fence
        self.conversations.offered_to.clear()  # the restore offers again
        await local.start()
        self.local = local
        self._tasks = [asyncio.create_task(self._serve(), name="acd:commands"),
                       asyncio.create_task(self._publish_view(), name="acd:view")]
        self._view_dirty.set()
        await self.advertise()

    async def advertise(self) -> None:
        """Tell followers where to send commands (refreshed by the leader loop)."""
        await self.redis.set(LEADER_KEY, self.token, ex=5)

    async def resign(self) -> None:
        """No longer the leader (lost the lock): stop the ACD and follow."""
        if await self._stop_leading():
            with contextlib.suppress(Exception):
                if await self.redis.get(LEADER_KEY) == self.token.encode():
                    await self.redis.delete(LEADER_KEY)
        await self.follow()

    async def follow(self) -> None:
        """Not the leader: keep the directory for conversations and the leader's view."""
        queues = await self.directory.list_queues()
        users = await self.auth.list_users()
        self.conversations.set_directory(queues, users)
        raw = await self.redis.get(VIEW_KEY)
        if raw:
            self._take_view(raw)
        if self._follower_task is None:
            self._follower_task = asyncio.create_task(self._follow_view(), name="acd:follow")

    async def _stop_following(self) -> None:
        task, self._follower_task = self._follower_task, None
        await cancel_task(task)

    # --- RoutingService's lifecycle ---------------------------------------------------------------
    async def start(self) -> None:
        """Started by ``hub/cluster.py`` (``lead`` or ``follow``)."""

    async def stop(self) -> None:
        await self._stop_following()
        await self._stop_leading()

    async def _stop_leading(self) -> bool:
        """Stop the local ACD and its tasks; True when this process was leading."""
        local, self.local = self.local, None
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            await cancel_task(task)
        if local is None:
            return False
        await local.stop()
        return True

    # --- read-only views --------------------------------------------------------------------------
    @property
    def engine(self) -> Any:
        return self.local.engine if self.local is not None else self.view

    @property
    def agent_ids(self) -> frozenset[str]:
        if self.local is not None:
            return self.local.agent_ids
        return frozenset(self.view.data["agent_ids"])

    def agent_state(self, user_id: str) -> dict[str, Any]:
        if self.local is not None:
            return self.local.agent_state(user_id)
        a = self.view.data["agents"].get(user_id)
        if a is None:
            return {"state": "logged_out", "reason": None, "since": None, "load": {},
                    "capacity": {}, "occupied": []}
        return {"state": a["state"], "reason": a["reason"], "since": a["since"],
                "load": dict(a["load"]), "capacity": dict(a["capacity"]),
                "occupied": list(a["occupied"])}

    def offers_for(self, user_id: str) -> list[tuple[str, float]]:
        if self.local is not None:
            return self.local.offers_for(user_id)
        a = self.view.data["agents"].get(user_id)
        return [] if a is None else [(str(c), float(e)) for c, e in a["offers"]]

    # --- commands ---------------------------------------------------------------------------------
    async def enqueue(self, row: Any, **values: Any) -> bool:
        if self.local is not None:
            return await self.local.enqueue(row, **values)
        return bool(await self._call("enqueue", {"cid": row.id, "values": values}))

    async def set_agent_state(self, user_id: str, state: str, reason: str | None = None,
                              forced_by: User | None = None) -> dict[str, Any]:
        if self.local is not None:
            return await self.local.set_agent_state(user_id, state, reason, forced_by)
        return cast(dict[str, Any], await self._call("set_agent_state", {
            "user_id": user_id, "state": state, "reason": reason, "forced_by": user_to_json(forced_by)}))

    async def occupy(self, user_id: str, key: str, channel: str = "voice") -> None:
        if self.local is not None:
            return await self.local.occupy(user_id, key, channel)
        await self._call("occupy", {"user_id": user_id, "key": key, "channel": channel})

    async def vacate(self, user_id: str, key: str) -> None:
        if self.local is not None:
            return await self.local.vacate(user_id, key)
        await self._call("vacate", {"user_id": user_id, "key": key})

    async def end_wrapup(self, user_id: str) -> dict[str, Any]:
        if self.local is not None:
            return await self.local.end_wrapup(user_id)
        return cast(dict[str, Any], await self._call("end_wrapup", {"user_id": user_id}))

    async def accept(self, cid: str, user: User) -> None:
        if self.local is not None:
            return await self.local.accept(cid, user)
        await self._call("accept", {"cid": cid, "user": user_to_json(user)})

    async def reject(self, cid: str, user: User) -> None:
        if self.local is not None:
            return await self.local.reject(cid, user)
        await self._call("reject", {"cid": cid, "user": user_to_json(user)})

    async def reprioritise(self, cid: str) -> None:
        if self.local is not None:
            return await self.local.reprioritise(cid)
        await self._call("reprioritise", {"cid": cid})

    async def release(self, cid: str) -> None:
        if self.local is not None:
            return await self.local.release(cid)
        await self._call("release", {"cid": cid})

    async def transfer(self, cid: str, by: User, queue_id: str | None = None,
                       agent_id: str | None = None, note: str | None = None,
                       vacates: str | None = None) -> Any:
        if self.local is not None:
            return await self.local.transfer(cid, by, queue_id, agent_id, note, vacates)
        await self._call("transfer", {"cid": cid, "by": user_to_json(by), "queue_id": queue_id,
                                      "agent_id": agent_id, "note": note, "vacates": vacates})
        return await self.conversations.row(cid)

    async def remove_queue(self, queue_id: str, actor_id: str) -> None:
        if self.local is not None:
            return await self.local.remove_queue(queue_id, actor_id)
        await self._call("remove_queue", {"queue_id": queue_id, "actor_id": actor_id})
        await self._reload_local_directory()

    async def reload_directory(self) -> None:
        if self.local is not None:
            return await self.local.reload_directory()
        await self._call("reload_directory", {})
        await self._reload_local_directory()

    async def tick(self) -> None:
        if self.local is not None:
            return await self.local.tick()
        await self._call("tick", {})

    async def _reload_local_directory(self) -> None:
        self.conversations.set_directory(await self.directory.list_queues(),
                                         await self.auth.list_users())

    async def on_admin_changed(self, ev: Any) -> None:
        """Another process changed users or queues: this process's directory follows."""
        if self.local is None:
            await self._reload_local_directory()

    # --- the follower's side of a command -------------------------------------------------------
    async def _call(self, op: str, args: dict[str, Any]) -> Any:
        try:
            return await self._send(op, args)
        except (RedisError, OSError) as err:
            raise RoutingUnavailable(f"routing commands cannot reach the ACD (Redis: {err}); "
                                     "try again") from err

    async def _send(self, op: str, args: dict[str, Any]) -> Any:
        req_id = uuid.uuid4().hex
        reply_key = REPLIES + req_id
        deadline = time.monotonic() + self.command_timeout_s
        payload = json.dumps({"id": req_id, "op": op, "args": args, "reply": reply_key,
                              "deadline": time.time() + self.command_timeout_s})
        self.commands_sent += 1
        while True:
            if self.local is not None:  # became the leader meanwhile
                return await self._execute(op, args)
            leader = await self.redis.get(LEADER_KEY)
            if leader is None:
                if time.monotonic() > deadline:
                    raise RoutingUnavailable("no process runs the ACD at the moment; try again")
                await asyncio.sleep(0.1)
                continue
            queue = REQUESTS + (leader.decode() if isinstance(leader, bytes) else str(leader))
            await self.redis.rpush(queue, payload)
            await self.redis.expire(queue, 60)
            resend = False
            while True:
                got = await self.redis.blpop([reply_key], timeout=0.2)
                if got is not None:
                    reply = json.loads(got[1])
                    if "error" in reply:
                        raise error_from_json(reply["error"])
                    return reply.get("result")
                current = await self.redis.get(LEADER_KEY)
                if time.monotonic() > deadline:
                    await self.redis.lrem(queue, 0, payload)
                    raise RoutingUnavailable("the ACD did not answer in time; try again")
                if current != leader and (current is not None or self.local is not None):
                    # a new leader: send it there if the old one never took it (or it is safe)
                    taken = not await self.redis.lrem(queue, 0, payload)
                    if taken and op not in RESENDABLE:
                        raise RoutingUnavailable("the process running the ACD stopped while doing "
                                                 "this; check the result and try again")
                    resend = True
                    break
            if not resend:
                return None

    # --- the leader's side ------------------------------------------------------------------------
    async def _serve(self) -> None:
        queue = REQUESTS + self.token
        running: set[asyncio.Task[None]] = set()
        while True:
            try:
                got = await self.redis.blpop([queue], timeout=1)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis away: try again
                log.warning("routing commands: Redis failed; retrying", exc_info=True)
                await asyncio.sleep(0.5)
                continue
            if got is None:
                continue
            try:
                req = json.loads(got[1])
            except ValueError:
                continue
            if float(req.get("deadline", 0)) < time.time():
                continue  # the sender has given up: doing it now would surprise it
            task = asyncio.create_task(self._answer(req), name=f"acd:command:{req.get('op')}")
            running.add(task)
            task.add_done_callback(running.discard)

    async def _answer(self, req: dict[str, Any]) -> None:
        try:
            result = await self._execute(str(req["op"]), dict(req.get("args") or {}))
            reply: dict[str, Any] = {"result": result}
        except Exception as err:  # noqa: BLE001 - goes back to the caller
            if not isinstance(err, HubError):
                log.exception("routing command %s failed", req.get("op"))
            reply = {"error": error_to_json(err)}
        self.commands_served += 1
        try:
            await self.redis.rpush(str(req["reply"]), json.dumps(reply))
            await self.redis.expire(str(req["reply"]), 30)
        except Exception:  # noqa: BLE001 - the caller times out
            log.warning("routing command %s: could not reply", req.get("op"), exc_info=True)

    async def _execute(self, op: str, a: dict[str, Any]) -> Any:
        r = self.local
        if r is None:
            raise RoutingUnavailable("this process no longer runs the ACD; try again")
        if op not in COMMANDS:
            raise RoutingError(f"unknown routing command {op!r}")
        if op == "enqueue":
            if r.engine.contact_location(a["cid"]) is not None:
                return True  # already there (restored from the database by a new leader)
            return await r.enqueue(await self.conversations.row(a["cid"]), **(a.get("values") or {}))
        if op == "set_agent_state":
            return await r.set_agent_state(a["user_id"], a["state"], a.get("reason"),
                                           await user_from_json(self.auth, a.get("forced_by")))
        if op == "occupy":
            return await r.occupy(a["user_id"], a["key"], a.get("channel") or "voice")
        if op == "vacate":
            return await r.vacate(a["user_id"], a["key"])
        if op == "end_wrapup":
            return await r.end_wrapup(a["user_id"])
        if op in ("accept", "reject"):
            user = await user_from_json(self.auth, a["user"])
            assert user is not None
            return await (r.accept if op == "accept" else r.reject)(a["cid"], user)
        if op == "release":
            return await r.release(a["cid"])
        if op == "reprioritise":
            return await r.reprioritise(a["cid"])
        if op == "transfer":
            by = await user_from_json(self.auth, a["by"])
            assert by is not None
            await r.transfer(a["cid"], by, a.get("queue_id"), a.get("agent_id"), a.get("note"),
                             a.get("vacates"))
            return None
        if op == "remove_queue":
            return await r.remove_queue(a["queue_id"], a["actor_id"])
        if op == "reload_directory":
            return await r.reload_directory()
        return await r.tick()

    # --- the view -----------------------------------------------------------------------------
    async def _publish_view(self) -> None:
        while True:
            await self._view_dirty.wait()
            self._view_dirty.clear()
            local = self.local
            if local is None:
                return
            try:
                raw = json.dumps(build_view(local))
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.set(VIEW_KEY, raw)
                    pipe.publish(VIEW_CHANNEL, raw)
                    await pipe.execute()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - next change publishes again
                log.warning("could not publish the ACD view", exc_info=True)
                self._view_dirty.set()
                await asyncio.sleep(0.5)
            await asyncio.sleep(0.02)  # coalesce bursts of decisions

    def _take_view(self, raw: bytes | str) -> None:
        try:
            data = json.loads(raw)
        except ValueError:
            return
        self.view.data = data
        self.view.received = True
        if self.local is None:
            offered: dict[str, dict[str, float]] = {}
            for uid, a in data["agents"].items():
                for cid, exp in a["offers"]:
                    offered.setdefault(cid, {})[uid] = float(exp)
            self.conversations.offered_to.clear()
            self.conversations.offered_to.update(offered)

    async def _follow_view(self) -> None:
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(VIEW_CHANNEL)
                raw = await self.redis.get(VIEW_KEY)  # what changed before subscribing
                if raw:
                    self._take_view(raw)
                last_poll = time.monotonic()
                while True:
                    msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if msg is not None and msg.get("type") == "message":
                        self._take_view(msg["data"])
                    elif time.monotonic() - last_poll > 5:
                        last_poll = time.monotonic()
                        raw = await self.redis.get(VIEW_KEY)
                        if raw:
                            self._take_view(raw)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis away: subscribe again
                log.warning("ACD view: Redis failed; subscribing again", exc_info=True)
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def stats(self) -> dict[str, Any]:
        return {"leader": self.is_leader, "token": self.token, "commands_sent": self.commands_sent,
                "commands_served": self.commands_served}
