"""8 打印纸质码: a printable page with a signed QR valid PAPER_CODE_DAYS, for yourself or a bound
family member (seed 003: 纸质健康码, for people without a smartphone)."""
from __future__ import annotations

from dataclasses import dataclass

from bot.chat.conversation.flow import Act, Ask, Ctx, End, Flow
from bot.chat.conversation.answers import Choice
from handlers import appeal


@dataclass(frozen=True)
class PaperFor:
    person_id: int


def start(ctx: Ctx):
    return Act("appeal.subjects", None, then=got_subjects)  # you and your bound family members


def got_subjects(ctx: Ctx, result: dict):
    return appeal.pick_subject(ctx, result, chosen, not_registered="paper.not_registered")


def chosen(ctx: Ctx, n: int):
    subject = ctx.data["subjects"][n - 1]
    return Act("paper.issue", PaperFor(subject["person_id"]), then=issued)


def issued(ctx: Ctx, result: dict):
    if not result.get("colour"):
        return End.say("paper.no_code", name_masked=result.get("name_masked", ""))
    return End.say("paper.ready", **result)


FLOW = Flow(name="paper_code", menu=8, entry=start, states={
    "whose": Ask("paper.ask_whose", lambda ctx: Choice(len(ctx.data["subjects"])), chosen),
})
