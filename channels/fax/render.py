"""Fax documents as images: inspect and render inbound TIFF (Class F, G3/G4) and PDF faxes page
by page to PNG, and render outbound documents (text, PDF) to TIFF-F.

Blocking code (Pillow, pdfium, files): callers run it with ``asyncio.to_thread``. Every limit is
checked from the file's headers *before* a page is decoded (declared page size, page count, total
pixels), so a decompression bomb is refused without being expanded; a file that does not decode
completely is refused as corrupt. Nothing is written outside the ``out_dir`` the caller gives
(a temporary directory it removes on failure)."""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from channels.fax.errors import CorruptFax, FaxTooLarge, UnsupportedFax

if TYPE_CHECKING:  # PIL is imported where it is used
    from PIL.ImageFont import FreeTypeFont, ImageFont

TIFF = "image/tiff"
PDF = "application/pdf"
PDF_DPI = 200                   # inbound PDF pages are rendered at this resolution
THUMB_WIDTH = 180
FAX_WIDTH = 1728                # ITU-T T.4 A4 scan line at 204 dpi (TIFF Class F)
FAX_HEIGHT = 2292               # A4 at 196 lines per inch ("fine")
_PDFIUM = threading.Lock()      # pdfium is not thread-safe
CJK_FONTS = (
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
LATIN_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pages: int
    max_page_pixels: int
    max_total_pixels: int


@dataclass(frozen=True)
class PageImage:
    page_no: int
    width: int
    height: int


def sniff(data: bytes) -> str:
    """The document type from its magic bytes (the declared type is not trusted)."""
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
    if data[:4] in (b"II+\x00", b"MM\x00+"):
        raise UnsupportedFax("BigTIFF is not a fax format; send a TIFF Class F or a PDF")
    if data.lstrip()[:5] == b"%PDF-":
        return PDF
    raise UnsupportedFax("the file is neither a TIFF nor a PDF fax")


def page_png(out_dir: Path, page_no: int, thumb: bool = False) -> Path:
    return out_dir / (f"thumb-{page_no:04d}.png" if thumb else f"page-{page_no:04d}.png")


def _check(pages: int, width: int, height: int, total: int, limits: Limits) -> None:
    if pages > limits.max_pages:
        raise FaxTooLarge(f"the fax has more than {limits.max_pages} pages",
                          details={"limit": "pages", "max_pages": limits.max_pages})
    if width <= 0 or height <= 0:
        raise CorruptFax(f"page {pages} has no size ({width}x{height})")
    if width * height > limits.max_page_pixels:
        raise FaxTooLarge(f"page {pages} is {width}x{height} pixels, more than the limit of "
                          f"{limits.max_page_pixels} pixels per page",
                          details={"limit": "page_pixels", "page": pages, "width": width, "height": height})
    if total > limits.max_total_pixels:
        raise FaxTooLarge(f"the fax has more than {limits.max_total_pixels} pixels in all",
                          details={"limit": "total_pixels"})


def _save(img, out_dir: Path, page_no: int) -> PageImage:
    from PIL import Image

    if img.mode not in ("1", "L"):
        img = img.convert("L")
    img.save(page_png(out_dir, page_no), format="PNG", optimize=False)
    thumb = img.convert("L")
    thumb.thumbnail((THUMB_WIDTH, THUMB_WIDTH * 4), Image.Resampling.LANCZOS)
    thumb.save(page_png(out_dir, page_no, thumb=True), format="PNG")
    return PageImage(page_no, img.width, img.height)


def render_tiff(data: bytes, out_dir: Path, limits: Limits) -> list[PageImage]:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            # our own limits are lower than Pillow's and are checked before decoding; anything
            # else Pillow warns about (corrupt tags) means the file is broken
            warnings.simplefilter("error")
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return _render_tiff(data, out_dir, limits)
    except UserWarning as err:
        raise CorruptFax(f"the TIFF is corrupt: {err}") from err


def _render_tiff(data: bytes, out_dir: Path, limits: Limits) -> list[PageImage]:
    from PIL import Image, UnidentifiedImageError

    pages: list[PageImage] = []
    total = 0
    try:
        im = Image.open(io.BytesIO(data), formats=["TIFF"])
    except Image.DecompressionBombError as err:
        raise FaxTooLarge(f"the TIFF declares a page too large to decode: {err}",
                          details={"limit": "page_pixels"}) from err
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise CorruptFax(f"the TIFF cannot be read: {err}") from err
    with im:
        n = 0
        while True:
            try:
                im.seek(n)
            except EOFError:
                break
            except (OSError, ValueError, SyntaxError) as err:
                raise CorruptFax(f"page {n + 1} of the TIFF cannot be read: {err}") from err
            n += 1
            w, h = im.size
            total += w * h
            _check(n, w, h, total, limits)
            try:
                im.load()
                frame = im.copy()
            except Image.DecompressionBombError as err:
                raise FaxTooLarge(str(err), details={"limit": "page_pixels"}) from err
            except (OSError, ValueError, SyntaxError, MemoryError) as err:
                raise CorruptFax(f"page {n} of the TIFF does not decode: {err}") from err
            xres, yres = (im.info.get("dpi") or (0, 0))[:2]
            if xres and yres and abs(float(xres) - float(yres)) > 1:
                # standard-resolution faxes (204x98 dpi): square the pixels for the eye and OCR
                frame = frame.convert("L").resize((w, max(1, round(h * float(xres) / float(yres)))),
                                                  Image.Resampling.BILINEAR)
            pages.append(_save(frame, out_dir, n))
    if not pages:
        raise CorruptFax("the TIFF has no pages")
    return pages


def render_pdf(data: bytes, out_dir: Path, limits: Limits) -> list[PageImage]:
    try:
        import pypdfium2 as pdfium
    except ImportError as err:  # pragma: no cover - an installation problem
        raise RuntimeError("the fax channel needs pypdfium2 for PDF faxes: pip install pypdfium2") from err
    scale = PDF_DPI / 72
    pages: list[PageImage] = []
    with _PDFIUM:
        try:
            doc = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as err:
            raise CorruptFax(f"the PDF cannot be read: {err}") from err
        try:
            count = len(doc)
            if count == 0:
                raise CorruptFax("the PDF has no pages")
            if count > limits.max_pages:
                _check(count, 1, 1, 0, limits)
            sizes = []
            total = 0
            for i in range(count):  # every limit before the first page is rendered
                w_pt, h_pt = doc[i].get_size()
                w, h = round(w_pt * scale), round(h_pt * scale)
                total += w * h
                _check(i + 1, w, h, total, limits)
                sizes.append((w, h))
            for i in range(count):
                page = doc[i]
                try:
                    bitmap = page.render(scale=scale, grayscale=True)
                    img = bitmap.to_pil()
                except pdfium.PdfiumError as err:
                    raise CorruptFax(f"page {i + 1} of the PDF does not render: {err}") from err
                finally:
                    page.close()
                pages.append(_save(img, out_dir, i + 1))
        finally:
            doc.close()
    return pages


def render_document(data: bytes, out_dir: Path, limits: Limits) -> tuple[str, list[PageImage]]:
    """Validate a fax document and render every page to ``out_dir``; returns (type, pages)."""
    if len(data) > limits.max_bytes:
        raise FaxTooLarge(f"the fax is larger than the limit of {limits.max_bytes // 1024} KiB",
                          details={"limit": "bytes"})
    if not data:
        raise CorruptFax("the fax file is empty")
    kind = sniff(data)
    out_dir.mkdir(parents=True, exist_ok=True)
    pages = render_tiff(data, out_dir, limits) if kind == TIFF else render_pdf(data, out_dir, limits)
    return kind, pages


# --- outbound -----------------------------------------------------------------------------------
def find_font(configured: str = "", cjk: bool = True) -> str | None:
    for path in ((configured,) if configured else ()) + (CJK_FONTS if cjk else LATIN_FONTS):
        if path and Path(path).is_file():
            return path
    return None


def _is_wide(ch: str) -> bool:
    return ord(ch) >= 0x2E80


class _Fonts:
    """Latin text in a Latin font, CJK in a CJK font (fallback fonts often lack Latin glyphs)."""

    def __init__(self, configured: str, size: int) -> None:
        from PIL import ImageFont

        latin, cjk = find_font("", cjk=False), find_font(configured, cjk=True)
        self.latin = ImageFont.truetype(latin, size) if latin else ImageFont.load_default(size)
        self.cjk = ImageFont.truetype(cjk, size) if cjk else self.latin

    def runs(self, line: str) -> list[tuple[str, FreeTypeFont | ImageFont]]:
        out: list[tuple[str, FreeTypeFont | ImageFont]] = []
        for ch in line:
            font = self.cjk if _is_wide(ch) else self.latin
            if out and out[-1][1] is font:
                out[-1] = (out[-1][0] + ch, font)
            else:
                out.append((ch, font))
        return out

    def length(self, line: str) -> float:
        return sum(f.getlength(t) for t, f in self.runs(line))

    def draw(self, draw, x: float, y: float, line: str) -> None:
        for text, font in self.runs(line):
            draw.text((x, y), text, fill=0, font=font)
            x += font.getlength(text)


def _tokens(para: str) -> list[str]:
    """Words for Latin text, single characters for CJK (which wraps anywhere)."""
    out: list[str] = []
    for word in para.split(" "):
        buf = ""
        for ch in word:
            if _is_wide(ch):
                if buf:
                    out.append(buf)
                    buf = ""
                out.append(ch)
            else:
                buf += ch
        if buf:
            out.append(buf)
        out.append(" ")
    return out[:-1]


def _wrap(text: str, fonts: _Fonts, width: int) -> list[str]:
    lines: list[str] = []
    for para in text.replace("\r\n", "\n").split("\n"):
        line = ""
        for tok in _tokens(para):
            if fonts.length(line + tok) <= width or not line.strip():
                line += tok
                while fonts.length(line) > width and len(line) > 1:  # one very long word
                    cut = len(line) - 1
                    while cut > 1 and fonts.length(line[:cut]) > width:
                        cut -= 1
                    lines.append(line[:cut])
                    line = line[cut:]
            else:
                lines.append(line.rstrip())
                line = "" if tok == " " else tok
        lines.append(line.rstrip())
    return lines


A4_204 = (1687, 2385)  # A4 at 204 dpi, square pixels: ghostscript resamples to 204x196


def text_to_pdf(text: str, out_path: Path, font_path: str = "", max_pages: int = 50) -> int:
    """Typeset plain text (any script the fonts cover) on A4 pages as a PDF (then ``to_tiff_f``);
    returns the page count."""
    from PIL import Image, ImageDraw

    fonts = _Fonts(font_path, 40)
    margin_x, margin_y, line_h = 110, 140, 58
    lines = _wrap(text, fonts, A4_204[0] - 2 * margin_x)
    per_page = (A4_204[1] - 2 * margin_y) // line_h
    chunks = [lines[i:i + per_page] for i in range(0, max(len(lines), 1), per_page)] or [[]]
    if len(chunks) > max_pages:
        raise FaxTooLarge(f"the text needs {len(chunks)} pages, more than {max_pages}")
    pages = []
    for chunk in chunks:
        img = Image.new("L", A4_204, 255)
        draw = ImageDraw.Draw(img)
        for j, line in enumerate(chunk):
            fonts.draw(draw, margin_x, margin_y + j * line_h, line)
        pages.append(img)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    pages[0].save(out_path, format="PDF", save_all=True, append_images=pages[1:], resolution=204.0)
    return len(pages)


def gs_tiff_f_args(pdf_path: Path, tiff_path: Path, compression: str = "g4") -> list[str]:
    """Ghostscript's fax devices: Class F TIFF (min-is-white, 1728 pixels wide, 204x196 dpi),
    pages fitted to A4."""
    device = {"g3": "tiffg3", "g32d": "tiffg32d", "g4": "tiffg4"}[compression]
    return ["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", f"-sDEVICE={device}", "-r204x196",
            "-sPAPERSIZE=a4", "-dFIXEDMEDIA", "-dPDFFitPage", f"-sOutputFile={tiff_path}",
            str(pdf_path)]
