"""0 常见问题: numbered questions from config/faq.json; a number or matching words show an answer."""
from __future__ import annotations

import json
from functools import lru_cache

from bot.chat.conversation.flow import Ask, Ctx, End, Flow
from bot.chat.conversation.text import fold
from bot.infra.config import ROOT
from bot.chat.conversation.answers import Answer, Invalid


@lru_cache(maxsize=1)
def entries() -> list[dict]:
    data = json.loads((ROOT / "config" / "faq.json").read_text(encoding="utf-8"))
    return [dict(e, number=i, keywords=[fold(k) for k in e["keywords"]]) for i, e in enumerate(data["entries"], 1)]


def find(text: str) -> dict | None:
    """The entry whose keywords the text holds most of (ties: the first listed)."""
    t = fold(text)
    best, hits = None, 0
    for entry in entries():
        n = sum(1 for k in entry["keywords"] if k in t)
        if n > hits:
            best, hits = entry, n
    return best


class Question(Answer):
    def parse(self, text):
        t = fold(text).rstrip(".、")
        if t.isdigit():
            if 1 <= int(t) <= len(entries()):
                return entries()[int(t) - 1]
            raise Invalid("choice", n=len(entries()))
        found = find(t)
        if found is None:
            raise Invalid("faq_unknown")
        return found


def start(ctx: Ctx):
    return "pick"


def answer(ctx: Ctx, entry: dict):
    """The answer in the active region policy's version where it differs (config/faq.json by_policy)."""
    return End.say("faq.answer", q=entry["q"], a=entry.get("by_policy", {}).get(ctx.options.get("policy"), entry["a"]))


def match(ctx: Ctx, text: str):
    found = find(text) if len(text) >= 2 and not text.isdigit() else None
    return answer(ctx, found) if found else None


FLOW = Flow(name="faq", menu=0, entry=start, match=match,
            states={"pick": Ask("faq.list", Question(), answer, values=lambda ctx: {"entries": entries()})})
