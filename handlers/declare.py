"""1 健康申报: registration the first time, then the health questions, a summary, confirm."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.chat.conversation.answers import (Choice, Day, EndDay, IdNumber, IdTypeOrNumber, Name, Nationality, Phone,
                                           Place, SmsCode)
from bot.chat.conversation.flow import Act, Ask, Ctx, End, Flow, Invalid
from bot.domain.vocab import CaseStatus, IdType, MeasureKind

CASE_KINDS = tuple(CaseStatus)
MEASURES = (*MeasureKind, None)
OVERSEAS_WINDOW = 14   # 近14天是否有境外旅居史
TRAVEL_WINDOW = 21     # 近21天是否到过中高风险地区
MEASURE_WINDOW = 60    # how long ago a measure still going on may have begun


@dataclass(frozen=True)
class Declaration:
    """What the flow hands the `declare` action: the answers, and registration the first time."""
    overseas: bool
    travel: int                          # question 7's answer, 1..4
    symptoms: bool
    name: str | None = None
    id_type: str | None = None
    id_number: str | None = None
    nationality: str | None = None       # passports: ISO 3166-1 alpha-3
    phone: str | None = None
    phone_verified: bool = False
    overseas_arrival: dt.date | None = None
    origin: str | None = None
    arrival: dt.date | None = None
    case: str | None = None
    measure: str | None = None
    measure_start: dt.date | None = None
    measure_end: dt.date | None = None   # None: the policy's usual length
    for_person_id: int | None = None     # 家人代办: about a bound family member
    key: str | None = None               # the chat message: a retry of it is stored once


@dataclass(frozen=True)
class IdCheck:
    """Who an ID number is, before registering with it (identity.check)."""
    name: str
    id_type: str
    id_number: str


@dataclass(frozen=True)
class IdRef:
    id_type: str
    id_number: str


@dataclass(frozen=True)
class BindCheck:
    id_type: str
    id_number: str
    code: str


@dataclass(frozen=True)
class SmsRequest:
    phone: str


@dataclass(frozen=True)
class SmsCheck:
    phone: str
    code: str


def start(ctx: Ctx):
    return Act("profile", None, then=begin)


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


def got_id_type(ctx: Ctx, value):
    kind, what = value
    ctx.data.pop("nationality", None)
    if kind == "type":
        ctx.data["id_type"] = what
        return "nationality" if what == IdType.PASSPORT else "id_number"
    ctx.data["id_type"] = IdType.ID_CARD
    return got_id_number(ctx, what)


def got_nationality(ctx: Ctx, code: str):
    ctx.data["nationality"] = code
    return "id_number"


def got_id_number(ctx: Ctx, value):
    number, birth = value
    ctx.data["id_number"] = number
    ctx.data["birth"] = birth.isoformat() if birth else None
    d = ctx.data
    return Act("identity.check", IdCheck(d["name"], d["id_type"], number), then=checked)


def checked(ctx: Ctx, result: dict):
    """A number nobody registered goes on to the phone; one registered on another account needs
    proof before this account may act as that person (a code to the phone on file, or staff)."""
    status = result["status"]
    if status in ("new", "unconfirmed"):
        return "phone"
    if status == "mine":
        return _bound(ctx, result["name_masked"])
    if status == "locked":
        return End.say("declare.bind_locked")
    if status == "name_mismatch":
        return End.say("declare.refused", error="name_mismatch")
    ctx.data["bind_phone"] = result.get("phone_masked")
    if not ctx.data["bind_phone"]:
        return got_bind_how(ctx, 2)  # no phone on file: staff only
    return "bind_how"


def _id_ref(ctx: Ctx) -> IdRef:
    return IdRef(ctx.data["id_type"], ctx.data["id_number"])


def got_bind_how(ctx: Ctx, n: int):
    if n == 1:
        return Act("identity.send_code", _id_ref(ctx),
                   then=lambda c, r: "bind_code" if r.get("sent") else End.say("declare.sms_limited"))
    return Act("identity.request_staff", _id_ref(ctx),
               then=lambda c, r: End.say("declare.bind_staff", code=r["code"]) if r.get("code")
               else End.say("declare.bind_locked"))


def got_bind_code(ctx: Ctx, code: str):
    d = ctx.data
    return Act("identity.bind", BindCheck(d["id_type"], d["id_number"], code), then=bind_checked)


def bind_checked(ctx: Ctx, result: dict):
    if result.get("ok"):
        ctx.say("declare.account_bound", name_masked=result["name_masked"])
        return _bound(ctx, result["name_masked"])
    if result.get("locked"):
        return End.say("declare.bind_locked")
    raise Invalid("sms_wrong")


def _bound(ctx: Ctx, name_masked: str):
    """This account now acts as the registered person: on to the health questions, as theirs."""
    for key in ("name", "id_type", "id_number", "nationality", "birth", "phone", "bind_phone"):
        ctx.data.pop(key, None)
    ctx.data.update(registered=True, who=name_masked)
    ctx.settle()
    return "overseas"


def got_phone(ctx: Ctx, phone: str):
    ctx.data["phone"] = phone
    if ctx.options.get("sms_verification"):
        return Act("sms.send", SmsRequest(phone), then=sms_sent)
    return "overseas"


def sms_sent(ctx: Ctx, result: dict):
    if not result.get("sent"):
        return End.say("declare.sms_limited")
    return "sms"


def got_sms(ctx: Ctx, code: str):
    return Act("sms.verify", SmsCheck(ctx.data["phone"], code), then=sms_checked)


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


def got_confirm(ctx: Ctx, answer: int):
    if answer == 2:
        for key in ("overseas", "overseas_arrival", "travel", "origin", "arrival", "symptoms", "case", "measure",
                    "measure_start", "measure_end"):
            ctx.data.pop(key, None)
        ctx.say("declare.refill")
        return first_question(ctx)
    d = ctx.data
    payload = Declaration(
        overseas=bool(d["overseas"]), travel=d["travel"], symptoms=bool(d["symptoms"]), name=d.get("name"),
        id_type=d.get("id_type"), id_number=d.get("id_number"), nationality=d.get("nationality"), phone=d.get("phone"),
        phone_verified=bool(d.get("phone_verified")), overseas_arrival=_day(d.get("overseas_arrival")),
        origin=d.get("origin"), arrival=_day(d.get("arrival")), case=d.get("case"), measure=d.get("measure"),
        measure_start=_day(d.get("measure_start")), measure_end=_day(d.get("measure_end")),
        for_person_id=d.get("for_person_id"), key=ctx.message.dedupe_key if ctx.message else None)
    return Act("declare", payload, then=declared)


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


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
        "nationality": Ask("declare.ask_nationality", Nationality(), got_nationality),
        "id_number": Ask("declare.ask_id_number",
                         lambda ctx: IdNumber(ctx.data["id_type"], ctx.today, ctx.data.get("nationality")), got_id_number),
        "phone": Ask("declare.ask_phone", Phone(), got_phone),
        "sms": Ask("declare.ask_sms", SmsCode(), got_sms),
        "bind_how": Ask("declare.ask_bind_how", Choice(2), got_bind_how),
        "bind_code": Ask("declare.ask_bind_code", SmsCode(), got_bind_code),
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
        "confirm": Ask("declare.summary", Choice(2, "confirm"), got_confirm),
    },
)
