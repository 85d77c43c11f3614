"""2 查看我的健康码: colour, since when, why, what next, the code page; bound family members too."""
from __future__ import annotations

from bot.chat.conversation.flow import Act, Ctx, End, Flow


def start(ctx: Ctx):
    return Act("my_code", None, then=show)


def show(ctx: Ctx, result: dict):
    if not result.get("colour"):
        return End.say("code.no_code", family=result.get("family", []))
    return End.say("code.show", **result)


FLOW = Flow(name="my_code", menu=2, entry=start, states={})
