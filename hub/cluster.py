"""Several hub processes serving one centre (``redis_url`` set, PostgreSQL): docs/SCALING.md.

* Socket.IO rooms span the processes through python-socketio's Redis manager (``hub/app.py``).
* Committed events reach every process (``hub/db/fanout.py``).
* The ACD and the durable event consumers run in exactly one process, the leader: the one holding
  the PostgreSQL session-level advisory lock :data:`LEADER_LOCK` on a dedicated connection. The
  others try to take it every ``retry_s``; when the leader dies its session ends, the lock is free
  and the next try wins: that process restores the ACD from the database (offers in flight wait
  again) and replays the consumers from their checkpoints. The others send routing commands to
  the leader (``hub/services/routing_cluster.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import asyncpg
import redis.asyncio as aioredis
from sqlalchemy import text

from hub.db.fanout import EventFanout, asyncpg_dsn
from hub.db.uow import Tx
from hub.events import EventType
from hub.services.routing_cluster import ClusterRouting, RoutingUnavailable

if TYPE_CHECKING:
    from hub.app import Services

log = logging.getLogger(__name__)

#: the PostgreSQL advisory lock key held by the process that runs the ACD
LEADER_LOCK = 7_246_105_374
#: fencing: every transaction applying ACD decisions holds it shared; a new leader takes it
#: exclusively once before restoring, so the old leader's last transactions are committed (and
#: restored) or were refused (the lock was no longer theirs)
FENCE_LOCK = 7_246_105_376



class Cluster:
    def __init__(self, services: Services, routing: ClusterRouting, redis: aioredis.Redis, *,
                 retry_s: float = 0.5) -> None:
        self.s = services
        self.routing = routing
        self.redis = redis
        self.retry_s = retry_s
        self.dsn = asyncpg_dsn(services.settings.effective_database_url)
        self.fanout = EventFanout(self.dsn, services.bus, services.bus.store)  # type: ignore[arg-type]  # opened by build_services
        self._lock_conn: Any = None
        self._lock_pid: int | None = None  # the lock connection's backend
        routing.fence = self.fence
        self._loop: asyncio.Task[None] | None = None
        self._ready = False
        self.became_leader_at: float | None = None
        self.leaderships = 0

    @property
    def is_leader(self) -> bool:
        return self.routing.is_leader

    async def start(self) -> None:
        """Before the components start: fan-out on, and either lead (ACD restored) or follow."""
        bus = self.s.bus
        bus.consumers_from_log = True
        self.s.db.notify_channel = "hub_events"
        await self.fanout.start()
        bus.subscribe(self.routing.on_admin_changed, types=(EventType.ADMIN_CHANGED,),
                      name="cluster.directory")
        if await self._try_lock():
            await self._promote(start_consumers=False)
        else:
            await self.routing.follow()

    async def ready(self) -> None:
        """After the components registered their consumers: run them if leading; keep trying."""
        self._ready = True
        if self.is_leader:
            await self.s.bus.start_consumers()
        self._loop = asyncio.create_task(self._leader_loop(), name="cluster:leader")

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._loop
            self._loop = None
        await self.fanout.stop()

    async def close(self) -> None:
        """Last: give the lock up (the next process takes over at once) and close Redis."""
        if self.is_leader:
            with contextlib.suppress(Exception):
                await self.redis.delete("hub:acd:leader")
        await self._close_lock()
        with contextlib.suppress(Exception):
            await self.redis.aclose()

    # --- the lock ---------------------------------------------------------------------------------
    async def _close_lock(self) -> None:
        conn, self._lock_conn = self._lock_conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)

    async def _try_lock(self) -> bool:
        try:
            if self._lock_conn is None or self._lock_conn.is_closed():
                await self._close_lock()
                self._lock_conn = await asyncio.wait_for(asyncpg.connect(self.dsn), 5)
            got = await asyncio.wait_for(
                self._lock_conn.fetchval("SELECT pg_try_advisory_lock($1)", LEADER_LOCK), 5)
            if got:
                self._lock_pid = int(await self._lock_conn.fetchval("SELECT pg_backend_pid()"))
                # wait for the transactions a previous leader had under way (see FENCE_LOCK)
                await asyncio.wait_for(self._lock_conn.fetchval(
                    "SELECT pg_advisory_lock($1)", FENCE_LOCK), 10)
                await self._lock_conn.fetchval("SELECT pg_advisory_unlock($1)", FENCE_LOCK)
            return bool(got)
        except (OSError, asyncpg.PostgresError, TimeoutError, asyncpg.InterfaceError):
            log.warning("cluster: could not try the leader lock", exc_info=True)
            await self._close_lock()
            return False

    async def fence(self, tx: Tx) -> None:
        """In a transaction applying ACD decisions: go on only while this process holds the
        leader lock (checked under the shared fence lock: see FENCE_LOCK)."""
        await tx.conn.execute(text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": FENCE_LOCK})
        held = (await tx.conn.execute(text(
            "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
            " AND classid = :hi AND objid = :lo AND pid = :pid"),
            {"hi": LEADER_LOCK >> 32, "lo": LEADER_LOCK & 0xFFFFFFFF,
             "pid": self._lock_pid or -1})).first()
        if held is None:
            raise RoutingUnavailable("this process no longer runs the ACD; try again")

    async def _still_holding(self) -> bool:
        conn = self._lock_conn
        if conn is None or conn.is_closed():
            return False
        try:
            # a session lock lasts as long as its session: the connection answering is enough
            return bool(await asyncio.wait_for(conn.fetchval("SELECT 1"), 5))
        except (OSError, asyncpg.PostgresError, TimeoutError, asyncpg.InterfaceError):
            log.warning("cluster: the leader lock's connection failed", exc_info=True)
            return False

    async def _promote(self, *, start_consumers: bool = True) -> None:
        t0 = time.monotonic()
        await self.routing.lead()
        if start_consumers:
            await self.s.bus.start_consumers()
        self.became_leader_at = time.time()
        self.leaderships += 1
        log.warning("cluster: this process runs the ACD now (restored in %.2f s)",
                    time.monotonic() - t0)

    async def _demote(self) -> None:
        log.warning("cluster: this process lost the leader lock; following")
        await self.s.bus.pause_consumers()
        await self.routing.resign()
        await self._close_lock()

    async def _leader_loop(self) -> None:
        while True:
            await asyncio.sleep(self.retry_s)
            try:
                if self.is_leader:
                    if await self._still_holding():
                        await self.routing.advertise()
                    else:
                        await self._demote()
                elif await self._try_lock():
                    try:
                        await self._promote()
                    except Exception:
                        await self._close_lock()  # let another process try
                        await self.routing.resign()
                        raise
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - tried again next round
                log.exception("cluster: leader loop failed")

    def stats(self) -> dict[str, Any]:
        return {**self.routing.stats(), "leaderships": self.leaderships,
                "became_leader_at": self.became_leader_at,
                "remote_events": self.fanout.remote_published}
