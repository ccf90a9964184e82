"""Channel QR assets: QR PNG/SVG round trips, decoding untrusted images, posters drawn with a real CJK font."""
from __future__ import annotations

import io
import random
import shutil
import xml.etree.ElementTree as ET

import pytest
from PIL import Image, ImageDraw, ImageFont

from scrm.services import channel_assets as ca

URL = "https://scrm.example.com/h5/c/Ab3?x=1&渠道=海报"
SVG_NS = "{http://www.w3.org/2000/svg}"
MISSING = "/nonexistent/fonts/none.ttc"


def _png(image: Image.Image) -> bytes:
    """An image as PNG bytes."""
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _glyph(font: ImageFont.FreeTypeFont, ch: str) -> bytes:
    """The pixels of one character drawn in `font`."""
    image = Image.new("L", (160, 160), 0)
    ImageDraw.Draw(image).text((16, 16), ch, font=font, fill=255)
    return image.tobytes()


def _draws_chinese(font: ImageFont.FreeTypeFont) -> bool:
    """Whether `font` has real glyphs for Chinese, not the missing-glyph box (tofu) it draws for U+10FFFD."""
    qu, dao, missing = _glyph(font, "渠"), _glyph(font, "道"), _glyph(font, "\U0010FFFD")
    return font.getlength("渠") > 0 and any(qu) and qu != missing and qu != dao


def test_qr_png_decodes_back_to_the_exact_url():
    png = ca.qr_png(URL)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert ca.decode_qr(png) == URL


def test_qr_png_honours_box_size_and_border():
    small, large = (Image.open(io.BytesIO(ca.qr_png(URL, box_size=b, border=2))) for b in (4, 12))
    assert large.width == small.width * 3
    assert ca.decode_qr(ca.qr_png(URL, box_size=4, border=2)) == URL


def test_decode_qr_reads_jpeg_and_transparent_png():
    qr = Image.open(io.BytesIO(ca.qr_png(URL))).convert("RGB")
    jpeg = io.BytesIO()
    qr.save(jpeg, format="JPEG", quality=70)
    assert ca.decode_qr(jpeg.getvalue()) == URL
    # Dark modules on a transparent background: read as if printed on white.
    alpha = Image.new("RGBA", qr.size, (0, 0, 0, 0))
    alpha.putalpha(qr.convert("L").point(lambda v: 255 - v))
    assert ca.decode_qr(_png(alpha)) == URL


def test_qr_svg_is_a_standalone_svg_document_with_a_path():
    svg = ca.qr_svg(URL)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    assert len(root.get("viewBox", "").split()) == 4
    paths = root.findall(f"{SVG_NS}path")
    assert paths and all(p.get("d", "").strip() for p in paths)


def test_qr_svg_encodes_the_same_code_as_the_png():
    view = ET.fromstring(ca.qr_svg(URL)).get("viewBox").split()
    png = Image.open(io.BytesIO(ca.qr_png(URL, box_size=1, border=4)))
    assert (int(view[2]), int(view[3])) == png.size


@pytest.mark.parametrize("garbage", [
    b"",
    random.Random(7).randbytes(4096),
    b"\x89PNG\r\n\x1a\n" + random.Random(8).randbytes(512),
    b"\xff\xd8\xff\xe0" + random.Random(9).randbytes(512),
    b"<svg xmlns='http://www.w3.org/2000/svg'/>",
], ids=["empty", "random", "png-signature", "jpeg-signature", "svg"])
def test_decode_qr_of_garbage_is_none(garbage):
    assert ca.decode_qr(garbage) is None


def test_decode_qr_of_a_truncated_png_is_none():
    assert ca.decode_qr(ca.qr_png(URL)[:200]) is None


def test_decode_qr_of_an_image_without_a_qr_is_none():
    image = Image.new("RGB", (400, 400), "white")
    ImageDraw.Draw(image).rectangle((50, 50, 350, 200), fill="black")
    assert ca.decode_qr(_png(image)) is None


def test_decode_qr_refuses_huge_images_without_decoding_them(monkeypatch):
    monkeypatch.setattr(ca, "MAX_IMAGE_PIXELS", 100 * 100)
    assert ca.decode_qr(ca.qr_png(URL)) is None


def test_poster_is_a_png_of_the_poster_size_whose_qr_decodes():
    poster = ca.poster_png(ca.qr_png(URL), title="扫码添加专属顾问", text="领取新人礼包，每周直播福利", footer="星火科技")
    image = Image.open(io.BytesIO(poster))
    assert image.format == "PNG" and image.size == ca.POSTER_SIZE
    assert ca.decode_qr(poster) == URL


