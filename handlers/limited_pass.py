"""6 限时通行 (Guangxi rule): a yellow code only, once per yellow episode, 1 to 24 hours, the
destination, confirm. The code shows `限时通行至 HH:MM` until then; the colour stays yellow."""
from __future__ import annotations

from dataclasses import dataclass

from bot.chat.conversation.answers import Choice, Number, Text
from bot.chat.conversation.flow import Act, Ask, Ctx, End, Flow


@dataclass(frozen=True)
class PassRequest:
    hours: int
    destination: str


def start(ctx: Ctx):
    return Act("pass.check", None, then=checked)


def checked(ctx: Ctx, result: dict):
    if not result.get("registered"):
        return End.say("pass.not_registered")
    if result.get("colour") != "yellow":
        return End.say("pass.not_yellow", colour=result.get("colour"))
    if result.get("active_until"):
        return End.say("pass.active", until=result["active_until"], link=result["link"])
    if result.get("used"):
        return End.say("pass.used")
    ctx.data["max_hours"] = result["max_hours"]
    return "hours"


def got_hours(ctx: Ctx, hours: int):
    ctx.data["hours"] = hours
    return "destination"


def got_destination(ctx: Ctx, text: str):
    ctx.data["destination"] = text
    return "confirm"


def got_confirm(ctx: Ctx, n: int):
    if n == 2:
        return End.say("pass.cancelled")
    return Act("pass.create", PassRequest(ctx.data["hours"], ctx.data["destination"]), then=created)


def created(ctx: Ctx, result: dict):
    if result.get("error"):
        return End.say("pass.refused", error=result["error"])
    return End.say("pass.created", **result)


FLOW = Flow(
    name="limited_pass",
    menu=6,
    feature="limited_pass",
    entry=start,
    states={
        "hours": Ask("pass.ask_hours", lambda ctx: Number(1, ctx.data.get("max_hours", 24)), got_hours,
                     values=lambda ctx: {"max": ctx.data.get("max_hours", 24)}),
        "destination": Ask("pass.ask_destination", Text(4, 100), got_destination),
        "confirm": Ask("pass.ask_confirm", Choice(2, "confirm"), got_confirm),
    },
)
