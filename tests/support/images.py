"""Small real pictures (evidence must be a JPEG, PNG, GIF or WebP Pillow can read)."""
from __future__ import annotations

import io

from PIL import Image


def picture(kind: str = "JPEG", shade: int = 0, size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40 + shade * 20, 40)).save(out, kind)
    return out.getvalue()


SVG_WITH_SCRIPT = (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
                   b'<script>fetch("/console/people")</script><rect width="10" height="10"/></svg>')
