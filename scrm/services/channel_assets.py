"""Channel QR code (渠道活码) assets: QR PNG/SVG, reading a host's QR image, and printable posters.

Pure rendering: no database, no Flask. Every string drawn here may come from a customer or a marketer, so it is
only ever drawn as plain text, after its length is capped and its control characters are removed.
"""
from __future__ import annotations

import io
import logging
import os
import unicodedata
from functools import lru_cache

import qrcode
import zxingcpp
from PIL import Image, ImageDraw, ImageFont
from qrcode.image.svg import SvgPathFillImage

log = logging.getLogger(__name__)

FONT_ENV = "SCRM_POSTER_FONT"
FONT_PACKAGE = "fonts-wqy-microhei"
# Debian's wqy-microhei first (what `make setup` and the Dockerfile install), then other common CJK fonts.
FONT_CANDIDATES: tuple[str, ...] = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)

# Only these formats are parsed: host QR images are PNG or JPEG, and every other Pillow plugin is attack surface.
IMAGE_FORMATS = ("PNG", "JPEG")
# A QR image needs far fewer pixels; refusing bigger ones before decoding bounds memory per request.
MAX_IMAGE_PIXELS = 25_000_000

TITLE_MAX, TEXT_MAX, FOOTER_MAX = 64, 200, 64
ELLIPSIS = "…"

# Poster layout, in pixels (portrait, prints at roughly 9 × 13.5 cm at 300 dpi).
POSTER_SIZE = (1080, 1600)
MARGIN = 80
TITLE_SIZE, TITLE_LINES, TITLE_TOP, TITLE_BOTTOM = 64, 2, 90, 290
QR_BOX, QR_TOP = 760, 320
TEXT_SIZE, TEXT_LINES, TEXT_TOP = 40, 4, QR_TOP + QR_BOX + 50
FOOTER_SIZE, FOOTER_BOTTOM = 28, POSTER_SIZE[1] - 70
LINE_SPACING = 1.35
INK, TEXT_INK, FOOTER_INK = "#111111", "#333333", "#888888"


def _qr(content: str) -> qrcode.QRCode:
    """A QR code for `content` at error correction M, sized to fit."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(content)
    code.make(fit=True)
    return code


def qr_png(content: str, *, box_size: int = 10, border: int = 4) -> bytes:
    """The QR code of `content` as PNG bytes."""
    code = _qr(content)
    code.box_size, code.border = box_size, border
    out = io.BytesIO()
    code.make_image().save(out)
    return out.getvalue()


def qr_svg(content: str) -> bytes:
    """The QR code of `content` as a standalone vector SVG document."""
    # The fill variant paints a white background: a transparent QR placed on a dark design does not scan.
    out = io.BytesIO()
    _qr(content).make_image(image_factory=SvgPathFillImage).save(out)
    return out.getvalue()


def _open_image(data: bytes) -> Image.Image:
    """Open and fully load PNG/JPEG bytes; raises on anything else."""
    image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    if image.width * image.height > MAX_IMAGE_PIXELS:
        raise ValueError(f"image of {image.width}x{image.height} px is larger than a QR image needs")
    image.load()
    return image


def _on_white(image: Image.Image) -> Image.Image:
    """The image as RGB, transparent parts shown on white (as a printer or a phone screen would)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, "white")
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def decode_qr(image: bytes) -> str | None:
    """The text of the first QR code in a PNG/JPEG image, or None when there is none or it is no image."""
    try:
        picture = _on_white(_open_image(image))
    except Exception:  # Pillow's plugins raise many exception types on corrupt input; all mean "no QR here".
        return None
    found = zxingcpp.read_barcodes(picture, formats=zxingcpp.BarcodeFormat.QRCode)
    return found[0].text if found else None


def poster_font_path(explicit: str = "") -> str:
    """The CJK font file for posters: `explicit` (SCRM_POSTER_FONT) if readable, else the first installed one."""
    if explicit:
        if os.path.isfile(explicit) and os.access(explicit, os.R_OK):
            return explicit
        log.warning("%s=%s is not a readable file; looking for a system CJK font", FONT_ENV, explicit)
    for path in FONT_CANDIDATES:
        if os.path.isfile(path) and os.access(path, os.R_OK):
            return path
    raise RuntimeError(f"no CJK font for posters: set {FONT_ENV} to a .ttf/.ttc/.otf file with Chinese glyphs, "
                       f"or install Debian's {FONT_PACKAGE} (`make setup` does)")


@lru_cache(maxsize=32)
def _load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """The font at `path` in `size` px, loaded once per process."""
    try:
        return ImageFont.truetype(path, size)
    except OSError as exc:
        raise RuntimeError(f"cannot load poster font {path} (set {FONT_ENV} to a valid CJK font): {exc}") from exc


