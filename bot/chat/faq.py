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
from bot.infra.texts import LANGUAGES, SOURCE_LANGUAGE


@lru_cache(maxsize=1)
def _data() -> dict:
    return json.loads((ROOT / "config" / "faq.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def intents(lang: str = SOURCE_LANGUAGE) -> dict[str, tuple[str, ...]]:
    key = "intents" if lang == SOURCE_LANGUAGE else f"intents_{lang}"
    return {name: tuple(fold(w) for w in words) for name, words in _data().get(key, {}).items()}


@lru_cache(maxsize=None)
def entries(lang: str = SOURCE_LANGUAGE) -> tuple[dict, ...]:
    """The entries in `lang` (国际版: an entry's "en" holds its question, answer, keywords and
    policy versions in English)."""
    kinds = intents(lang)
    out = []
    for i, source in enumerate(_data()["entries"], 1):
        e = {k: v for k, v in source.items() if k not in LANGUAGES}
        if lang != SOURCE_LANGUAGE:
            e.update(source[lang])
        q = fold(e["q"])
        asks = set(e.get("asks", ())) | {name for name, words in kinds.items() if any(w in q for w in words)}
        out.append(dict(e, number=i, keywords=[fold(k) for k in e["keywords"]], pairs=pairs(e["q"]),
                        asks=sorted(asks)))
    return tuple(out)
