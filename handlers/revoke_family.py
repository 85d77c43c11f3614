"""解除代办: the one reply that ends every family binding in which others act for you (a
registered adult is told when someone binds them, and may not have agreed)."""
from __future__ import annotations

from bot.chat.conversation.flow import Act, Ctx, End, Flow


def start(ctx: Ctx):
    return Act("family.revoke_over_me", None, then=done)


def done(ctx: Ctx, result: dict):
    if not result.get("registered"):
        return End.say("family.not_registered")
    return End.say("family.revoked_over_me", ended=result["ended"])


FLOW = Flow(name="revoke_family", entry=start, states={})
