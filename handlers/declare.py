"""1 健康申报: registration the first time, then the health questions, a summary, confirm."""
from __future__ import annotations

import datetime as dt

from bot.chat.conversation.flow import Act, Ask, Ctx, End, Flow
from bot.domain.idcard import looks_like_id_card
from bot.infra.masking import mask_id_number, mask_name, mask_phone
from bot.domain.models import ID_TYPES
from bot.chat.conversation.answers import Answer, Choice, Day, EndDay, IdNumber, Invalid, Name, Phone, Place, SmsCode

CASE_KINDS = ("confirmed", "suspected", "asymptomatic", "close_contact")
MEASURES = ("centralized_isolation", "home_isolation", "home_health_observation", "daily_health_monitoring", None)
OVERSEAS_WINDOW = 14   # 近14天是否有境外旅居史
TRAVEL_WINDOW = 21     # 近21天是否到过中高风险地区
MEASURE_WINDOW = 60    # how long ago a measure still going on may have begun


def start(ctx: Ctx):
    return Act("profile", {}, then=begin)


def begin(ctx: Ctx, profile: dict):
    ctx.data["registered"] = profile["registered"]
    ctx.data["who"] = profile.get("name_masked", "")
    return first_question(ctx)


def first_question(ctx: Ctx) -> str:
    return "overseas" if ctx.data["registered"] else "name"


# -- registration -------------------------------------------------------------------------------

def got_name(ctx: Ctx, name: str):
    ctx.data["name"] = name
    return "id_type"


class IdTypeOrNumber(Answer):
    """1/2/3 for the document type, or an ID card number typed straight away (type 1 assumed)."""

    max_length = 40

    def __init__(self, today: dt.date, **kwargs):
        super().__init__(**kwargs)
        self.today = today

    def parse(self, text):
        if looks_like_id_card(text):
            return ("number", IdNumber("id_card", self.today).parse(text))
        return ("type", ID_TYPES[Choice(3, "id_type").parse(text) - 1])


def got_id_type(ctx: Ctx, value):
    kind, what = value
    if kind == "type":
        ctx.data["id_type"] = what
        return "id_number"
    ctx.data["id_type"] = "id_card"
    return got_id_number(ctx, what)


def got_id_number(ctx: Ctx, value):
    number, birth = value
    ctx.data["id_number"] = number
    ctx.data["birth"] = birth.isoformat() if birth else None
    return "phone"


def got_phone(ctx: Ctx, phone: str):
    ctx.data["phone"] = phone
    if ctx.options.get("sms_verification"):
        return Act("sms.send", {"phone": phone}, then=sms_sent)
    return "overseas"


def sms_sent(ctx: Ctx, result: dict):
    if not result.get("sent"):
        return End.say("declare.sms_limited")
    return "sms"


def got_sms(ctx: Ctx, code: str):
    return Act("sms.verify", {"phone": ctx.data["phone"], "code": code}, then=sms_checked)


def sms_checked(ctx: Ctx, result: dict):
    if not result.get("ok"):
        raise Invalid("sms_wrong")
    ctx.data["phone_verified"] = True
    return "overseas"


# -- the health questions ------------------------------------------------------------------------

def got_overseas(ctx: Ctx, answer: int):
    ctx.data["overseas"] = answer == 1
    if answer == 1:
        return "overseas_arrival"
    ctx.data.pop("overseas_arrival", None)
    return "travel"


def got_overseas_arrival(ctx: Ctx, day: dt.date):
    ctx.data["overseas_arrival"] = day.isoformat()
    return "travel"


def got_travel(ctx: Ctx, answer: int):
    ctx.data["travel"] = answer
    if answer < 4:
        return "origin"
    ctx.data.pop("origin", None)
    ctx.data.pop("arrival", None)
    return "symptoms"


def got_origin(ctx: Ctx, place: str):
    ctx.data["origin"] = place
    return "arrival"


def got_arrival(ctx: Ctx, day: dt.date):
    ctx.data["arrival"] = day.isoformat()
    return "symptoms"


def got_symptoms(ctx: Ctx, answer: int):
    ctx.data["symptoms"] = answer == 1
    return "case"


