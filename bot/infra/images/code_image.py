"""The code image: a QR of PUBLIC_BASE_URL/v/<scan token> drawn in the code's colour, the colour
word, the masked name, the date and minute, and `限时通行至 HH:MM` while a limited pass runs.
In the viewer's language (国际版: English words drawn in a Latin font).

A palette image (white, the colour, grey text) keeps the PNG small. The QR is drawn by scaling a
one-pixel-per-module image, not module by module. Images are cached in Redis per person, code
version, token minute and pass: a refresh of an unchanged code within the minute is one GET.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bot.infra.images import qr
from bot.infra import signing, tokens
from bot.infra import texts
from bot.infra.texts import SOURCE_LANGUAGE, say

log = logging.getLogger(__name__)

WIDTH = 360
QR_SPAN = 300            # pixels the QR and its quiet zone may take
QUIET = 4                # modules of quiet zone around the QR, as the standard asks
RGB = {"green": (0x16, 0x9B, 0x3C), "yellow": (0xD8, 0x8C, 0x00), "red": (0xD6, 0x2A, 0x20)}
GREY = (0x33, 0x33, 0x33)
CACHE_PREFIX = "code:img"

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
)


LATIN_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/System/Library/Fonts/Helvetica.ttc",
)


class FontMissing(RuntimeError):
    pass


def find_font(configured: str | None) -> str:
    """FONT_PATH, else a CJK font found on the system; a clear error when there is none."""
    if configured:
        return configured
    for path in FONT_CANDIDATES:
        if Path(path).is_file():
            return path
    raise FontMissing("no CJK font found for code images: set FONT_PATH to a .ttf/.ttc file, or install "
                      "one (Debian: apt-get install fonts-wqy-microhei; `make dev` does this)")


def find_latin_font(configured: str | None, cjk_font: str) -> str:
    """LATIN_FONT_PATH, else a Latin font found on the system, else the CJK font (whose Latin
    letters serve, less well)."""
    if configured:
        return configured
    return next((path for path in LATIN_FONT_CANDIDATES if Path(path).is_file()), cjk_font)


@lru_cache(maxsize=16)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size)


@dataclass(frozen=True)
class CodeView:
    """What the image shows, read from the database by the caller."""
    person_id: int
    version: int
    colour: str
    name_masked: str
    pass_until: dt.datetime | None = None  # a limited pass running now (local time shown)
    tail: str = ""  # the document number's last 4: family members of one surname told apart
    public_id: str = ""  # what a signed claim names (people.public_id)
    language: str = SOURCE_LANGUAGE  # the viewer's: the words drawn


def cache_key(view: CodeView, period: int, kid: str = "") -> str:
    """Everything the image shows and its signature covers: a new key, name or colour is a new image."""
    until = int(view.pass_until.timestamp()) if view.pass_until else 0
    covered = hashlib.sha256(f"{view.public_id}|{view.colour}|{view.name_masked}|{view.tail}".encode()).hexdigest()[:12]
    return f"{CACHE_PREFIX}:{view.person_id}:{view.version}:{period}:{until}:{kid}:{covered}:{view.language}"


def scan_url(settings, view: CodeView, period: int, signer=None) -> str:
    """What the QR holds: a claim signed with the current key (verifiable offline, bot.infra.signing),
    valid CODE_TOKEN_TTL from the start of its minute; without a signer, the HMAC scan token."""
    if signer is not None and view.public_id:
        kid, private = signer
        start = period * tokens.SCAN_PERIOD
        claim = signing.Claim(view.public_id, view.colour, view.version, start, start + settings.code_token_ttl,
                              view.name_masked)
        return f"{settings.public_base_url}/v/{signing.encode(claim, private)}"
    token = tokens.scan_token(settings.secret_key, view.person_id, view.version, period)
    return f"{settings.public_base_url}/v/{token}"


def render(view: CodeView, url: str, at: dt.datetime, font_path: str) -> bytes:
    """The PNG, its words in view.language. `at` is the local time printed (the token's minute)."""
    token = texts.language.set(view.language)
    try:
        return _draw(view, url, at, font_path)
    finally:
        texts.language.reset(token)


def _draw(view: CodeView, url: str, at: dt.datetime, font_path: str) -> bytes:
    matrix = qr.make(url)
    span = matrix.size + 2 * QUIET
    scale = max(QR_SPAN // span, 2)
    qr_px = span * scale
    big, small = _font(font_path, 34), _font(font_path, 20)
    lines = [say("image.stamp", at=at)]
    if view.pass_until is not None:
        lines.append(say("image.pass_until", until=view.pass_until))
    height = 20 + 44 + 34 + qr_px + 8 + 30 * len(lines) + 12

    canvas = Image.new("P", (WIDTH, height), 0)
    colour = RGB[view.colour]
    canvas.putpalette([255, 255, 255, *colour, *GREY])
    draw = ImageDraw.Draw(canvas)
    draw.text((WIDTH // 2, 20), say("image.word", colour=view.colour), fill=1, font=big, anchor="mt")
    draw.text((WIDTH // 2, 20 + 44), say("image.name", name=view.name_masked, tail=view.tail), fill=2, font=small,
              anchor="mt")

    cells = matrix.text.encode("ascii").translate(_CELLS)  # '1' (dark) -> palette 1, '0' -> 0
    module_img = Image.frombytes("P", (matrix.size, matrix.size), cells)
    module_img = module_img.resize((matrix.size * scale, matrix.size * scale), Image.NEAREST)
    top = 20 + 44 + 34
    canvas.paste(module_img, ((WIDTH - qr_px) // 2 + QUIET * scale, top + QUIET * scale))

    y = top + qr_px + 8
    for i, line in enumerate(lines):
        draw.text((WIDTH // 2, y + 30 * i), line, fill=2 if i == 0 else 1, font=small, anchor="mt")
    out = io.BytesIO()
    canvas.save(out, "PNG", optimize=False, compress_level=6)
    return out.getvalue()


_CELLS = bytes.maketrans(b"01", b"\x00\x01")


class CodeImages:
    """Rendering with two caches in front: a small one in this process (a phone refreshing, the
    page and a push asking at once) and Redis (shared by every process)."""

    LOCAL = 1024  # images kept in process memory (about 2 KB each)

    def __init__(self, settings, redis, signer=None):
        """signer: () -> (kid, Ed25519 private key), the current signing key (bot.domain.keys)."""
        self.settings, self.redis, self.signer = settings, redis, signer
        self.font_path = find_font(settings.font_path)
        self.latin_font_path = find_latin_font(settings.latin_font_path, self.font_path)
        self._local: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def png(self, view: CodeView, now: float) -> bytes:
        period = tokens.scan_period(now)
        signer = self.signer() if self.signer is not None else None
        key = cache_key(view, period, signer[0] if signer else "")
        with self._lock:
            hit = self._local.get(key)
            if hit is not None:
                self._local.move_to_end(key)
                return hit
        png = self._shared(key, view, period, signer)
        with self._lock:
            self._local[key] = png
            while len(self._local) > self.LOCAL:
                self._local.popitem(last=False)
        return png

    def _shared(self, key: str, view: CodeView, period: int, signer=None) -> bytes:
        try:
            cached = self.redis.get(key)
        except Exception as exc:  # the cache is an optimisation: render without it
            log.warning("code image cache unavailable: %s", exc.__class__.__name__)
            cached = None
        if cached is not None:
            return cached
        png = self.render(view, period, signer)
        try:
            self.redis.set(key, png, ex=tokens.SCAN_PERIOD + 30)
        except Exception:
            pass
        return png

    def render(self, view: CodeView, period: int, signer=None) -> bytes:
        from bot.infra.db import SHANGHAI

        at = dt.datetime.fromtimestamp(period * tokens.SCAN_PERIOD, SHANGHAI)
        return render(view, scan_url(self.settings, view, period, signer), at, self.font_for(view.language))

    def font_for(self, language: str) -> str:
        """Chinese in the CJK font; other languages' words in the Latin one (the paper code too)."""
        return self.font_path if language == SOURCE_LANGUAGE else self.latin_font_path
