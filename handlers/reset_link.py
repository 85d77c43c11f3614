"""重置亮码链接: every code page link given out so far stops working (a link was shared or seen
by someone it should not have been); the reply carries the new one."""
from __future__ import annotations

from bot.chat.conversation.flow import Act, Ctx, End, Flow


def start(ctx: Ctx):
    return Act("code_link.reset", None, then=done)


def done(ctx: Ctx, result: dict):
    if not result.get("registered"):
        return End.say("code.no_code", family=[])
    return End.say("code.link_reset", **result)


FLOW = Flow(name="reset_link", entry=start, states={})