def got_case(ctx: Ctx, answer: int):
    if answer == 1:
        return "case_kind"
    ctx.data["case"] = None
    return "measure"


def got_case_kind(ctx: Ctx, answer: int):
    ctx.data["case"] = CASE_KINDS[answer - 1]
    return "measure"


def got_measure(ctx: Ctx, answer: int):
    ctx.data["measure"] = MEASURES[answer - 1]
    if ctx.data["measure"] is None:
        ctx.data.pop("measure_start", None)
        ctx.data.pop("measure_end", None)
        return "confirm"
    return "measure_start"


def got_measure_start(ctx: Ctx, day: dt.date):
    ctx.data["measure_start"] = day.isoformat()
    return "measure_end"


def got_measure_end(ctx: Ctx, day: dt.date | None):
    """None: not known, the policy's usual length applies (every measure ends)."""
    ctx.data["measure_end"] = day.isoformat() if day else None
    return "confirm"


def summary(ctx: Ctx) -> dict:
    d = ctx.data
    return {"name_masked": mask_name(d.get("name")) or d.get("who", ""),
            "id_masked": mask_id_number(d.get("id_number")), "phone_masked": mask_phone(d.get("phone"))}


def got_confirm(ctx: Ctx, answer: int):
    if answer == 2:
        for key in ("overseas", "overseas_arrival", "travel", "origin", "arrival", "symptoms", "case", "measure",
                    "measure_start", "measure_end"):
            ctx.data.pop(key, None)
        ctx.say("declare.refill")
        return first_question(ctx)
    fields = ("name", "id_type", "id_number", "phone", "phone_verified", "overseas", "overseas_arrival", "travel",
              "origin", "arrival", "symptoms", "case", "measure", "measure_start", "measure_end")
    payload = {k: ctx.data.get(k) for k in fields}
    if ctx.data.get("for_person_id"):  # 家人代办: the same questions about a bound family member
        payload["for_person_id"] = ctx.data["for_person_id"]
    # retries of this very message carry the same key: the declaration is stored once
    payload["key"] = ctx.message.dedupe_key if ctx.message else None
    return Act("declare", payload, then=declared)


def declared(ctx: Ctx, result: dict):
    if result.get("error"):
        return End.say("declare.refused", error=result["error"])
    return End.say("declare.done", **result)


FLOW = Flow(
    name="declare",
    menu=1,
    entry=start,
    states={
        "name": Ask("declare.ask_name", Name(), got_name),
        "id_type": Ask("declare.ask_id_type", lambda ctx: IdTypeOrNumber(ctx.today), got_id_type),
        "id_number": Ask("declare.ask_id_number", lambda ctx: IdNumber(ctx.data["id_type"], ctx.today), got_id_number),
        "phone": Ask("declare.ask_phone", Phone(), got_phone),
        "sms": Ask("declare.ask_sms", SmsCode(), got_sms),
        "overseas": Ask("declare.ask_overseas", Choice(2, "yes_no"), got_overseas),
        "overseas_arrival": Ask("declare.ask_overseas_arrival", lambda ctx: Day(ctx.today, OVERSEAS_WINDOW),
                                got_overseas_arrival),
        "travel": Ask("declare.ask_travel", Choice(4, "travel"), got_travel),
        "origin": Ask("declare.ask_origin", Place(), got_origin),
        "arrival": Ask("declare.ask_arrival", lambda ctx: Day(ctx.today, TRAVEL_WINDOW), got_arrival),
        "symptoms": Ask("declare.ask_symptoms", Choice(2, "yes_no"), got_symptoms),
        "case": Ask("declare.ask_case", Choice(2, "yes_no"), got_case),
        "case_kind": Ask("declare.ask_case_kind", Choice(4), got_case_kind),
        "measure": Ask("declare.ask_measure", Choice(5, "measure"), got_measure),
        "measure_start": Ask("declare.ask_measure_start", lambda ctx: Day(ctx.today, MEASURE_WINDOW), got_measure_start),
        "measure_end": Ask("declare.ask_measure_end", lambda ctx: EndDay(ctx.today), got_measure_end),
        "confirm": Ask("declare.summary", Choice(2, "confirm"), got_confirm, values=summary),
    },
)
