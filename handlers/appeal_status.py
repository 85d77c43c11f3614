"""5 申诉进度: the user's appeals (theirs and their family's), newest first."""
from __future__ import annotations

from bot.chat.conversation.flow import Act, Ctx, End, Flow


def start(ctx: Ctx):
    return Act("appeal.list", None, then=show)


def show(ctx: Ctx, result: dict):
    if not result.get("registered"):
        return End.say("appeal.not_registered")
    return End.say("appeal.progress", appeals=result["appeals"])


FLOW = Flow(name="appeal_status", menu=5, entry=start, states={})
