"""Inbound faxes: a multi-page TIFF (ghostscript G3 pages joined with tiffcp) and a ghostscript PDF
arrive by the provider webhook and by fax-to-email (swaks into the hub's SMTP port), are stored,
routed by the ACD and shown page by page; bad signatures, corrupt files and decompression bombs
are refused with nothing stored."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.channels.email.support import swaks
from tests.channels.fax.support import (
    GATEWAY_SENDER,
    fax_files,
    make_pdf,
    make_tiff,
    multipart,
    post_fax,
    signed_headers,
)

pytestmark = pytest.mark.asyncio


async def fax_conversations(client) -> list[dict]:  # type: ignore[no-untyped-def]
    r = await client.get("/api/conversations", params={"view": "all", "channel": "fax", "limit": 200})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def assert_pages_served(client, cid: str, count: int) -> dict:  # type: ignore[no-untyped-def]
    r = await client.get(f"/api/fax/conversations/{cid}")
    assert r.status_code == 200, r.text
    [fax] = r.json()["faxes"]
    assert fax["page_count"] == count and len(fax["pages"]) == count
    for page in fax["pages"]:
        img = await client.get(page["image_url"])
        assert img.status_code == 200 and img.headers["content-type"] == "image/png"
        with Image.open(io.BytesIO(img.content)) as im:
            assert (im.width, im.height) == (page["width"], page["height"])
        thumb = await client.get(page["thumb_url"])
        with Image.open(io.BytesIO(thumb.content)) as im:
            assert im.width == 180
    return fax


async def test_multipage_tiff_by_webhook_is_a_routed_fax_shown_page_by_page(hub, tmp_path: Path) -> None:
    tiff = make_tiff(tmp_path / "t", ["Meter 4711 reading", "Second page", "Third page"])
    sup = await hub.client("supervisor")
    r = await post_fax(sup.http, tiff.read_bytes(), **{"from": "+861065529988", "to": "+861065520000",
                                                       "pages": "3", "provider_id": "prov-1"})
    assert r.status_code == 201, r.text
    got = r.json()
    assert got["pages"] == 3 and got["conversation_id"]
    [conv] = await fax_conversations(sup)
    assert conv["id"] == got["conversation_id"] and conv["status"] in ("queued", "offered")
    assert conv["last_message"]["body"].startswith("Fax from +861065529988")
    fax = await assert_pages_served(sup, conv["id"], 3)
    assert fax["pages"][0]["width"] == 1728 and fax["from_number"] == "+861065529988"
    original = await sup.get(fax["original_url"])
    assert original.content == tiff.read_bytes()

    # the provider retries the same fax: stored once, same answer
    again = await post_fax(sup.http, tiff.read_bytes(), **{"from": "+861065529988", "provider_id": "prov-1"})
    assert again.status_code == 200 and again.json()["fax_id"] == got["fax_id"] and again.json()["duplicate"]
    assert len(await fax_conversations(sup)) == 1

    # an agent of the queue gets it offered like any other contact
    agent = await hub.client("agent1")
    assert (await agent.post("/api/agent/state", json={"state": "ready"})).status_code == 200
    async with asyncio.timeout(10):
        while (await sup.ok("GET", f"/api/conversations/{conv['id']}"))["status"] == "queued":  # noqa: ASYNC110 - polling the API like a client
            await asyncio.sleep(0.1)


async def test_pdf_by_webhook_is_shown_page_by_page(hub, tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "p", ["Complaint letter", "Page two"])
    sup = await hub.client("supervisor")
    r = await post_fax(sup.http, pdf.read_bytes(), filename="fax.pdf", ctype="application/pdf",
                       **{"from": "010-65529988"})
    assert r.status_code == 201, r.text
    fax = await assert_pages_served(sup, r.json()["conversation_id"], 2)
    assert fax["original_type"] == "application/pdf"


async def test_tiff_and_pdf_by_fax_to_email_become_fax_conversations(hub, tmp_path: Path) -> None:
    tiff = make_tiff(tmp_path / "t", ["Emailed fax one", "Emailed fax two"])
    pdf = make_pdf(tmp_path / "p", ["Emailed PDF fax"])
    port = hub.services.ports.email.port
    for path, ctype, number in ((tiff, "image/tiff", "+86 10 6552 1111"), (pdf, "application/pdf", "+8610655222")):
        res = await swaks(port, "--header", f"Subject: Fax from {number}", "--attach-type", ctype,
                          "--attach", str(path), sender=GATEWAY_SENDER)
        assert res.accepted, res.output
    sup = await hub.client("supervisor")
    convs = await fax_conversations(sup)
    assert len(convs) == 2
    by_pages = {}
    for c in convs:
        fax = (await sup.ok("GET", f"/api/fax/conversations/{c['id']}"))["faxes"][0]
        by_pages[fax["page_count"]] = fax
        await assert_pages_served(sup, c["id"], fax["page_count"])
    assert by_pages[2]["source"] == "email" and by_pages[2]["from_number"] == "+861065521111"
    assert by_pages[1]["original_type"] == "application/pdf"
    # no email conversation was made from them; ordinary mail still is one
    r = await sup.get("/api/conversations", params={"view": "all", "channel": "email"})
    assert r.json()["items"] == []
    res = await swaks(port, "--header", "Subject: hello", "--body", "a normal mail", sender="someone@example.com")
    assert res.accepted
    assert len((await sup.get("/api/conversations", params={"view": "all", "channel": "email"})).json()["items"]) == 1


async def test_bad_webhook_signature_is_401_and_stores_nothing(hub, tmp_path: Path) -> None:
    tiff = make_tiff(tmp_path / "t", ["x"]).read_bytes()
    sup = await hub.client("supervisor")
    body, ctype = multipart(tiff, "f.tif", "image/tiff", **{"from": "+861065529988"})
    cases = [
        signed_headers(body, secret="wrong"),
        signed_headers(body, ts=time.time() - 3600),  # replayed an hour later
        {"X-Fax-Timestamp": str(int(time.time()))},
        signed_headers(body + b"tampered"),
    ]
    for headers in cases:
        r = await sup.http.post("/api/fax/inbound", content=body, headers={"Content-Type": ctype, **headers})
        assert r.status_code == 401, r.text
        assert r.json()["code"] == "fax_bad_signature"
    assert await fax_conversations(sup) == []
    assert fax_files(hub.settings.data_dir) == []


async def test_corrupt_tiff_and_pdf_are_refused_with_nothing_stored(hub, tmp_path: Path) -> None:
    tiff = make_tiff(tmp_path / "t", ["one", "two"]).read_bytes()
    pdf = make_pdf(tmp_path / "p", ["one"]).read_bytes()
    sup = await hub.client("supervisor")
    bad = [
        (tiff[: len(tiff) // 2], "image/tiff", 422),            # cut off in the second page
        (b"II*\x00" + b"\xff" * 4000, "image/tiff", 422),      # TIFF magic, garbage IFD
        (pdf[: len(pdf) // 3], "application/pdf", 422),         # truncated PDF
        (b"%PDF-1.4\n" + b"garbage " * 100, "application/pdf", 422),
        (b"GIF89a not a fax", "image/gif", 415),
        (b"", "image/tiff", 422),
    ]
    for data, ctype, status in bad:
        r = await post_fax(sup.http, data, ctype=ctype, **{"from": "+861065529988"})
        assert r.status_code == status, (data[:20], r.text)
        assert r.json()["code"] in ("fax_corrupt", "fax_unsupported")
        assert r.json()["detail"]
    assert await fax_conversations(sup) == []
    assert (await sup.ok("GET", "/api/fax/faxes"))["items"] == []
    assert fax_files(hub.settings.data_dir) == []


async def test_decompression_bombs_are_refused_before_decoding(hub, tmp_path: Path) -> None:
    sup = await hub.client("supervisor")
    # a 6000 x 6000 blank G4 page: a few KiB on the wire, 36 M pixels (the limit here is 20 M)
    buf = io.BytesIO()
    Image.new("1", (6000, 6000), 1).save(buf, format="TIFF", compression="group4")
    assert len(buf.getvalue()) < 50_000
    # a one-page PDF declaring a 3000 x 3000 pt page (69 M pixels at 200 dpi)
    big_pdf = tmp_path / "big.pdf"
    Image.new("L", (300, 300), 255).save(big_pdf, format="PDF", resolution=7.2)
    too_many = make_tiff(tmp_path / "many", [f"p{i}" for i in range(21)], device="tiffg4")
    for data, ctype, limit in ((buf.getvalue(), "image/tiff", "page_pixels"),
                               (big_pdf.read_bytes(), "application/pdf", "page_pixels"),
                               (too_many.read_bytes(), "image/tiff", "pages")):
        r = await post_fax(sup.http, data, ctype=ctype, **{"from": "+861065529988"})
        assert r.status_code == 413, r.text
        assert r.json()["code"] == "fax_too_large" and r.json()["limit"] == limit
    assert await fax_conversations(sup) == []
    assert fax_files(hub.settings.data_dir) == []


async def test_a_corrupt_fax_by_email_stays_an_email_and_nothing_fax_is_stored(hub, tmp_path: Path) -> None:
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"II*\x00" + b"\xff" * 2000)
    port = hub.services.ports.email.port
    res = await swaks(port, "--header", "Subject: Fax from +8610655211", "--attach-type", "image/tiff",
                      "--attach", str(bad), sender=GATEWAY_SENDER)
    assert res.accepted, res.output  # accepted mail is never lost
    sup = await hub.client("supervisor")
    assert await fax_conversations(sup) == []
    assert fax_files(hub.settings.data_dir) == []
    emails = (await sup.get("/api/conversations", params={"view": "all", "channel": "email"})).json()["items"]
    assert len(emails) == 1 and "Fax from" in emails[0]["subject"]
