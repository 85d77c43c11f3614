"""解绑其他账号: the accounts other than this one stop acting as you (a lost or sold phone), and
every code page link given out so far dies with them."""
from __future__ import annotations

from bot.chat.conversation.flow import Act, Ctx, End, Flow


def start(ctx: Ctx):
    return Act("account.unbind_others", None, then=done)


def done(ctx: Ctx, result: dict):
    if not result.get("registered"):
        return End.say("family.not_registered")
    return End.say("code.others_unbound", **result)


FLOW = Flow(name="unbind_others", entry=start, states={})