def test_poster_places_the_qr_crisp_and_at_least_700_px_wide():
    qr = ca.qr_png(URL, border=0)  # no quiet zone: the dark modules span the whole scaled image
    image = Image.open(io.BytesIO(ca.poster_png(qr, title="渠道"))).convert("L")
    band = image.crop((0, ca.QR_TOP, ca.POSTER_SIZE[0], ca.QR_TOP + ca.QR_BOX))
    left, _, right, _ = band.point(lambda v: 255 if v < 128 else 0).getbbox()
    assert right - left >= 700
    assert abs((left + right) / 2 - ca.POSTER_SIZE[0] / 2) <= 1
    # NEAREST scaling: the QR stays pure black and white, no grey module edges.
    assert {colour for _, colour in band.getcolors()} == {0, 255}


def test_poster_from_a_large_host_jpeg_still_decodes():
    big = Image.open(io.BytesIO(ca.qr_png(URL, box_size=30))).convert("RGB")
    jpeg = io.BytesIO()
    big.save(jpeg, format="JPEG", quality=85)
    assert ca.decode_qr(ca.poster_png(jpeg.getvalue(), title="海报")) == URL


@pytest.mark.parametrize("title", [
    "渠" * 300,
    "限时福利🎉🔥 <script>alert('x')</script> 扫码领取",
    "\u202e反向\u200d\x00控制\ud800字符\n换行\t制表",
], ids=["300-chinese", "emoji-and-script", "control-and-surrogate"])
def test_hostile_titles_render_and_the_qr_still_decodes(title):
    poster = ca.poster_png(ca.qr_png(URL), title=title, text=title * 3, footer=title)
    assert ca.decode_qr(poster) == URL


def test_clean_text_caps_lengths_and_drops_control_characters():
    assert ca.clean_text("渠" * 300, ca.TITLE_MAX) == "渠" * (ca.TITLE_MAX - 1) + "…"
    assert ca.clean_text("a\x00b\u202ec\ud800d\n e", 64) == "abcd  e"
    assert ca.clean_text("一\n二", 64, keep_newlines=True) == "一\n二"
    assert ca.clean_text("<script>", 64) == "<script>"  # drawn as is, never interpreted


def test_wrap_measures_pixel_width_not_character_count():
    font = ca.poster_font(40)
    lines = ca.wrap_text("渠道活码" * 20 + "iiiiiiiiiiiiiiiiiiiiiiiiiiiiii", font, 400, 10)
    assert all(font.getlength(line) <= 400 for line in lines)
    # Narrow Latin letters pack many more per line than full-width Chinese characters.
    assert len(lines[-1]) > len(lines[0])
    assert "".join(lines) == "渠道活码" * 20 + "i" * 30


def test_wrap_stops_at_max_lines_with_an_ellipsis_that_fits():
    font = ca.poster_font(ca.TITLE_SIZE)
    lines = ca.wrap_text("渠" * 64, font, 920, 2)
    assert len(lines) == 2 and lines[-1].endswith("…")
    assert all(font.getlength(line) <= 920 for line in lines)


def test_wrap_keeps_hard_line_breaks():
    assert ca.wrap_text("第一行\n第二行", ca.poster_font(40), 900, 4) == ["第一行", "第二行"]


def test_the_discovered_font_draws_chinese_glyphs():
    assert _draws_chinese(ca.poster_font(64))
    # The check is meaningful: Pillow's built-in font draws the same tofu box for every Chinese character.
    assert not _draws_chinese(ImageFont.load_default(64))


def test_font_from_scrm_poster_font_is_used(tmp_path):
    own = tmp_path / "own-cjk.ttc"
    shutil.copyfile(ca.poster_font_path(), own)
    assert ca.poster_font_path(str(own)) == str(own)


def test_missing_scrm_poster_font_falls_back_to_a_system_font(monkeypatch, tmp_path):
    present = tmp_path / "system-cjk.ttc"
    shutil.copyfile(ca.poster_font_path(), present)
    monkeypatch.setattr(ca, "FONT_CANDIDATES", (MISSING, str(present)))
    assert ca.poster_font_path(MISSING) == str(present)


def test_no_font_anywhere_raises_a_clear_error(monkeypatch):
    monkeypatch.setattr(ca, "FONT_CANDIDATES", (MISSING, MISSING + "2"))
    with pytest.raises(RuntimeError, match="SCRM_POSTER_FONT") as err:
        ca.poster_png(ca.qr_png(URL), title="渠道")
    assert "fonts-wqy-microhei" in str(err.value)


def test_a_font_file_that_is_no_font_raises_a_clear_error(monkeypatch, tmp_path):
    bogus = tmp_path / "bogus.ttf"
    bogus.write_bytes(b"not a font")
    with pytest.raises(RuntimeError, match="SCRM_POSTER_FONT"):
        ca.poster_font(40, str(bogus))


def test_poster_of_bytes_that_are_no_image_raises_value_error():
    with pytest.raises(ValueError, match="not a PNG or JPEG"):
        ca.poster_png(b"definitely not an image", title="渠道")
