"""Outbound fax rendered to a TIFF-F that libtiff's ``tiffinfo`` accepts, sent over the HylaFAX
client protocol (to the protocol server of ``support.HylafaxServer``, a fake of hfaxd: see there),
bulk fax with progress and retries, the fax-on-demand library, and OCR (tesseract chi_sim) of a
Chinese fax page made searchable in the fax store and the inbox."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from tests.channels.fax.support import SECRET, chinese_font, have_tools, make_pdf, make_tiff, post_fax, tiffinfo
from tests.support.hub import InProcessHub
from tests.support.wait import eventually

pytestmark = pytest.mark.asyncio


async def wait_jobs(client, bulk_id: str | None, within_s: float = 30) -> list[dict]:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(within_s):
        while True:
            jobs = (await client.ok("GET", "/api/fax/jobs" + (f"?bulk_id={bulk_id}" if bulk_id else "")))["items"]
            if jobs and all(j["status"] in ("sent", "failed") for j in jobs):
                return jobs
            await asyncio.sleep(0.2)


async def test_text_fax_renders_a_valid_tiff_f_and_goes_out_over_hylafax(hub, hylafax, tmp_path: Path) -> None:
    agent = await hub.client("agent1")
    doc = await agent.ok("POST", "/api/fax/documents", {
        "text": "尊敬的{name}：\n您的燃气表将于周一检修。\nDear {name}, your gas meter is serviced on Monday.",
        "values": {"name": "王先生"}}, status=201)
    assert doc["direction"] == "out" and doc["page_count"] == 1 and doc["source"] == "template"
    tif = tmp_path / "out.tif"
    tif.write_bytes((await agent.get(doc["original_url"])).content)
    info = tiffinfo(tif)
    assert "Image Width: 1728" in info and "Resolution: 204, 196 pixels/inch" in info
    assert "CCITT Group 4" in info and "min-is-white" in info

    r = await agent.post("/api/fax/send", json={"document_id": doc["id"], "numbers": ["010 6552 9988"]})
    assert r.status_code == 201, r.text
    [job] = await wait_jobs(agent, None)
    assert job["status"] == "sent" and job["to_number"] == "+861065529988"
    assert hylafax.number_of(job["gateway_ref"]) == "+861065529988"
    assert list(hylafax.files.values()) == [tif.read_bytes()]

    # a missing template value and a bad number are refused, nothing queued
    r = await agent.post("/api/fax/documents", json={"text": "Dear {name}", "values": {"x": "1"}})
    assert r.status_code == 422 and "{name}" in r.json()["detail"]
    r = await agent.post("/api/fax/send", json={"document_id": doc["id"], "numbers": ["12"]})
    assert r.status_code == 422 and r.json()["code"] == "invalid_fax_number"
    assert len((await agent.ok("GET", "/api/fax/jobs"))["items"]) == 1


async def test_pdf_bulk_fax_retries_and_reports_progress(hub, hylafax, tmp_path: Path) -> None:
    hylafax.fail_submits = 2   # the first two submissions are refused: retried
    hylafax.fail_jobs = 1      # one transmission fails: resubmitted
    sup = await hub.client("supervisor")
    pdf = make_pdf(tmp_path / "p", ["Notice of works", "Map"])
    r = await sup.http.post("/api/fax/documents", files={"file": ("notice.pdf", pdf.read_bytes(), "application/pdf")})
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["page_count"] == 2
    numbers = [f"+86106552{i:04d}" for i in range(5)]
    bulk = await sup.ok("POST", "/api/fax/send", {"document_id": doc["id"], "numbers": numbers,
                                                   "bulk_name": "Works notice"}, status=201)
    assert bulk["total"] == 5 and bulk["status"] == "running"
    jobs = await wait_jobs(sup, bulk["id"])
    assert sorted(j["to_number"] for j in jobs) == numbers
    assert all(j["status"] == "sent" for j in jobs)
    assert sum(j["attempts"] for j in jobs) >= 5 + 2
    # the bulk is marked done right after its last job's own commit (its progress step)
    info = await eventually(lambda: sup.ok("GET", f"/api/fax/bulk/{bulk['id']}"), within=10,
                            until=lambda i: i["status"] != "running")
    assert info["status"] == "done" and info["counts"]["sent"] == 5
    # agents may not bulk-send
    agent = await hub.client("agent1")
    r = await agent.post("/api/fax/send", json={"document_id": doc["id"], "numbers": numbers})
    assert r.status_code == 403
    # the store finds the sent document by a recipient's number
    found = (await sup.ok("GET", "/api/fax/faxes?number=65520003&direction=out"))["items"]
    assert [f["id"] for f in found] == [doc["id"]]

    # the numbers of a CSV upload (the shared recipients reader): bad rows refused by row, nothing
    # sent; a good list makes a bulk fax named after the form (or the file)
    bad = "传真,name\n+8610 6552 7001,A\n123,B\n,C\n".encode()
    r = await sup.http.post("/api/fax/send/csv", files={"file": ("list.csv", bad, "text/csv")},
                            data={"document_id": doc["id"], "bulk_name": "CSV works"})
    assert r.status_code == 422, r.text
    assert [(e["row"], e["number"]) for e in r.json()["errors"]] == [(2, "123"), (3, "")]
    assert len((await sup.ok("GET", "/api/fax/bulk"))["items"]) == 1
    r = await agent.post("/api/fax/send/csv", files={"file": ("list.csv", bad, "text/csv")},
                         data={"document_id": doc["id"]})
    assert r.status_code == 403
    good = b"fax\n+8610 6552 7001\n+8610 6552 7002\n"
    r = await sup.http.post("/api/fax/send/csv", files={"file": ("street.csv", good, "text/csv")},
                            data={"document_id": doc["id"]})
    assert r.status_code == 201, r.text
    assert (r.json()["name"], r.json()["total"]) == ("street.csv", 2)
    jobs = await wait_jobs(sup, r.json()["id"])
    assert sorted(j["to_number"] for j in jobs) == ["+861065527001", "+861065527002"]


async def test_fax_on_demand_library(hub, hylafax) -> None:
    admin = await hub.client("admin")
    doc = await admin.ok("POST", "/api/fax/documents", {"text": "Price list 2026"}, status=201)
    item = await admin.ok("POST", "/api/fax/library", {"code": "101", "title": "Price list",
                                                       "document_id": doc["id"]}, status=201)
    assert (await admin.ok("GET", "/api/fax/library/101"))["id"] == item["id"]
    r = await admin.post("/api/fax/library", json={"code": "101", "title": "Dup", "document_id": doc["id"]})
    assert r.status_code == 409 and r.json()["code"] == "fax_code_taken"
    # the errors name the field at fault, so the library page shows them next to it
    assert [e["loc"] for e in r.json()["errors"]] == [["body", "code"]]
    r = await admin.post("/api/fax/library", json={"code": "1a", "title": "Bad", "document_id": doc["id"]})
    assert r.status_code == 422 and [e["loc"] for e in r.json()["errors"]] == [["body", "code"]]
    r = await admin.patch("/api/fax/library/101", json={"title": "  "})
    assert r.status_code == 422 and [e["loc"] for e in r.json()["errors"]] == [["body", "title"]]
    await admin.ok("PATCH", "/api/fax/library/101", {"title": "Prices"})
    agent = await hub.client("agent1")
    assert (await agent.patch("/api/fax/library/101", json={"title": "x"})).status_code == 403

    # the library's editor (automation, no desk) previews the library's pages and the documents
    # they prepared, but not the rest of the fax store
    assert (await admin.get(f"/api/fax/faxes/{doc['id']}/pages/1?thumb=1")).headers["content-type"] == "image/png"
    assert (await admin.ok("GET", f"/api/fax/faxes/{doc['id']}"))["pages"][0]["page_no"] == 1
    draft = await admin.ok("POST", "/api/fax/documents", {"text": "Opening hours"}, status=201)
    assert (await admin.get(f"/api/fax/faxes/{draft['id']}/pages/1")).status_code == 200
    others = await agent.ok("POST", "/api/fax/documents", {"text": "A reply draft"}, status=201)
    assert (await admin.get(f"/api/fax/faxes/{others['id']}/pages/1")).status_code == 403
    assert (await admin.get(f"/api/fax/faxes/{others['id']}")).status_code == 403
    assert (await agent.get(f"/api/fax/faxes/{doc['id']}/pages/1")).status_code == 200
    km = await hub.client("km")
    assert (await km.get(f"/api/fax/faxes/{doc['id']}/pages/1")).status_code == 403
    # a replaced document becomes the library's (previewable by the editor, refused if inbound-only)
    await admin.ok("PATCH", "/api/fax/library/101", {"document_id": others["id"]})
    assert (await admin.get(f"/api/fax/faxes/{others['id']}/pages/1")).status_code == 200
    await admin.ok("PATCH", "/api/fax/library/101", {"document_id": doc["id"]})
    # the IVR's entry point
    result = await hub.services.ports.fax.send_on_demand("101", "+861065529988")
    assert result["jobs"][0]["to_number"] == "+861065529988"
    await wait_jobs(admin, None)
    await admin.ok("DELETE", "/api/fax/library/101")
    assert (await admin.get("/api/fax/library/101")).status_code == 404


async def test_chinese_fax_page_ocr_is_searchable(hub) -> None:
    font = chinese_font()
    if font is None:
        msg = "no Chinese font (apt-get install fonts-droid-fallback)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    img = Image.new("L", (1728, 1200), 255)
    draw = ImageDraw.Draw(img)
    f = ImageFont.truetype(font, 64)
    draw.text((120, 200), "燃气泄漏报告", fill=0, font=f)
    draw.text((120, 360), "朝阳区建国路八十八号", fill=0, font=f)
    buf = io.BytesIO()
    img.convert("1").save(buf, format="TIFF", compression="group4", dpi=(204, 196))
    sup = await hub.client("supervisor")
    r = await post_fax(sup.http, buf.getvalue(), **{"from": "+861065529988"})
    assert r.status_code == 201, r.text
    await hub.services.ports.fax.service.drain(90)
    detail = await sup.ok("GET", f"/api/fax/faxes/{r.json()['fax_id']}")
    assert detail["ocr_status"] == "done"
    assert "燃气泄漏" in detail["pages"][0]["ocr_text"].replace(" ", "")
    hits = (await sup.ok("GET", "/api/fax/faxes?q=燃气泄漏"))["items"]
    assert [h["id"] for h in hits] == [r.json()["fax_id"]] and "燃" in hits[0]["match"]
    assert (await sup.ok("GET", "/api/fax/faxes?q=水表"))["items"] == []
    inbox = (await sup.get("/api/conversations", params={"view": "all", "q": "燃气泄漏"})).json()["items"]
    assert [c["id"] for c in inbox] == [r.json()["conversation_id"]]



async def take_fax(hub, tiff: bytes, provider_id: str, **fields: str):  # type: ignore[no-untyped-def]
    """A fax arrives by webhook and agent1 accepts its conversation; returns (agent, cid)."""
    sup = await hub.client("supervisor")
    r = await post_fax(sup.http, tiff, provider_id=provider_id, **fields)
    assert r.status_code == 201, r.text
    cid = r.json()["conversation_id"]
    agent = await hub.client("agent1")
    await agent.ok("POST", "/api/agent/state", {"state": "ready"})
    async with asyncio.timeout(10):
        while (await agent.ok("GET", f"/api/conversations/{cid}"))["status"] != "offered":  # noqa: ASYNC110 - polling the API like a client
            await asyncio.sleep(0.1)
    await agent.ok("POST", f"/api/conversations/{cid}/accept")
    return agent, cid


async def wait_message(client, cid: str, *needles: str) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(10):
        while not any(all(n in (m["body"] or "") for n in needles)  # noqa: ASYNC110 - polling the API like a client
                      for m in (await client.ok("GET", f"/api/conversations/{cid}"))["messages"]):
            await asyncio.sleep(0.1)


async def test_agent_reply_in_a_fax_conversation_is_faxed_back_once(hub, hylafax, tmp_path: Path) -> None:
    tiff = make_tiff(tmp_path / "t", ["Please send the meter form"])
    agent, cid = await take_fax(hub, tiff.read_bytes(), "reply-1", **{"from": "+861065529988"})
    await agent.ok("POST", f"/api/conversations/{cid}/messages",
                   {"body": "尊敬的客户：表格已附上。\nThe meter form is attached."}, status=201)

    [job] = await wait_jobs(agent, None)
    assert job["status"] == "sent" and job["to_number"] == "+861065529988"
    assert hylafax.number_of(job["gateway_ref"]) == "+861065529988"
    tif = tmp_path / "reply.tif"
    [sent] = hylafax.files.values()
    tif.write_bytes(sent)
    assert "CCITT Group 4" in tiffinfo(tif)
    # the agent sees the outcome in the conversation; the reply is in the fax store, linked
    await wait_message(agent, cid, "faxed to +861065529988")
    sup = await hub.client("supervisor")
    found = (await sup.ok("GET", "/api/fax/faxes?number=65529988&direction=out"))["items"]
    assert any(d["direction"] == "out" and d["source"] == "reply" for d in found)
    # a note is not faxed; the same message is faxed once only
    await agent.ok("POST", f"/api/conversations/{cid}/notes", {"body": "internal"}, status=201)
    await asyncio.sleep(0.5)
    assert len((await agent.ok("GET", "/api/fax/jobs"))["items"]) == 1


async def test_a_reply_that_cannot_be_faxed_says_why_in_the_conversation(hub, tmp_path: Path) -> None:
    # a fax whose provider gave no caller number: there is nobody to fax back to
    agent, cid = await take_fax(hub, make_tiff(tmp_path / "t", ["No number"]).read_bytes(), "reply-2")
    await agent.ok("POST", f"/api/conversations/{cid}/messages", {"body": "Thanks"}, status=201)
    await wait_message(agent, cid, "not faxed", "no fax number")
    assert (await agent.ok("GET", "/api/fax/jobs"))["items"] == []
    # the note marks the reply as handled: the reconcile a restart runs neither retries nor re-notes it
    assert await hub.services.ports.fax.replies.reconcile() == 0
    notes = [m for m in (await agent.ok("GET", f"/api/conversations/{cid}"))["messages"]
             if "not faxed" in (m["body"] or "")]
    assert len(notes) == 1


@pytest.mark.storage  # SQLite and PostgreSQL (tests/conftest.py)
async def test_a_reply_committed_while_the_fax_channel_was_not_running_is_faxed_once(
        tmp_path: Path, database_url: str, hylafax) -> None:  # type: ignore[no-untyped-def]
    """The crash window between the message's commit and its reply fax: the reply is committed
    through the hub's conversation service by a run of the hub without the fax channel (nothing
    reacts to the message event, as after a crash right after the commit); the next run with the
    channel renders and faxes it over the HylaFAX protocol, and a further restart does not again."""
    if not have_tools():
        pytest.skip("ghostscript, libtiff-tools and tesseract-ocr are needed (apt-get install …)")
    settings = {"fax_inbound_secret": SECRET, "fax_gateway": "hylafax", "fax_hylafax_port": hylafax.port,
                "fax_hylafax_password": "pw", "fax_poll_s": 0.2, "fax_retry_base_s": 0.1}
    hub = await InProcessHub(tmp_path / "data", database_url, **settings).start()

    async def restart(**extra: object) -> InProcessHub:
        await hub.stop()
        return await InProcessHub(tmp_path / "data", database_url, **settings, **extra).start()

    try:
        tiff = make_tiff(tmp_path / "t", ["Please call back"])
        _, cid = await take_fax(hub, tiff.read_bytes(), "crash-1", **{"from": "+861065529900"})

        hub = await restart(fax_enabled=False)  # the channel's reply subscription is not running
        agent = await hub.client("agent1")
        await agent.ok("POST", f"/api/conversations/{cid}/messages", {"body": "We called you."},
                       status=201)
        assert hub.services.ports.fax is None and not hylafax.jobs

        hub = await restart()
        agent = await hub.client("agent1")
        [job] = await wait_jobs(agent, None)
        assert job["status"] == "sent" and hylafax.number_of(job["gateway_ref"]) == "+861065529900"
        await wait_message(agent, cid, "faxed to +861065529900")

        hub = await restart()
        assert await hub.services.ports.fax.replies.reconciled() == 0
        agent = await hub.client("agent1")
        await asyncio.sleep(0.5)  # the outbound worker has had its chance to send anything queued
        assert [j["id"] for j in (await agent.ok("GET", "/api/fax/jobs"))["items"]] == [job["id"]]
        assert len(hylafax.jobs) == 1 and len(hylafax.files) == 1
    finally:
        await hub.stop()