def poster_font(size: int, explicit: str = "") -> ImageFont.FreeTypeFont:
    """The CJK font in `size` px (see poster_font_path)."""
    return _load_font(poster_font_path(explicit), size)


def clean_text(text: str, limit: int, *, keep_newlines: bool = False) -> str:
    """Plain text safe to draw: control/format characters removed, whitespace flattened, at most `limit` chars."""
    chars = []
    for ch in text:
        if ch == "\n" and keep_newlines:
            chars.append(ch)
        elif ch.isspace():
            chars.append(" ")
        elif unicodedata.category(ch) not in ("Cc", "Cf", "Cs"):  # lone surrogates cannot even be encoded
            chars.append(ch)
    cleaned = "".join(chars).strip()
    return cleaned if len(cleaned) <= limit else cleaned[:limit - 1] + ELLIPSIS


def _with_ellipsis(line: str, font: ImageFont.FreeTypeFont, max_width: float) -> str:
    """`line` shortened until it and a trailing ellipsis fit in `max_width`."""
    line = line.removesuffix(ELLIPSIS)
    while line and font.getlength(line + ELLIPSIS) > max_width:
        line = line[:-1]
    return line + ELLIPSIS


def wrap_text(text: str, font: ImageFont.FreeTypeFont, max_width: float, max_lines: int) -> list[str]:
    """Lines of `text` no wider than `max_width`, broken at any character (Chinese has no spaces)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for ch in paragraph:
            if font.getlength(line + ch) <= max_width:
                line += ch
            else:
                lines.append(line)
                line = "" if ch == " " else ch  # a soft break swallows the space it broke at
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = _with_ellipsis(lines[-1], font, max_width)
    return lines


def _line_height(size: int) -> int:
    """Baseline-to-baseline distance for a font size."""
    return round(size * LINE_SPACING)


def _draw_lines(draw: ImageDraw.ImageDraw, lines: list[str], top: int, size: int, fill: str, font_path: str) -> None:
    """Draw lines centered horizontally, the first one's top at `top`."""
    font = _load_font(font_path, size)
    for i, line in enumerate(lines):
        draw.text((POSTER_SIZE[0] // 2, top + i * _line_height(size)), line, font=font, fill=fill, anchor="mt")


def _fit_qr(qr_image: bytes) -> Image.Image:
    """The QR image scaled to fit the poster's QR box, modules kept crisp."""
    try:
        image = _on_white(_open_image(qr_image))
    except Exception as exc:  # same reasoning as decode_qr: any parse failure means the bytes are no image
        raise ValueError("qr_image is not a PNG or JPEG image") from exc
    scale = QR_BOX / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # NEAREST keeps module edges sharp when enlarging; BOX averages when shrinking so no module row is dropped.
    return image.resize(size, Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.BOX)


def poster_png(qr_image: bytes, *, title: str, text: str = "", footer: str = "", font: str = "") -> bytes:
    """A printable portrait poster: title, the QR image, a text and a footer line, as PNG bytes; `font` is the
    configured font file (SCRM_POSTER_FONT), else an installed CJK font is used."""
    font_path = poster_font_path(font)
    width = POSTER_SIZE[0] - 2 * MARGIN
    poster = Image.new("RGB", POSTER_SIZE, "white")
    draw = ImageDraw.Draw(poster)

    title_lines = wrap_text(clean_text(title, TITLE_MAX), _load_font(font_path, TITLE_SIZE), width, TITLE_LINES)
    block = (len(title_lines) - 1) * _line_height(TITLE_SIZE) + TITLE_SIZE
    _draw_lines(draw, title_lines, TITLE_TOP + (TITLE_BOTTOM - TITLE_TOP - block) // 2, TITLE_SIZE, INK, font_path)

    qr = _fit_qr(qr_image)
    poster.paste(qr, ((POSTER_SIZE[0] - qr.width) // 2, QR_TOP + (QR_BOX - qr.height) // 2))

    body = clean_text(text, TEXT_MAX, keep_newlines=True)
    if body:
        _draw_lines(draw, wrap_text(body, _load_font(font_path, TEXT_SIZE), width, TEXT_LINES), TEXT_TOP, TEXT_SIZE,
                    TEXT_INK, font_path)
    foot = clean_text(footer, FOOTER_MAX)
    if foot:
        _draw_lines(draw, wrap_text(foot, _load_font(font_path, FOOTER_SIZE), width, 1), FOOTER_BOTTOM - FOOTER_SIZE,
                    FOOTER_SIZE, FOOTER_INK, font_path)

    out = io.BytesIO()
    poster.save(out, format="PNG", optimize=True)
    return out.getvalue()
