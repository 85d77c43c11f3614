"""7 一键直报 (arrival report): origin, the day you left it, the arrival day, where you stay in
this city, phone confirm -> stored, the rules run on the arrival, the community verifies it."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.chat.conversation.answers import Choice, Day, Text
from bot.chat.conversation.flow import Act, Ask, Ctx, End, Flow, Invalid

@dataclass(frozen=True)
class Arrival:
    """What `arrival.report` stores: the report as typed."""
    origin: str
    left_on: dt.date
    arrival_on: dt.date
    destination: str
    key: str | None = None


WINDOW = 60  # arrival days up to 60 days back: late reporters are reached (guangxi-hechi H2, H4)


def start(ctx: Ctx):
    return Act("profile", None, then=begin)


def begin(ctx: Ctx, profile: dict):
    if not profile.get("registered"):
        return End.say("arrival.not_registered")
    ctx.data["phone_masked"] = profile.get("phone_masked", "")
    return "origin"


def got_origin(ctx: Ctx, text: str):
    ctx.data["origin"] = text
    return "left_on"


def got_left(ctx: Ctx, day):
    ctx.data["left_on"] = day.isoformat()
    return "arrival_on"


def got_arrival(ctx: Ctx, day):
    if day.isoformat() < ctx.data["left_on"]:
        raise Invalid("arrival_before_leaving")
    ctx.data["arrival_on"] = day.isoformat()
    return "destination"


def got_destination(ctx: Ctx, text: str):
    ctx.data["destination"] = text
    return "confirm"


def got_confirm(ctx: Ctx, n: int):
    if n == 2:
        return End.say("arrival.cancelled")
    d = ctx.data
    payload = Arrival(d["origin"], dt.date.fromisoformat(d["left_on"]), dt.date.fromisoformat(d["arrival_on"]),
                      d["destination"], key=ctx.message.dedupe_key if ctx.message else None)
    return Act("arrival.report", payload, then=lambda c, r: End.say("arrival.done", **r))


FLOW = Flow(
    name="arrival_report",
    menu=7,
    feature="arrival_report",
    entry=start,
    states={
        "origin": Ask("arrival.ask_origin", Text(4, 100), got_origin),
        "left_on": Ask("arrival.ask_left", lambda ctx: Day(ctx.today, WINDOW), got_left),
        "arrival_on": Ask("arrival.ask_arrival", lambda ctx: Day(ctx.today, WINDOW), got_arrival),
        "destination": Ask("arrival.ask_destination", Text(4, 100), got_destination),
        "confirm": Ask("arrival.ask_confirm", Choice(2, "confirm"), got_confirm),
    },
)
