"""The FAQ knowledge base (config/faq.json), read once and numbered; the chat service hands it to
the flows as ctx.options["faq"] (the flows read no files).

Each entry carries what the matcher needs: its keywords (folded), the character pairs of its
question, and the kinds of question it answers ("asks": where, cost, difference, ...). The kinds
come from config/faq.json's "intents": a question asking where or how much is answered only by an
entry that says where or how much, however many of its keywords it shares."""
from __future__ import annotations

import json
from functools import lru_cache

from bot.chat.conversation.text import fold, pairs
from bot.infra.config import ROOT


@lru_cache(maxsize=1)
def _data() -> dict:
    return json.loads((ROOT / "config" / "faq.json").read_text(encoding="utf-8"))


def intents() -> dict[str, tuple[str, ...]]:
    return {name: tuple(fold(w) for w in words) for name, words in _data().get("intents", {}).items()}


@lru_cache(maxsize=1)
def entries() -> tuple[dict, ...]:
    kinds = intents()
    out = []
    for i, e in enumerate(_data()["entries"], 1):
        q = fold(e["q"])
        asks = set(e.get("asks", ())) | {name for name, words in kinds.items() if any(w in q for w in words)}
        out.append(dict(e, number=i, keywords=[fold(k) for k in e["keywords"]], pairs=pairs(e["q"]),
                        asks=sorted(asks)))
    return tuple(out)
