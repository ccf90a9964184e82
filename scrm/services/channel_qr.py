"""A channel's QR code as files: the host's own image (WeCom, fetched once and cached), or one drawn here for the
landing page (DingTalk); vector SVG and a printable poster of either."""
from __future__ import annotations

import base64
import io

from flask import current_app

from scrm.db import unit_of_work
from scrm.host import Host
from scrm.models import Channel, Corp
from scrm.services import channel_assets
from scrm.services.corps import host_for


def landing_url(channel: Channel) -> str:
    return f"{current_app.config['BASE_URL']}/h5/c/{channel.code}"


def _host_image(channel: Channel, host: Host) -> bytes | None:
    """The host's QR image of the contact way, fetched on first use and kept with what it encodes."""
    if not channel.qr_url:
        return None
    if channel.qr_image is None:
        image = host.fetch_channel_qr(channel.qr_url)
        with unit_of_work():
            channel.qr_image, channel.qr_content = image, channel_assets.decode_qr(image)
    return channel.qr_image


def png(corp: Corp, channel: Channel, *, host: Host | None = None) -> bytes:
    """The QR image customers scan."""
    image = _host_image(channel, host or host_for(corp)) if channel.qr_url else None
    return image if image is not None else channel_assets.qr_png(landing_url(channel))


def svg(corp: Corp, channel: Channel, *, host: Host | None = None) -> bytes:
    """Vector SVG of the same QR code (a host image that cannot be read is embedded as it is)."""
    image = png(corp, channel, host=host)
    content = channel.qr_content if channel.qr_url else landing_url(channel)
    if content:
        return channel_assets.qr_svg(content)
    from PIL import Image

    width, height = Image.open(io.BytesIO(image)).size
    kind = "png" if image.startswith(b"\x89PNG") else "jpeg"
    encoded = base64.b64encode(image).decode("ascii")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}"><image href="data:image/{kind};base64,{encoded}" width="{width}" height="{height}"/>'
            f'</svg>').encode()


def poster(corp: Corp, channel: Channel, *, title: str | None = None, text: str = "",
           host: Host | None = None) -> bytes:
    """A printable poster: title (the channel's name unless given), the QR code, a line of text, the corp."""
    return channel_assets.poster_png(png(corp, channel, host=host), title=title or channel.name, text=text,
                                     footer=corp.name, font=current_app.config["POSTER_FONT"])
