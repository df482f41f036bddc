"""KB-1/KB-2 through the HTTP API on a real hub (SQLite and PostgreSQL): articles, versions,
permissions, search, import/export, favourites, feedback, hot documents and gaps."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import zipfile
from typing import Any

from tests.support.hub import ApiClient, running_hub


async def ready(client: ApiClient) -> dict[str, Any]:
    async with asyncio.timeout(90):
        while True:
            status = await client.ok("GET", "/api/kb/status")
            if status["ready"]:
                return status
            await asyncio.sleep(0.2)


async def new_article(km: ApiClient, **fields: Any) -> dict[str, Any]:
    body = {"question": "How do I change my tariff?", "alternatives": ["switch to another plan"],
            "answer_html": "<p>Choose <b>Tariff</b> in the app.</p>", "category": "Billing",
            "product": "Gas supply", "keywords": ["tariff"], **fields}
    return await km.ok("POST", "/api/kb/articles", body, status=201)


async def wait_job(client: ApiClient, job_id: str) -> dict[str, Any]:
    async with asyncio.timeout(90):
        while True:
            job = await client.ok("GET", f"/api/kb/jobs/{job_id}")
            if job["status"] != "running":
                return job
            await asyncio.sleep(0.1)


async def test_article_crud_versions_diff_and_restore(hub) -> None:  # type: ignore[no-untyped-def]
    km = await hub.client("km")
    art = await new_article(km, answer_html='<p onclick="x()">Choose <script>alert(1)</script>'
                                            '<a href="javascript:evil()">Tariff</a></p>')
    assert art["status"] == "draft" and art["version"] == 1 and art["owner_id"] == km.user["id"]
    assert "script" not in art["answer_html"] and "onclick" not in art["answer_html"]
    assert "javascript" not in art["answer_html"] and art["answer_text"] == "Choose Tariff"
    v2 = await km.ok("PATCH", f"/api/kb/articles/{art['id']}",
                     {"question": "How can I change my gas tariff?", "version": 1,
                      "alternatives": ["switch to another plan", "cheaper tariff"]})
    assert v2["version"] == 2
    stale = await km.patch(f"/api/kb/articles/{art['id']}", {"question": "x?", "version": 1})
    assert stale.status_code == 409 and stale.json()["code"] == "conflict"
    versions = await km.ok("GET", f"/api/kb/articles/{art['id']}/versions")
    assert [(v["version"], v["action"]) for v in versions] == [(2, "edited"), (1, "created")]
    diff = await km.ok("GET", f"/api/kb/articles/{art['id']}/diff?from=1&to=2")
    changes = {c["field"]: c for c in diff["changes"]}
    assert set(changes) == {"question", "alternatives"}
    assert ["insert", "can "] in changes["question"]["ops"]
    assert changes["alternatives"]["added"] == ["cheaper tariff"]
    restored = await km.ok("POST", f"/api/kb/articles/{art['id']}/versions/1/restore")
    assert restored["version"] == 3 and restored["question"] == "How do I change my tariff?"
    assert (await km.ok("GET", f"/api/kb/articles/{art['id']}/versions"))[0]["action"] == "restored"
    assert (await km.get(f"/api/kb/articles/{art['id']}/versions/9")).status_code == 404
    r = await km.delete(f"/api/kb/articles/{art['id']}")
    assert r.status_code == 204
    assert (await km.get(f"/api/kb/articles/{art['id']}")).status_code == 404
    bad = await km.post("/api/kb/articles", {"question": "", "answer_html": "x"})
    assert bad.status_code == 422
    bad = await km.post("/api/kb/articles", {"question": "q?", "colour": "red"})
    assert bad.status_code == 422


async def test_only_knowledge_managers_publish(hub) -> None:  # type: ignore[no-untyped-def]
    km, admin, agent = (await hub.client("km"), await hub.client("admin"),
                        await hub.client("agent1"))
    await ready(km)
    assert (await agent.post("/api/kb/articles", {"question": "q?"})).status_code == 403
    draft = await new_article(admin, question="How do I get a paper bill by post?",
                              alternatives=["send my invoice on paper"])
    assert (await admin.post(f"/api/kb/articles/{draft['id']}/publish")).status_code == 403
    r = await admin.post("/api/kb/articles", {"question": "x?", "status": "published"})
    assert r.status_code == 403
    # agents neither see nor find drafts
    assert (await agent.get(f"/api/kb/articles/{draft['id']}")).status_code == 404
    found = await agent.ok("GET", "/api/kb/search?q=paper bill by post")
    assert draft["id"] not in [h["article_id"] for h in found["hits"]]
    assert (await agent.get("/api/kb/search?q=paper&status=draft")).status_code == 403
    published = await km.ok("POST", f"/api/kb/articles/{draft['id']}/publish")
    assert published["status"] == "published" and published["published_at"]
    found = await agent.ok("GET", "/api/kb/search?q=can I receive my bill on paper")
    assert found["hits"][0]["article_id"] == draft["id"]
    # a published article is changed only by someone who may publish
    r = await admin.patch(f"/api/kb/articles/{draft['id']}", {"question": "changed?"})
    assert r.status_code == 403
    assert (await admin.delete(f"/api/kb/articles/{draft['id']}")).status_code == 403
    assert (await agent.post(f"/api/kb/articles/{draft['id']}/archive")).status_code == 403
    archived = await km.ok("POST", f"/api/kb/articles/{draft['id']}/archive")
    assert archived["status"] == "archived"
    found = await agent.ok("GET", "/api/kb/search?q=can I receive my bill on paper")
    assert draft["id"] not in [h["article_id"] for h in found["hits"]]
    assert (await agent.get(f"/api/kb/articles/{draft['id']}/versions")).status_code == 403
    assert (await agent.get("/api/kb/gaps")).status_code == 403
    assert (await (await hub.client()).get("/api/kb/search?q=gas")).status_code == 401


async def test_search_filters_highlights_and_bad_input(hub) -> None:  # type: ignore[no-untyped-def]
    agent = await hub.client("agent1")
    await ready(agent)
    res = await agent.ok("GET", "/api/kb/search?q=I can smell gas in the kitchen&limit=3")
    top = res["hits"][0]
    assert top["question"] == "I smell gas at home. What should I do?"
    assert top["category"] == "Emergencies" and "<strong>" in top["answer_html"]
    assert 0 < top["confidence"] <= 1 and res["confident"] is True
    assert "<mark>" in top["highlights"]["question"]
    res = await agent.ok("GET", "/api/kb/search?q=how do I pay&category=Billing&limit=10")
    assert res["hits"] and {h["category"] for h in res["hits"]} == {"Billing"}
    res = await agent.ok("GET", "/api/kb/search?q=燃气泄漏怎么处理")
    assert res["hits"][0]["question"] == "燃气泄漏怎么办？" and res["hits"][0]["mode"] == "lexical"
    unknown = await agent.ok("GET", "/api/kb/search?q=what is the capital of Peru")
    assert unknown["confident"] is False
    for query, code in [("", "empty_query"), ("%20%20", "empty_query"),
                        ("x" * 1001, "query_too_long"), ("gas&colour=red", "unknown_filter"),
                        ("gas&limit=0", "validation_error"), ("gas&limit=abc", "validation_error")]:
        r = await agent.get(f"/api/kb/search?q={query}")
        assert r.status_code == 422, (query, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == code, (query, r.json())


async def test_import_keeps_good_rows_reports_bad_rows_and_export_round_trips(hub) -> None:  # type: ignore[no-untyped-def]
    km = await hub.client("km")
    await ready(km)
    text = ("question,alternatives,answer,category,product,keywords,status\n"
            "Can I get a refund of my deposit?,deposit back | return my deposit,"
            "\"<p>Yes, within 30 days.</p>\",Billing,Deposit,deposit,published\n"
            ",no question here,answer,Billing,,,\n"
            "Where is my nearest service centre?,find an office,See the map.,General,,,gone\n"
            "How do I read a smart meter display?,meter screen,\"Press the button once.\n\n"
            "Then read the total.\",Meters,Smart meter,\"display, screen\",\n")
    r = await km.http.post("/api/kb/import", files={"file": ("faq.csv", text.encode(), "text/csv")})
    assert r.status_code == 202, r.text
    job = await wait_job(km, r.json()["id"])
    assert job["status"] == "done" and job["created"] == 2 and job["total"] == 4
    assert [(e["row"], e["reason"].split(":")[0]) for e in job["errors"]] == [
        (3, "question"), (4, "status")]
    agent = await hub.client("agent1")
    found = await agent.ok("GET", "/api/kb/search?q=how to get my deposit back&limit=1")
    assert found["hits"][0]["question"] == "Can I get a refund of my deposit?"
    meter = await km.ok("GET", "/api/kb/articles?q=smart meter display")
    item = meter["items"][0]
    assert item["status"] == "draft" and item["keywords"] == ["display", "screen"]
    assert item["answer_html"] == "<p>Press the button once.</p><p>Then read the total.</p>"
    # JSON with a bad item, and a Markdown zip with a bad file
    data = json.dumps([{"question": "Is there a fee for paper bills?", "answer_html": "No."},
                       "not an object", {"question": "x", "alternatives": 5}]).encode()
    r = await km.http.post("/api/kb/import", files={"file": ("a.json", data, "application/json")})
    job = await wait_job(km, r.json()["id"])
    assert job["created"] == 1 and [e["row"] for e in job["errors"]] == [2, 3]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("faq/boiler.md", "---\ncategory: Repairs\nalternatives: [boiler makes noise]\n"
                                    "---\n# Why is my boiler noisy?\n\nBleed the **radiators**.\n")
        z.writestr("faq/broken.md", "---\nquestion: [unclosed\n---\nbody")
        z.writestr("faq/readme.txt", "not markdown")
    r = await km.http.post("/api/kb/import", files={"file": ("faq.zip", buf.getvalue(), "application/zip")})
    job = await wait_job(km, r.json()["id"])
    assert job["created"] == 1 and {e["row"] for e in job["errors"]} == {"faq/broken.md", "faq/readme.txt"}
    boiler = (await km.ok("GET", "/api/kb/articles?q=boiler noisy"))["items"][0]
    assert boiler["answer_html"] == "<p>Bleed the <strong>radiators</strong>.</p>"
    # whole-file errors change nothing
    for name, body in [("x.csv", b"foo,bar\n1,2\n"), ("x.json", b"{nope"), ("x.zip", b"PK nope"),
                       ("x.txt", b"question\nq")]:
        r = await km.http.post("/api/kb/import", files={"file": (name, body, "text/plain")})
        assert r.status_code == 422 and r.json()["code"] in ("bad_import_file",), r.text
    assert (await (await hub.client("agent1")).http.post(
        "/api/kb/import", files={"file": ("a.csv", text.encode(), "text/csv")})).status_code == 403
    # export → import of the export updates in place, creates nothing
    export = await km.get("/api/kb/export?format=csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    total = len(rows)
    assert {"Can I get a refund of my deposit?", "Why is my boiler noisy?"} <= {r["question"] for r in rows}
    r = await km.http.post("/api/kb/import", files={"file": ("faq.csv", export.content, "text/csv")})
    job = await wait_job(km, r.json()["id"])
    assert job["errors"] == [] and job["created"] == 0 and job["updated"] == total
    md = await km.get("/api/kb/export?format=markdown")
    assert len(zipfile.ZipFile(io.BytesIO(md.content)).namelist()) == total
    as_json = await km.ok("GET", "/api/kb/export?format=json")
    assert len(as_json["articles"]) == total


async def test_favourites_feedback_hot_and_gaps(hub) -> None:  # type: ignore[no-untyped-def]
    agent, km = await hub.client("agent1"), await hub.client("km")
    await ready(agent)
    hit = (await agent.ok("GET", "/api/kb/search?q=how do I read my meter"))["hits"][0]
    aid = hit["article_id"]
    assert (await agent.ok("PUT", f"/api/kb/articles/{aid}/favourite"))["favourite"] is True
    favs = await agent.ok("GET", "/api/kb/favourites")
    assert [a["id"] for a in favs["items"]] == [aid]
    assert (await agent.ok("GET", f"/api/kb/articles/{aid}"))["favourite"] is True
    await agent.ok("DELETE", f"/api/kb/articles/{aid}/favourite")
    assert (await agent.ok("GET", "/api/kb/favourites"))["items"] == []
    fb = await agent.ok("POST", f"/api/kb/articles/{aid}/feedback",
                        {"helpful": False, "comment": "Does not mention the red digits"}, status=201)
    assert fb["stats"]["not_helpful"] == 1
    for kind in ("inserted", "inserted", "viewed"):
        r = await agent.post(f"/api/kb/articles/{aid}/usage", {"kind": kind, "conversation_id": "c1"})
        assert r.status_code == 204
    assert (await agent.post(f"/api/kb/articles/{aid}/usage", {"kind": "liked"})).status_code == 422
    hot = await agent.ok("GET", "/api/kb/hot?days=1")
    assert hot[0]["article_id"] == aid and hot[0]["uses"] == {"inserted": 2, "viewed": 1}
    report = await km.ok("GET", "/api/kb/feedback")
    row = next(a for a in report["articles"] if a["article_id"] == aid)
    assert (row["helpful"], row["not_helpful"], row["used"]) == (0, 1, 2)
    assert report["comments"][0]["comment"] == "Does not mention the red digits"
    # gaps: the same question counted, not duplicated; resolved by adding it as a phrasing
    kb = hub.services.ports.kb
    await kb.record_gap("Do you sell gas heaters?", conversation_id=None, channel="chat")
    await agent.ok("POST", "/api/kb/gaps", {"question": "do you SELL gas heaters", "channel": "voice"},
                   status=201)
    gaps = await km.ok("GET", "/api/kb/gaps")
    gap = next(g for g in gaps if "heaters" in g["question"])
    assert gap["count"] == 2 and gap["channels"] == {"chat": 1, "voice": 1}
    created = await km.ok("POST", f"/api/kb/gaps/{gap['id']}/resolve",
                          {"create": {"answer_html": "No, ask a certified installer."}})
    assert created["status"] == "resolved" and created["article_id"]
    article = await km.ok("GET", f"/api/kb/articles/{created['article_id']}")
    assert article["question"] == "do you SELL gas heaters" and article["status"] == "draft"
    assert gap["id"] not in [g["id"] for g in await km.ok("GET", "/api/kb/gaps")]


async def test_index_is_reconciled_from_the_database_on_start(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    async with running_hub(data) as hub:
        km = await hub.client("km")
        await ready(km)
        art = await new_article(km, status="published")
    async with running_hub(data) as hub:
        km = await hub.client("km")
        status = await ready(km)
        assert status["reconcile"]["mode"] == "current" and status["indexed"] == status["reconcile"]["articles"]
        # change the database behind the index's back (as a crash after commit would)
        async with hub.services.db.tx() as tx:
            from sqlalchemy import update

            from kb.tables import kb_articles
            await tx.conn.execute(update(kb_articles).where(kb_articles.c.id == art["id"])
                                  .values(question="How do I switch my meter to prepayment?"))
    for suffix in ("", "-wal", "-shm"):
        (data / "kb" / f"index.sqlite.vectors.json{suffix}").unlink(missing_ok=True)
    async with running_hub(data) as hub:
        km = await hub.client("km")
        status = await ready(km)
        assert status["reconcile"] == {"mode": "reconciled", "articles": status["indexed"],
                                       "changed": 1, "deleted": 0}
        found = await km.ok("GET", "/api/kb/search?q=prepayment meter&limit=1")
        assert found["hits"][0]["article_id"] == art["id"]


async def test_an_article_owner_must_be_a_user(hub) -> None:  # type: ignore[no-untyped-def]
    km = await hub.client("km")
    sup = await hub.client("supervisor")
    assert sup.user is not None
    bad = await km.post("/api/kb/articles", {"question": "Who owns this?", "answer_html": "<p>x</p>",
                                             "owner_id": "no-such-user"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "owner_id"]
    art = await new_article(km, owner_id=sup.user["id"])
    assert art["owner_id"] == sup.user["id"]
    moved = await km.patch(f"/api/kb/articles/{art['id']}", {"owner_id": "no-such-user", "version": 1})
    assert moved.status_code == 422 and moved.json()["errors"][0]["loc"] == ["body", "owner_id"]
    kept = await km.ok("GET", f"/api/kb/articles/{art['id']}")
    assert kept["owner_id"] == sup.user["id"] and kept["version"] == 1
