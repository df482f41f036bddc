"""Flows, versions, prompt audio and number routing in the database (``voice/ivr/tables.py``).

The store knows SQL and files, not HTTP: it raises ``IvrError`` subclasses (stable codes) that
``component.py`` turns into problem responses. The hub's database (unit of work) and clock are
handed in; events for the audit log are produced by a callback the component supplies.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update

from voice.ivr import tables as t
from voice.ivr.audio_files import convert_prompt, write_wav
from voice.ivr.errors import FlowInvalid, IvrError
from voice.ivr.flow import PromptRef, audio_key
from voice.ivr.validate import Problem, validation_problems

log = logging.getLogger(__name__)

NUMBER = re.compile(r"^\+?[0-9*#]{1,32}$|^[A-Za-z0-9_.+-]{1,64}$")
PROMPT_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class FlowNotFound(IvrError):
    code = "ivr_not_found"


class IvrConflict(IvrError):
    code = "ivr_conflict"


class BadRequest(IvrError):
    code = "ivr_bad_request"


def new_id() -> str:
    return secrets.token_hex(8)


def normalise_number(number: str) -> str:
    return re.sub(r"[\s().-]", "", number or "")


def static_tts(definition: dict[str, Any]) -> list[PromptRef]:
    """The TTS prompts of a flow without ``{placeholders}`` (they can be rendered ahead)."""
    out: list[PromptRef] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if set(value) <= {"text", "voice"} and isinstance(value.get("text"), str):
                if "{" not in value["text"] and value["text"].strip():
                    out.append(PromptRef(text=value["text"], voice=value.get("voice")))
                return
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(definition.get("nodes", {}))
    return out


def used_prompt_files(definition: dict[str, Any]) -> set[str]:
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("file"), str) and set(value) <= {"file", "voice"}:
                found.add(value["file"])
                return
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(definition.get("nodes", {}))
    return found


Audit = Callable[[Any, str, str, str | None], None]  # (tx, id, action, actor)


class IvrStore:
    def __init__(self, db: Any, now: Callable[[], float], audio_dir: Path, audit: Audit,
                 max_upload_bytes: int = 10 * 1024 * 1024) -> None:
        self.db = db
        self.now = now
        self.audio_dir = Path(audio_dir)
        self.audit = audit
        self.max_upload_bytes = max_upload_bytes

    # ------------------------------------------------------------------ flows

    async def list_flows(self) -> list[dict[str, Any]]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(t.flows).order_by(t.flows.c.name))).all()
            nums = (await conn.execute(select(t.numbers))).all()
        by_flow: dict[str, list[str]] = {}
        for n in nums:
            by_flow.setdefault(n.flow_id, []).append(n.number)
        return [{"id": r.id, "name": r.name, "description": r.description,
                 "published_version": r.published_version, "updated_at": r.updated_at,
                 "numbers": sorted(by_flow.get(r.id, [])),
                 "nodes": len((r.draft or {}).get("nodes", {}))} for r in rows]

    async def _row(self, conn: Any, flow_id: str) -> Any:
        row = (await conn.execute(select(t.flows).where(t.flows.c.id == flow_id))).first()
        if row is None:
            raise FlowNotFound(f"IVR flow {flow_id} does not exist", details={"id": flow_id})
        return row

    async def get_flow(self, flow_id: str) -> dict[str, Any]:
        async with self.db.read() as conn:
            row = await self._row(conn, flow_id)
            prompts = (await conn.execute(select(t.prompts).where(t.prompts.c.flow_id == flow_id)
                                          .order_by(t.prompts.c.name))).all()
            versions = (await conn.execute(
                select(t.flow_versions.c.version, t.flow_versions.c.published_at,
                       t.flow_versions.c.published_by)
                .where(t.flow_versions.c.flow_id == flow_id)
                .order_by(t.flow_versions.c.version.desc()))).all()
            nums = (await conn.execute(select(t.numbers.c.number)
                                       .where(t.numbers.c.flow_id == flow_id))).all()
        return {
            "id": row.id, "name": row.name, "description": row.description,
            "definition": row.draft, "published_version": row.published_version,
            "created_at": row.created_at, "updated_at": row.updated_at,
            "prompts": [{"name": p.name, "filename": p.filename, "duration_s": p.duration_s,
                         "size": p.size, "created_at": p.created_at} for p in prompts],
            "versions": [{"version": v.version, "published_at": v.published_at,
                          "published_by": v.published_by} for v in versions],
            "numbers": sorted(n.number for n in nums),
        }

    def parse(self, definition: Any) -> None:
        """Refuse a draft whose shape is wrong (422 with every problem); structural problems
        (unreachable nodes …) are allowed in a draft and reported, but block publishing."""
        parsed, problems = validation_problems(definition)
        if parsed is None:
            raise FlowInvalid("the flow definition is not valid",
                              details={"problems": [p.as_dict() for p in problems]})

    async def create_flow(self, name: str, description: str, definition: dict[str, Any],
                          actor: str | None) -> str:
        self.parse(definition)
        fid = new_id()
        now = self.now()
        async with self.db.read() as conn:
            if (await conn.execute(select(t.flows.c.id).where(t.flows.c.name == name))).first():
                raise IvrConflict(f"an IVR flow named {name!r} exists")
        async with self.db.tx() as tx:
            await tx.conn.execute(t.flows.insert().values(
                id=fid, name=name, description=description, draft=definition,
                published_version=None, created_at=now, updated_at=now, updated_by=actor))
            self.audit(tx, fid, "create", actor)
        return fid

    async def update_flow(self, flow_id: str, changes: dict[str, Any], actor: str | None) -> None:
        values: dict[str, Any] = {}
        if "definition" in changes:
            self.parse(changes["definition"])
            values["draft"] = changes["definition"]
        async with self.db.read() as conn:
            await self._row(conn, flow_id)
            if "name" in changes:
                other = (await conn.execute(select(t.flows.c.id).where(
                    t.flows.c.name == changes["name"], t.flows.c.id != flow_id))).first()
                if other:
                    raise IvrConflict(f"an IVR flow named {changes['name']!r} exists")
        for key in ("name", "description"):
            if key in changes:
                values[key] = changes[key]
        values["updated_at"] = self.now()
        values["updated_by"] = actor
        async with self.db.tx() as tx:
            await tx.conn.execute(update(t.flows).where(t.flows.c.id == flow_id).values(**values))
            self.audit(tx, flow_id, "update", actor)

    async def delete_flow(self, flow_id: str, actor: str | None) -> None:
        async with self.db.read() as conn:
            await self._row(conn, flow_id)
        async with self.db.tx() as tx:
            await tx.conn.execute(delete(t.numbers).where(t.numbers.c.flow_id == flow_id))
            await tx.conn.execute(delete(t.prompts).where(t.prompts.c.flow_id == flow_id))
            await tx.conn.execute(delete(t.flow_versions).where(t.flow_versions.c.flow_id == flow_id))
            await tx.conn.execute(delete(t.flows).where(t.flows.c.id == flow_id))
            self.audit(tx, flow_id, "delete", actor)
        await asyncio.to_thread(_remove_tree, self.audio_dir / flow_id)

    async def problems(self, flow_id: str, definition: dict[str, Any] | None, *,
                       calendars: Iterable[str], queues: Iterable[str],
                       agents: Iterable[str] | None = None) -> list[Problem]:
        """``agents`` (ids): when given, agents named by voicemail and transfer nodes must be among them."""
        async with self.db.read() as conn:
            row = await self._row(conn, flow_id)
            files = [r.name for r in (await conn.execute(
                select(t.prompts.c.name).where(t.prompts.c.flow_id == flow_id))).all()]
        data = row.draft if definition is None else definition
        parsed, problems = validation_problems(data, prompt_files=files, calendars=calendars)
        if parsed is not None:
            known = set(queues)
            staff = None if agents is None else set(agents)
            for node_id, node in parsed.nodes.items():
                if staff is not None:
                    aid = node.target if node.type == "transfer" and node.kind == "agent" else \
                        getattr(node, "agent_id", None) if node.type == "voicemail" else None
                    if aid and aid not in staff:
                        field = "target" if node.type == "transfer" else "agent_id"
                        problems.append(Problem(node_id, field, f"unknown agent {aid!r}", "unknown_agent",
                                                {"agent": aid}))
                qid = getattr(node, "queue_id", None)
                if node.type in ("queue", "callback") and qid and qid not in known:
                    problems.append(Problem(node_id, "queue_id", f"unknown queue {qid!r}", "unknown_queue",
                                            {"queue": qid}))
                if node.type == "transfer" and node.kind == "queue" and node.target not in known:
                    problems.append(Problem(node_id, "target", f"unknown queue {node.target!r}", "unknown_queue",
                                            {"queue": node.target}))
        return problems

    async def publish(self, flow_id: str, actor: str | None, *, calendars: Iterable[str],
                      queues: Iterable[str], agents: Iterable[str] | None = None) -> int:
        problems = await self.problems(flow_id, None, calendars=calendars, queues=queues, agents=agents)
        if problems:
            raise FlowInvalid(f"the flow has {len(problems)} problem(s); fix them to publish",
                              details={"problems": [p.as_dict() for p in problems]})
        async with self.db.tx() as tx:
            row = await self._row(tx.conn, flow_id)
            current = (await tx.conn.execute(select(func.max(t.flow_versions.c.version)).where(
                t.flow_versions.c.flow_id == flow_id))).scalar() or 0
            version = int(current) + 1
            await tx.conn.execute(t.flow_versions.insert().values(
                id=new_id(), flow_id=flow_id, version=version, definition=row.draft,
                published_at=self.now(), published_by=actor))
            await tx.conn.execute(update(t.flows).where(t.flows.c.id == flow_id)
                                  .values(published_version=version))
            self.audit(tx, flow_id, f"publish v{version}", actor)
        return version

    async def version(self, flow_id: str, version: int) -> dict[str, Any]:
        async with self.db.read() as conn:
            await self._row(conn, flow_id)
            row = (await conn.execute(select(t.flow_versions).where(
                t.flow_versions.c.flow_id == flow_id, t.flow_versions.c.version == version))).first()
        if row is None:
            raise FlowNotFound(f"flow {flow_id} has no version {version}")
        return {"version": row.version, "definition": row.definition,
                "published_at": row.published_at, "published_by": row.published_by}

    # ------------------------------------------------------------------ prompts

    async def save_prompt(self, flow_id: str, name: str, filename: str, data: bytes,
                          actor: str | None) -> dict[str, Any]:
        if not PROMPT_NAME.match(name):
            raise BadRequest("a prompt name is 1-64 letters, digits, _ . -")
        async with self.db.read() as conn:
            await self._row(conn, flow_id)
        pcm, duration = await asyncio.to_thread(convert_prompt, data)  # raises before storing
        path = self.audio_dir / flow_id / f"{name}.wav"
        await asyncio.to_thread(write_wav, path, pcm)
        size = len(pcm) + 44
        now = self.now()
        async with self.db.tx() as tx:
            existing = (await tx.conn.execute(select(t.prompts.c.id).where(
                t.prompts.c.flow_id == flow_id, t.prompts.c.name == name))).first()
            values = {"filename": filename[:255] or f"{name}.wav", "path": str(path),
                      "duration_s": round(duration, 3), "size": size, "created_at": now,
                      "uploaded_by": actor}
            if existing:
                await tx.conn.execute(update(t.prompts).where(t.prompts.c.id == existing.id)
                                      .values(**values))
            else:
                await tx.conn.execute(t.prompts.insert().values(id=new_id(), flow_id=flow_id,
                                                                name=name, **values))
            self.audit(tx, flow_id, f"prompt {name} uploaded", actor)
        return {"name": name, "filename": values["filename"], "duration_s": values["duration_s"],
                "size": size, "created_at": now}

    async def prompt_file(self, flow_id: str, name: str) -> Path:
        async with self.db.read() as conn:
            row = (await conn.execute(select(t.prompts.c.path).where(
                t.prompts.c.flow_id == flow_id, t.prompts.c.name == name))).first()
        if row is None or not await asyncio.to_thread(Path(row.path).is_file):
            raise FlowNotFound(f"flow {flow_id} has no prompt {name!r}")
        return Path(row.path)

    async def delete_prompt(self, flow_id: str, name: str, actor: str | None) -> None:
        path = await self.prompt_file(flow_id, name)
        async with self.db.read() as conn:
            row = await self._row(conn, flow_id)
            published = None
            if row.published_version is not None:
                published = (await conn.execute(select(t.flow_versions.c.definition).where(
                    t.flow_versions.c.flow_id == flow_id,
                    t.flow_versions.c.version == row.published_version))).scalar()
        if published is not None and name in used_prompt_files(published):
            raise IvrConflict(f"prompt {name!r} is used by the published version; publish a "
                              "version without it first")
        async with self.db.tx() as tx:
            await tx.conn.execute(delete(t.prompts).where(t.prompts.c.flow_id == flow_id,
                                                          t.prompts.c.name == name))
            self.audit(tx, flow_id, f"prompt {name} deleted", actor)
        await asyncio.to_thread(path.unlink, True)

    # ------------------------------------------------------------------ numbers

    async def list_numbers(self) -> list[dict[str, Any]]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(t.numbers.c.number, t.numbers.c.flow_id,
                                              t.flows.c.name).join(t.flows)
                                       .order_by(t.numbers.c.number))).all()
        return [{"number": r.number, "flow_id": r.flow_id, "flow_name": r.name} for r in rows]

    async def route_number(self, number: str, flow_id: str, actor: str | None) -> str:
        num = normalise_number(number)
        if not NUMBER.match(num):
            raise BadRequest(f"{number!r} is not a dialled number")
        async with self.db.read() as conn:
            await self._row(conn, flow_id)
        async with self.db.tx() as tx:
            await tx.conn.execute(delete(t.numbers).where(t.numbers.c.number == num))
            await tx.conn.execute(t.numbers.insert().values(number=num, flow_id=flow_id,
                                                            created_at=self.now()))
            self.audit(tx, flow_id, f"number {num} routed", actor)
        return num

    async def unroute_number(self, number: str, actor: str | None) -> None:
        num = normalise_number(number)
        async with self.db.tx() as tx:
            row = (await tx.conn.execute(select(t.numbers).where(t.numbers.c.number == num))).first()
            if row is None:
                raise FlowNotFound(f"number {num} is not routed to a flow")
            await tx.conn.execute(delete(t.numbers).where(t.numbers.c.number == num))
            self.audit(tx, row.flow_id, f"number {num} unrouted", actor)

    # ------------------------------------------------------------------ what calls use

    async def published(self) -> list[dict[str, Any]]:
        """Every published flow with its numbers and prompt files (for the in-memory routing)."""
        async with self.db.read() as conn:
            rows = (await conn.execute(
                select(t.flows.c.id, t.flows.c.name, t.flows.c.published_version,
                       t.flow_versions.c.definition)
                .join(t.flow_versions, (t.flow_versions.c.flow_id == t.flows.c.id)
                      & (t.flow_versions.c.version == t.flows.c.published_version)))).all()
            nums = (await conn.execute(select(t.numbers))).all()
            prompts = (await conn.execute(select(t.prompts.c.flow_id, t.prompts.c.name,
                                                 t.prompts.c.path))).all()
        out = []
        for r in rows:
            out.append({"id": r.id, "name": r.name, "version": r.published_version,
                        "definition": r.definition,
                        "numbers": [n.number for n in nums if n.flow_id == r.id],
                        "audio": {audio_key(PromptRef(file=p.name)): p.path
                                  for p in prompts if p.flow_id == r.id}})
        return out


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


__all__ = ["BadRequest", "FlowNotFound", "IvrConflict", "IvrStore",
           "normalise_number", "static_tts", "used_prompt_files"]
