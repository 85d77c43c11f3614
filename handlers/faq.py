"""0 常见问题: the numbered questions of the knowledge base (ctx.options["faq"]); a number, or a
question in the user's words, shows its answer in the active region policy's version.

A question in words is answered only when it matches well enough (THRESHOLD): its keywords
(longer ones weigh more) and the character pairs it shares with the entry's question, and never
when it asks a kind of thing the entry does not say (where, how much: "核酸检测在哪里做" is not
answered by "做了核酸检测，为什么健康码还没变？"). Otherwise the reply says so, lists the three
closest questions (a number shows one) and points to 12345."""
from __future__ import annotations

from bot.chat.conversation.answers import Answer
from bot.chat.conversation.flow import Ask, Ctx, End, Flow, Invalid
from bot.chat.conversation.text import fold, pairs

THRESHOLD = 3.0    # a 2-character keyword and two shared pairs, or a 3-character keyword
CLOSEST = 3
QUESTION_WORDS = ("怎么", "怎样", "如何", "哪", "多少", "多久", "为什么", "为何", "能否", "可否", "是否", "能不能",
                  "可不可以", "要不要", "是不是", "什么时候", "什么地方")


def score(entry: dict, t: str, text_pairs: frozenset[str]) -> float:
    return sum(len(k) for k in entry["keywords"] if k in t) + 0.5 * len(text_pairs & entry["pairs"])


def asked_kinds(t: str, intents: dict) -> set[str]:
    return {name for name, words in intents.items() if any(w in t for w in words)}


def find(entries, text: str, intents: dict | None = None) -> dict | None:
    """The entry that answers the text, if one does well enough."""
    t = fold(text)
    shared, kinds = pairs(t), asked_kinds(t, intents or {})
    best, top = None, 0.0
    for entry in entries:
        if kinds - set(entry.get("asks", ())):
            continue  # it asks where / how much / ..., which this entry does not say
        if not any(k in t for k in entry["keywords"]):
            continue
        s = score(entry, t, shared)
        if s > top:
            best, top = entry, s
    return best if top >= THRESHOLD else None


def closest(entries, text: str, n: int = CLOSEST) -> list[dict]:
    """The n questions nearest to the text (to offer when none answers it)."""
    t = fold(text)
    shared = pairs(t)
    ranked = sorted(enumerate(entries), key=lambda ie: (-score(ie[1], t, shared), ie[0]))
    return [{"number": e["number"], "q": e["q"]} for _, e in ranked[:n]]


def looks_like_a_question(text: str) -> bool:
    t = fold(text)
    return len(t) >= 4 and (t.rstrip("。.!！ ").endswith(("吗", "?", "呢")) or any(w in t for w in QUESTION_WORDS))


class Question(Answer):
    """A number of the list, or the user's question: the entry it matches, or the text itself."""

    def __init__(self, entries, intents, **kwargs):
        super().__init__(**kwargs)
        self.entries, self.intents = entries, intents

    def parse(self, text):
        t = fold(text).rstrip(".、")
        if t.isdigit():
            if 1 <= int(t) <= len(self.entries):
                return self.entries[int(t) - 1]
            raise Invalid("choice", n=len(self.entries))
        return find(self.entries, t, self.intents) or text


def start(ctx: Ctx):
    return "pick"


def answer(ctx: Ctx, entry):
    """The answer in the active region policy's version where it differs (config/faq.json by_policy);
    for a question none answers, the closest ones and 12345."""
    if isinstance(entry, str):
        return not_found(ctx, entry)
    return End.say("faq.answer", q=entry["q"], a=entry.get("by_policy", {}).get(ctx.options.get("policy"), entry["a"]))


def not_found(ctx: Ctx, text: str):
    ctx.data["closest"] = closest(ctx.options.get("faq", ()), text)
    return "closest"


def match(ctx: Ctx, text: str):
    """A question typed at the top level: answered, or (when it reads as a question) the closest."""
    if len(text) < 2 or text.isdigit():
        return None
    found = find(ctx.options.get("faq", ()), text, ctx.options.get("faq_intents", {}))
    if found:
        return answer(ctx, found)
    return not_found(ctx, text) if looks_like_a_question(text) else None


def _question(ctx: Ctx) -> Question:
    return Question(ctx.options.get("faq", ()), ctx.options.get("faq_intents", {}))


FLOW = Flow(name="faq", menu=0, entry=start, match=match, states={
    "pick": Ask("faq.list", _question, answer, values=lambda ctx: {"entries": ctx.options.get("faq", ())}),
    "closest": Ask("faq.not_found", _question, answer),
})
