"""One Alembic history in several folders (issue #15): the hub's revisions and the merges that join
branches in ``hub/db/migrations/versions``, each component's in its own ``migrations`` folder, all
listed in ``[tool.alembic]`` of pyproject.toml (``version_locations``). The revisions kept their ids
when they moved, so a database migrated when they all lived in one folder is at the head of the
new layout with nothing to do."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, text

from hub.db.engine import alembic_config, make_engine, migrate

pytestmark = pytest.mark.storage  # SQLite and PostgreSQL (tests/conftest.py)

ROOT = Path(__file__).resolve().parents[1]
HUB_VERSIONS = ROOT / "hub" / "db" / "migrations" / "versions"

#: revision → down revision(s) as they were in the one-folder layout (hub/db/migrations/versions
#: at 752516a); databases in the field carry these ids in ``alembic_version``
OLD_LAYOUT: dict[str, str | tuple[str, ...] | None] = {
    "0001": None,
    "0002": "0001",
    "0003_fax": "0002", "0003_ivr": "0002", "0003_kb": "0002", "0003_sms": "0002",
    "0003_timers": "0002", "0003_voice": "0002", "0003_workflows": "0002",
    "0004": ("0003_timers", "0003_workflows", "0003_kb", "0003_ivr", "0003_voice", "0003_sms", "0003_fax"),
    "0005_email_bulk": "0004", "0005_transcripts": "0004",
    "0006": ("0005_email_bulk", "0005_transcripts"),
    "0007_callback_task": "0006", "0007_recording_settings": "0006",
    "0008": ("0007_callback_task", "0007_recording_settings"),
    "0009_event_consumers": "0008",
}
OLD_HEAD = "0009_event_consumers"
#: revisions added after the move (each in its owner's folder)
ADDED_SINCE: dict[str, str | tuple[str, ...] | None] = {
    "0010_session_details": "0009_event_consumers",
    "0011_attachment_route": "0010_session_details",
    "0012_contact_erasure": "0011_attachment_route",
    "0013_user_language": "0012_contact_erasure",
    "0014_text_templates": "0013_user_language",
    "0015_chat_identity": "0014_text_templates",
    "0016_call_history": "0015_chat_identity",
    "0016_notification_codes": "0016_call_history",
    "0016_transcript_status": "0016_notification_codes",
}

#: which folder each revision lives in now
OWNERS = {
    "hub/db/migrations/versions": {"0001", "0003_timers", "0004", "0006", "0008", "0009_event_consumers",
                                   "0010_session_details", "0011_attachment_route", "0012_contact_erasure",
                                   "0013_user_language", "0014_text_templates",
                                   "0015_chat_identity"},
    "channels/email/migrations": {"0002", "0005_email_bulk"},
    "channels/sms/migrations": {"0003_sms"},
    "channels/fax/migrations": {"0003_fax"},
    "voice/ivr/migrations": {"0003_ivr"},
    "voice/calls/migrations": {"0003_voice", "0005_transcripts", "0007_recording_settings",
                               "0016_call_history", "0016_transcript_status"},
    "kb/migrations": {"0003_kb"},
    "workflows/migrations": {"0003_workflows", "0007_callback_task", "0016_notification_codes"},
}


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def test_every_version_location_exists_and_holds_only_revisions() -> None:
    locations = [Path(p) for p in alembic_config("sqlite://").get_version_locations_list() or []]
    assert [p.relative_to(ROOT).as_posix() for p in locations] == list(OWNERS)
    script = _script()
    for folder in locations:
        files = {p.name for p in folder.glob("*.py")}
        owned = {r.revision for r in script.walk_revisions() if Path(r.path).parent == folder}
        assert len(files) == len(owned), f"{folder}: a .py file that is not a revision"
        assert owned == OWNERS[folder.relative_to(ROOT).as_posix()]


def test_revision_ids_and_their_order_are_those_of_the_one_folder_layout() -> None:
    script = _script()
    found = {r.revision: r.down_revision for r in script.walk_revisions()}
    norm = {k: tuple(v) if isinstance(v, list | tuple) else v for k, v in found.items()}
    assert norm == {**OLD_LAYOUT, **ADDED_SINCE}
    assert script.get_heads() == ["0016_transcript_status"]


def test_merge_revisions_stay_with_the_hub() -> None:
    merges = [r for r in _script().walk_revisions() if r.is_merge_point]
    assert {r.revision for r in merges} == {"0004", "0006", "0008"}
    assert all(Path(r.path).parent == HUB_VERSIONS for r in merges)


@pytest.fixture
def old_layout(tmp_path: Path) -> Path:
    """The migrations as they were laid out before: the environment and every revision file (the
    same files, moved unchanged) in one ``versions`` folder."""
    old = tmp_path / "old_migrations"
    added = [f"{rev}.py" for rev in ADDED_SINCE]
    shutil.copytree(HUB_VERSIONS.parent, old, ignore=shutil.ignore_patterns("__pycache__", *added))
    for folder in OWNERS:
        for path in (ROOT / folder).glob("*.py"):
            if path.name not in added:
                shutil.copy2(path, old / "versions" / path.name)
    return old


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path, database_url: str) -> str:
    """An empty database (not a copy of the migrated template)."""
    if database_url:
        return str(request.getfixturevalue("postgres").new_database(migrated=False))
    return f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"


async def test_a_database_at_the_old_layouts_head_has_only_the_newer_revisions_to_do(
        old_layout: Path, db_url: str) -> None:
    old_cfg = Config()
    old_cfg.set_main_option("script_location", str(old_layout))
    old_cfg.set_main_option("sqlalchemy.url", db_url)
    assert len(list(ScriptDirectory.from_config(old_cfg).walk_revisions())) == len(OLD_LAYOUT)

    def upgrade_old(conn: Connection) -> None:
        old_cfg.attributes["connection"] = conn
        command.upgrade(old_cfg, "heads")

    def heads(conn: Connection) -> set[str]:
        return set(MigrationContext.configure(conn).get_current_heads())

    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(heads) == set()
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_old)
        async with engine.connect() as conn:
            assert await conn.run_sync(heads) == {OLD_HEAD}

        # the new layout up to the old head: reads, and changes nothing (nothing moved is re-run)
        statements: list[str] = []

        def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement.strip().split(None, 1)[0].upper())

        def upgrade_new_to_old_head(conn: Connection) -> None:
            cfg = alembic_config(db_url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, OLD_HEAD)

        event.listen(engine.sync_engine, "before_cursor_execute", record)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(upgrade_new_to_old_head)
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", record)
        writes = [s for s in statements if s in {"CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE"}]
        assert statements and not writes
        async with engine.connect() as conn:
            assert await conn.run_sync(heads) == {OLD_HEAD}
        # the hub's own migrate then runs what was added since, to the new head
        await migrate(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(heads) == set(_script().get_heads())
            assert (await conn.execute(text("SELECT count(*) FROM alembic_version"))).scalar() == 1
    finally:
        await engine.dispose()


async def test_an_empty_database_migrates_to_head_on_the_new_layout(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads()) == ()
        await migrate(engine)
        async with engine.connect() as conn:
            current = await conn.run_sync(lambda c: set(MigrationContext.configure(c).get_current_heads()))
        assert current == set(_script().get_heads())
    finally:
        await engine.dispose()


async def test_recordings_stored_before_0011_are_served_only_by_their_own_route(db_url: str, tmp_path: Path) -> None:
    """``0011_attachment_route`` gives the attachments of existing call recordings their route (so
    ``GET /api/attachments/{id}`` stops serving them) and leaves every other attachment alone."""
    from hub.db import tables as t
    from tests.voice.calls.recording_seed import recording_rows
    from voice.calls.tables import calls as t_calls
    from voice.calls.tables import recordings as t_rec

    seeded = recording_rows(tmp_path, caller="+4930111222", agent_id=None, started_at=1.0, duration=1.0)
    attachment = {k: v for k, v in seeded.attachment.items() if k != "route"}  # no such column yet
    other = {**attachment, "id": "a-photo", "filename": "meter.png", "content_type": "image/png"}

    def upgrade(conn: Connection, to: str) -> None:
        cfg = alembic_config(db_url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, to)

    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade, "0010_session_details")
            await conn.execute(t_calls.insert().values(**seeded.call))
            for row in (attachment, other):
                await conn.execute(text(f"INSERT INTO attachments ({', '.join(row)}) "
                                        f"VALUES ({', '.join(':' + k for k in row)})"), row)
            await conn.execute(t_rec.insert().values(**seeded.recording))
        await migrate(engine)
        async with engine.connect() as conn:
            routes = dict((await conn.execute(text("SELECT id, route FROM attachments"))).all())
        assert routes == {attachment["id"]: f"/api/voice/recordings/{seeded.recording['id']}/audio",
                          "a-photo": None}
        assert "route" in t.attachments.c
    finally:
        await engine.dispose()
