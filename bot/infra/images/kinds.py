"""What an uploaded image really is, from its bytes (never the sender's content type): only the
formats a browser shows as a plain picture. SVG (it can hold script), HTML and the rest are refused."""
from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

KINDS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
MAX_BYTES = 10 * 1024 * 1024  # WeChat's own limit for an image message


class NotAnImage(ValueError):
    """The bytes are not a JPEG, PNG, GIF or WebP picture (the message says what they are)."""


def image_type(data: bytes) -> str:
    """The content type of `data`, checked by Pillow; NotAnImage otherwise."""
    if not data:
        raise NotAnImage("empty")
    if len(data) > MAX_BYTES:
        raise NotAnImage(f"larger than {MAX_BYTES // (1024 * 1024)} MB")
    try:
        with Image.open(io.BytesIO(data)) as img:
            kind = img.format
            img.verify()  # the structure, without decoding every pixel (a decompression bomb stays cheap)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise NotAnImage(f"not a JPEG, PNG, GIF or WebP picture ({exc.__class__.__name__})") from None
    if kind not in KINDS:
        raise NotAnImage(f"{kind} is not accepted")
    return KINDS[kind]
