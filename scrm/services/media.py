"""Images uploaded for welcome messages: kept here, and uploaded to the host when a message needs them (WeCom
temporary media lives 3 days, so an expired copy is uploaded again)."""
from __future__ import annotations

import hashlib
import io
from datetime import timedelta

from sqlalchemy import select

from scrm.db import unit_of_work
from scrm.errors import NotFound, ValidationError
from scrm.extensions import db
from scrm.host import Host
from scrm.models import Corp, Media, utcnow

MAX_IMAGE_BYTES = 10 * 1024 * 1024  # WeCom: an image is at most 10 MB
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}  # what WeCom takes for image messages
MAX_PIXELS = 50_000_000  # far above any photo a welcome message needs; a decompression bomb claims far more
RENEW_BEFORE = timedelta(hours=1)  # a host copy this close to expiry is replaced before use


def save_image(corp: Corp, filename: str, content: bytes) -> Media:
    """Store an uploaded image after checking it really is a PNG or JPEG within the host's size limit."""
    from PIL import Image, UnidentifiedImageError

    if not content:
        raise ValidationError("file", "is empty")
    if len(content) > MAX_IMAGE_BYTES:
        raise ValidationError("file", f"at most {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
    try:
        with Image.open(io.BytesIO(content)) as image:
            kind, (width, height) = image.format, image.size
            image.verify()
    except Image.DecompressionBombError:
        raise ValidationError("file", f"at most {MAX_PIXELS // 1_000_000} million pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ValidationError("file", "is not a readable image") from None
    if width * height > MAX_PIXELS:  # a few kilobytes can claim billions of pixels: whoever decodes it pays
        raise ValidationError("file", f"at most {MAX_PIXELS // 1_000_000} million pixels")
    if kind not in IMAGE_TYPES:
        raise ValidationError("file", f"must be PNG or JPEG, not {kind}")
    digest = hashlib.sha256(content).hexdigest()
    name = (filename or "image").replace("\\", "/").rsplit("/", 1)[-1][:128] or "image"
    with unit_of_work():
        found = db.session.scalar(select(Media).where(Media.corp_id == corp.id, Media.sha256 == digest))
        if found is not None:
            return found
        media = Media(corp_id=corp.id, filename=name, content_type=IMAGE_TYPES[kind], size=len(content),
                      sha256=digest, content=content)
        db.session.add(media)
    return media


def get_media(corp: Corp, media_id: int) -> Media:
    media = db.session.get(Media, media_id)
    if media is None or media.corp_id != corp.id:
        raise NotFound(f"no media {media_id}")
    return media


def host_media_id(corp: Corp, media_id: int, host: Host) -> str:
    """The host's id of this image, uploading it (again) when there is no live copy."""
    media = get_media(corp, media_id)
    if media.host_media_id and media.host_expires_at and media.host_expires_at - RENEW_BEFORE > utcnow():
        return media.host_media_id
    uploaded = host.upload_image(media.filename, media.content)
    with unit_of_work():
        media.host_media_id, media.host_expires_at = uploaded.media_id, uploaded.expires_at
    return uploaded.media_id


MEDIA_SALT = "scrm.media.public"


def public_url(media_id: int) -> str:
    """An address the host's clients can fetch the image at (a mini-program card's or a link card's picture):
    signed, so media ids cannot be walked."""
    from flask import current_app
    from itsdangerous import URLSafeSerializer

    token = URLSafeSerializer(current_app.config["SECRET_KEY"], salt=MEDIA_SALT).dumps(media_id)
    return f"{current_app.config['BASE_URL']}/h5/media/{token}"


def by_public_token(token: str) -> Media:
    from flask import current_app
    from itsdangerous import BadData, URLSafeSerializer

    try:
        media_id = URLSafeSerializer(current_app.config["SECRET_KEY"], salt=MEDIA_SALT).loads(token)
    except BadData:
        raise NotFound("no such image") from None
    media = db.session.get(Media, media_id) if isinstance(media_id, int) else None
    if media is None:
        raise NotFound("no such image")
    return media
