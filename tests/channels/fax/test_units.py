"""Fax pieces without a hub: rendering limits, TIFF-F output checked by libtiff's tiffinfo, the
webhook signature, templates, and the HylaFAX client protocol against the protocol server of
``support.HylafaxServer`` (a fake of hfaxd, see there)."""

from __future__ import annotations

import io
import subprocess
from email.message import EmailMessage
from pathlib import Path

import pytest
from PIL import Image

from channels.fax import render
from channels.fax.adapter import fill_template, sign
from channels.fax.errors import CorruptFax, FaxTooLarge, GatewayError, UnsupportedFax
from channels.fax.gateways import EmailFaxGateway, HylafaxGateway
from channels.fax.service import search_form
from hub.errors import ValidationFailed
from tests.channels.fax.support import HylafaxServer, have_tools, tiffinfo

LIMITS = render.Limits(5 * 1024 * 1024, 10, 20_000_000, 60_000_000)
needs_tools = pytest.mark.skipif(not have_tools(), reason="ghostscript/libtiff-tools/tesseract missing")


def test_signature_covers_timestamp_and_body() -> None:
    s = sign("k", "100", b"body")
    assert s.startswith("sha256=") and s == sign("k", "100", b"body")
    assert s not in (sign("k", "101", b"body"), sign("k", "100", b"body!"), sign("j", "100", b"body"))


def test_template_placeholders_must_all_have_values() -> None:
    assert fill_template("Dear {name}, meter {meter}", {"name": "王", "meter": "7"}) == "Dear 王, meter 7"
    with pytest.raises(ValidationFailed, match=r"\{meter\}"):
        fill_template("Dear {name}, meter {meter}", {"name": "王"})


def test_search_form_ignores_spaces_tesseract_puts_between_chinese_characters() -> None:
    assert search_form("燃 气 泄 漏 Report") == search_form("燃气泄漏report")


def test_sniff_trusts_magic_bytes_only() -> None:
    assert render.sniff(b"II*\x00rest") == render.TIFF and render.sniff(b"%PDF-1.7") == render.PDF
    for bad in (b"GIF89a", b"II+\x00bigtiff", b"\x89PNG"):
        with pytest.raises(UnsupportedFax):
            render.sniff(bad)


def test_standard_resolution_pages_are_squared(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("1", (1728, 1100), 1).save(buf, format="TIFF", compression="group3", dpi=(204, 98))
    kind, [page] = render.render_document(buf.getvalue(), tmp_path, LIMITS)
    assert kind == render.TIFF and (page.width, page.height) == (1728, round(1100 * 204 / 98))
    with Image.open(render.page_png(tmp_path, 1, thumb=True)) as thumb:
        assert thumb.width == render.THUMB_WIDTH


def test_limits_are_checked_before_decoding(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("1", (5000, 5000), 1).save(buf, format="TIFF", compression="group4")
    with pytest.raises(FaxTooLarge) as err:
        render.render_document(buf.getvalue(), tmp_path / "a", LIMITS)
    assert err.value.details["limit"] == "page_pixels"
    with pytest.raises(FaxTooLarge):
        render.render_document(b"II*\x00" + b"\x00" * (LIMITS.max_bytes + 1), tmp_path / "b", LIMITS)
    with pytest.raises(CorruptFax):
        render.render_document(buf.getvalue()[:300], tmp_path / "c", LIMITS)


@needs_tools
@pytest.mark.parametrize(("compression", "scheme"), [("g3", "CCITT Group 3"), ("g4", "CCITT Group 4")])
def test_text_becomes_a_tiff_class_f_that_tiffinfo_accepts(tmp_path: Path, compression: str, scheme: str) -> None:
    pdf, tif = tmp_path / "t.pdf", tmp_path / "t.tif"
    pages = render.text_to_pdf("燃气管道检修通知\n" + "Notice of works. " * 400, pdf)
    assert pages >= 2
    subprocess.run(render.gs_tiff_f_args(pdf, tif, compression), check=True, timeout=120)
    info = tiffinfo(tif)
    assert info.count("TIFF Directory at offset") == pages
    assert info.count("Image Width: 1728") == pages and "Resolution: 204, 196 pixels/inch" in info
    assert scheme in info and "min-is-white" in info


async def test_hylafax_client_submits_and_follows_a_job(tmp_path: Path) -> None:
    server = await HylafaxServer().start()
    try:
        tif = tmp_path / "f.tif"
        Image.new("1", (1728, 100), 1).save(tif, format="TIFF", compression="group4")
        gw = HylafaxGateway("127.0.0.1", server.port, "hub", "secret", timeout_s=5)
        ref = await gw.submit(tif, "+861065529988", "job-1")
        assert server.number_of(ref) == "+861065529988"
        assert server.files[server.jobs[ref].params["DOCUMENT"]] == tif.read_bytes()
        assert "PASS secret" in server.commands and "JSUBM" in server.commands
        assert (await gw.status(ref)).state == "sending"
        assert (await gw.status(ref)).state == "sent"
        server.fail_submits = 1
        with pytest.raises(GatewayError, match="JSUBM"):
            await gw.submit(tif, "+861065529988", "job-2")
        server.fail_jobs = 1
        ref = await gw.submit(tif, "+861065529988", "job-3")
        await gw.status(ref)
        failed = await gw.status(ref)
        assert failed.state == "failed" and "carrier" in failed.detail
    finally:
        await server.stop()
    with pytest.raises(GatewayError, match="cannot reach"):
        await HylafaxGateway("127.0.0.1", server.port, "hub", "", timeout_s=2).submit(tif, "1", "x")


async def test_email_to_fax_mails_the_tiff_to_number_at_domain(tmp_path: Path) -> None:
    sent: list[EmailMessage] = []

    async def send_mail(m: EmailMessage) -> None:
        sent.append(m)

    tif = tmp_path / "f.tif"
    tif.write_bytes(b"II*\x00data")
    gw = EmailFaxGateway(send_mail, "fax.example.net", "support@hub.example.com")
    ref = await gw.submit(tif, "+861065529988", "j1")
    [m] = sent
    assert m["To"] == "861065529988@fax.example.net" and m["Message-ID"] == ref
    [att] = list(m.iter_attachments())
    assert att.get_content_type() == "image/tiff" and att.get_content() == b"II*\x00data"
    assert (await gw.status(ref)).state == "sent"
