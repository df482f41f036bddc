"""The recordings API (VOICE-5): search filters and paging, who may see which recording (supervisor:
all; agent: only the calls they answered; others: none), the download (bytes, disposition, range
requests, audit trail) and the per-queue recording choice. Recordings are seeded as the call
service stores them (tests/voice/calls/recording_seed.py); the real call path is in
test_recordings_calls.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.hub import running_hub
from tests.voice.calls.recording_seed import seed_recording

T0 = 1_780_000_000.0


async def test_search_filters_paging_and_permissions(voice_hub):
    s = voice_hub.services
    sup = await voice_hub.client("supervisor")
    a1 = await voice_hub.client("agent1")
    a2 = await voice_hub.client("agent2")
    id1, id2 = a1.user["id"], a2.user["id"]
    r1 = await seed_recording(s, caller="+4930111222", callee="5000", queue_id="general", agent_id=id1,
                              started_at=T0, duration=20.0)
    r2 = await seed_recording(s, caller="+4930999888", callee="5001", queue_id="general", agent_id=id2,
                              started_at=T0 + 3600, duration=4.0)
    r3 = await seed_recording(s, caller="+8610555", callee="5000", queue_id=None, agent_id=id1,
                              started_at=T0 + 7200, duration=9.5)

    async def ids(client, query: str = "") -> list[str]:
        page = await client.ok("GET", f"/api/voice/recordings{query}")
        return [row["id"] for row in page["items"]]

    rid1, rid2, rid3 = r1.recording["id"], r2.recording["id"], r3.recording["id"]
    assert await ids(sup) == [rid3, rid2, rid1]  # newest call first
    assert await ids(sup, f"?since={T0 + 1}&until={T0 + 7200}") == [rid2]
    assert await ids(sup, f"?agent_id={id1}") == [rid3, rid1]
    assert await ids(sup, "?caller=4930") == [rid2, rid1]
    assert await ids(sup, "?caller=%25") == []  # a LIKE wildcard is a literal character
    assert await ids(sup, "?callee=5001") == [rid2]
    assert await ids(sup, "?queue_id=general") == [rid2, rid1]
    assert await ids(sup, "?min_duration=5") == [rid3, rid1]
    assert await ids(sup, "?min_duration=5&max_duration=10") == [rid3]
    page = await sup.ok("GET", "/api/voice/recordings?limit=1&offset=1")
    assert page["total"] == 3 and [r["id"] for r in page["items"]] == [rid2]
    row = (await sup.ok("GET", f"/api/voice/recordings/{rid1}"))
    assert row["caller"] == "+4930111222" and row["agent_id"] == id1 and row["duration_s"] == 20.0
    assert row["queue_name"] == "General enquiries" and row["agent_name"] and row["talk_s"] == 20.0
    assert row["audio_url"] == f"/api/voice/recordings/{rid1}/audio" and row["size"] == len(r1.wav)
    for bad in (f"?since={T0}&until={T0}", "?min_duration=-1", "?min_duration=5&max_duration=2",
                "?limit=0", "?sort=caller"):
        r = await sup.http.get(f"/api/voice/recordings{bad}")
        assert r.status_code == 422, (bad, r.text)

    # an agent sees only the calls they answered, whatever the filter asks for
    assert await ids(a1) == [rid3, rid1]
    assert await ids(a1, f"?agent_id={id2}") == []
    assert (await a1.http.get(f"/api/voice/recordings/{rid2}")).status_code == 404
    assert (await a1.http.get(f"/api/voice/recordings/{rid2}/audio")).status_code == 404
    assert (await a2.http.get(f"/api/voice/recordings/{rid2}/audio")).content == r2.wav
    # no desk and no supervise: nothing; no session: 401
    km = await voice_hub.client("km")
    assert (await km.http.get("/api/voice/recordings")).status_code == 403
    assert (await km.http.get(f"/api/voice/recordings/{rid1}/audio")).status_code == 403
    anon = await voice_hub.client()
    assert (await anon.http.get("/api/voice/recordings")).status_code == 401
    assert (await anon.http.get(f"/api/voice/recordings/{rid1}/audio")).status_code == 401


async def test_download_is_the_stored_wav_with_ranges_and_is_audited(voice_hub):
    s = voice_hub.services
    sup = await voice_hub.client("supervisor")
    a1 = await voice_hub.client("agent1")
    seeded = await seed_recording(s, caller="+4930111222", agent_id=a1.user["id"], started_at=T0, duration=3.0)
    rid = seeded.recording["id"]
    r = await sup.http.get(f"/api/voice/recordings/{rid}/audio?download=1")
    assert r.status_code == 200 and r.content == seeded.path.read_bytes() == seeded.wav
    assert r.headers["content-type"] == "audio/wav"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["content-disposition"].endswith("call-%2B4930111222-1780000000.wav")
    r = await a1.http.get(f"/api/voice/recordings/{rid}/audio", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == seeded.wav[100:200]
    r = await a1.http.get(f"/api/voice/recordings/{rid}/audio")
    assert r.headers["content-disposition"].startswith("inline;") and r.content == seeded.wav
    admin = await voice_hub.client("admin")
    audit = await admin.ok("GET", "/api/audit?limit=50")
    downloads = [e for e in audit if e["type"] == "voice.recording_downloaded"]
    # every request is audited, a range request too (issue #16), newest first
    assert [(e["user_id"], e["data"]["recording_id"], e["data"]["download"], e["data"]["range"])
            for e in downloads] == [(a1.user["id"], rid, False, None), (a1.user["id"], rid, False, "bytes=100-199"),
                                    (sup.user["id"], rid, True, None)]
    seeded.path.unlink()  # the file is gone (e.g. a manual clean-up): a clear 404, not a 500
    r = await sup.http.get(f"/api/voice/recordings/{rid}/audio")
    assert r.status_code == 404 and r.json()["code"] == "not_found"


async def test_per_queue_recording_choice_is_admin_only_and_validated(voice_hub):
    sup = await voice_hub.client("supervisor")
    admin = await voice_hub.client("admin")
    listed = await sup.ok("GET", "/api/voice/queue-settings")
    general = next(q for q in listed["queues"] if q["queue_id"] == "general")
    assert listed["default"] is True and general == {"queue_id": "general", "name": "General enquiries",
                                                     "record": None, "effective": True}
    assert (await sup.http.put("/api/voice/queue-settings/general", json={"record": False})).status_code == 403
    assert (await admin.http.put("/api/voice/queue-settings/nope", json={"record": False})).status_code == 404
    assert (await admin.http.put("/api/voice/queue-settings/general", json={"record": "maybe"})).status_code == 422
    out = await admin.ok("PUT", "/api/voice/queue-settings/general", {"record": False})
    assert out["record"] is False and out["effective"] is False
    assert voice_hub.services.ports.voice.service.recording_policy.keep("general") is False
    again = await sup.ok("GET", "/api/voice/queue-settings")
    assert next(q for q in again["queues"] if q["queue_id"] == "general")["record"] is False
    out = await admin.ok("PUT", "/api/voice/queue-settings/general", {"record": None})
    assert out["record"] is None and out["effective"] is True


@pytest.mark.storage  # SQLite and PostgreSQL (tests/conftest.py)
async def test_recordings_stay_searchable_with_voice_off(tmp_path: Path, database_url: str):
    """Also the PostgreSQL run of the search query (LIKE with escapes, count, joins) and the
    per-queue table."""
    async with running_hub(tmp_path / "data", database_url) as hub:
        sup = await hub.client("supervisor")
        seeded = await seed_recording(hub.services, caller="+49_30", agent_id=None, started_at=T0, duration=1.0)
        await seed_recording(hub.services, caller="+4913", agent_id=None, started_at=T0 + 1, duration=2.0)
        page = await sup.ok("GET", "/api/voice/recordings?caller=9_3&queue_id=general&max_duration=1.5")
        assert [r["id"] for r in page["items"]] == [seeded.recording["id"]] and page["total"] == 1
        assert (await sup.http.get(page["items"][0]["audio_url"])).content == seeded.wav
        admin = await hub.client("admin")
        assert (await admin.ok("PUT", "/api/voice/queue-settings/general", {"record": False}))["effective"] is False
        assert (await admin.ok("PUT", "/api/voice/queue-settings/general", {"record": True}))["record"] is True




def _queue_settings_diffs(conn) -> list:  # type: ignore[no-untyped-def,type-arg]
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from hub.db.tables import metadata

    diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    flat = [d for group in diffs for d in (group if isinstance(group, list) else [group])]
    return [d for d in flat if "voice_queue_settings" in repr(d)]


async def test_migration_0007_creates_the_queue_settings_table_as_defined(voice_hub):
    async with voice_hub.services.db.engine.connect() as conn:
        assert await conn.run_sync(_queue_settings_diffs) == []
