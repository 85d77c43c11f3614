"""The FAQ knowledge base (config/faq.json), read once and numbered; the chat service hands it to
the flows as ctx.options["faq"] (the flows read no files)."""
from __future__ import annotations

import json
from functools import lru_cache

from bot.chat.conversation.text import fold
from bot.infra.config import ROOT


@lru_cache(maxsize=1)
def entries() -> tuple[dict, ...]:
    data = json.loads((ROOT / "config" / "faq.json").read_text(encoding="utf-8"))
    return tuple(dict(e, number=i, keywords=[fold(k) for k in e["keywords"]]) for i, e in enumerate(data["entries"], 1))
