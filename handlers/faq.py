"""0 常见问题: the numbered questions of the knowledge base (ctx.options["faq"]); a number, or words
matching a question's keywords, show its answer in the active region policy's version."""
from __future__ import annotations

from bot.chat.conversation.answers import Answer
from bot.chat.conversation.flow import Ask, Ctx, End, Flow, Invalid
from bot.chat.conversation.text import fold


def find(entries, text: str) -> dict | None:
    """The entry whose keywords the text holds most of (ties: the first listed)."""
    t = fold(text)
    best, hits = None, 0
    for entry in entries:
        n = sum(1 for k in entry["keywords"] if k in t)
        if n > hits:
            best, hits = entry, n
    return best


class Question(Answer):
    def __init__(self, entries, **kwargs):
        super().__init__(**kwargs)
        self.entries = entries

    def parse(self, text):
        t = fold(text).rstrip(".、")
        if t.isdigit():
            if 1 <= int(t) <= len(self.entries):
                return self.entries[int(t) - 1]
            raise Invalid("choice", n=len(self.entries))
        found = find(self.entries, t)
        if found is None:
            raise Invalid("faq_unknown")
        return found


def start(ctx: Ctx):
    return "pick"


def answer(ctx: Ctx, entry: dict):
    """The answer in the active region policy's version where it differs (config/faq.json by_policy)."""
    return End.say("faq.answer", q=entry["q"], a=entry.get("by_policy", {}).get(ctx.options.get("policy"), entry["a"]))


def match(ctx: Ctx, text: str):
    found = find(ctx.options.get("faq", ()), text) if len(text) >= 2 and not text.isdigit() else None
    return answer(ctx, found) if found else None


FLOW = Flow(name="faq", menu=0, entry=start, match=match,
            states={"pick": Ask("faq.list", lambda ctx: Question(ctx.options.get("faq", ())), answer,
                                values=lambda ctx: {"entries": ctx.options.get("faq", ())})})
