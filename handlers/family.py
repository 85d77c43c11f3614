"""3 家人代办: add a family member, view their codes, declare for them, unbind.

Children under 14 only as 子女 of a registered adult; someone 14 or over only with their consent
confirmed; at most 10 members per account and 3 accounts per member; never yourself (the action
checks the limits and who is who). Every proxy action is audited by the actions."""
from __future__ import annotations

from dataclasses import dataclass

from bot.chat.conversation.answers import Choice, IdNumber, Name
from bot.chat.conversation.flow import Act, Ask, Ctx, End, Flow, Invalid
from bot.domain.vocab import IdType, Relation
from handlers import declare

RELATIONS = tuple(Relation)
ADULT_AGE = 14


@dataclass(frozen=True)
class NewMember:
    """What `family.add` binds: the member as typed, their age from the ID, consent when 14 or over."""
    relation: str
    name: str
    id_number: str
    age: int | None
    consent: bool = False


@dataclass(frozen=True)
class Member:
    person_id: int
HEALTH = ("overseas", "overseas_arrival", "travel", "origin", "arrival", "symptoms", "case", "case_kind", "measure",
          "measure_start", "measure_end", "confirm")


def start(ctx: Ctx):
    return Act("family.list", None, then=listed)


def listed(ctx: Ctx, result: dict):
    if not result.get("registered"):
        return End.say("family.not_registered")
    ctx.data["members"] = result["members"]
    ctx.data["adult"] = result.get("adult", True)
    return "menu"


def got_menu(ctx: Ctx, n: int):
    members = ctx.data["members"]
    if n == 1:
        if len(members) >= 10:
            return End.say("family.refused", error="too_many_members")
        return "relation"
    if not members:
        return End.say("family.no_members")
    if n == 2:
        return Act("family.view", None, then=lambda c, r: End.say("family.view", members=r["members"]))
    ctx.data["purpose"] = "declare" if n == 3 else "unbind"
    if len(members) == 1:
        return picked(ctx, 1)
    return "pick"


def picked(ctx: Ctx, n: int):
    member = ctx.data["members"][n - 1]
    ctx.data["member"] = member
    if ctx.data["purpose"] == "unbind":
        return "unbind_confirm"
    # the declaration's health questions, about the member
    ctx.data.update(registered=True, who=member["name_masked"], for_person_id=member["person_id"])
    return "overseas"


def got_relation(ctx: Ctx, n: int):
    ctx.data["relation"] = RELATIONS[n - 1]
    return "name"


def got_name(ctx: Ctx, name: str):
    ctx.data["name"] = name
    return "id_number"


def got_id_number(ctx: Ctx, value):
    number, birth = value
    ctx.data["id_number"] = number
    age = _age(birth, ctx.today) if birth else None
    ctx.data["age"] = age
    if age is not None and age < ADULT_AGE:
        if ctx.data["relation"] != "child":
            raise Invalid("family_child_relation")
        if not ctx.data.get("adult"):
            return End.say("family.refused", error="guardian_not_adult")
        return add(ctx)
    d = ctx.data  # yourself, a wrong name, someone already bound: said before asking for consent
    return Act("family.check", NewMember(d["relation"], d["name"], number, age), then=checked)


def checked(ctx: Ctx, result: dict):
    if result.get("error"):
        return End.say("family.refused", error=result["error"])
    return "consent"


def _age(birth, today) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def got_consent(ctx: Ctx, n: int):
    if n == 2:
        return End.say("family.cancelled")
    return add(ctx, consent=True)


def add(ctx: Ctx, consent: bool = False):
    d = ctx.data
    return Act("family.add", NewMember(d["relation"], d["name"], d["id_number"], d.get("age"), consent), then=added)


def added(ctx: Ctx, result: dict):
    if result.get("error"):
        return End.say("family.refused", error=result["error"])
    return End.say("family.added", **result)


def got_unbind(ctx: Ctx, n: int):
    if n == 2:
        return End.say("family.cancelled")
    return Act("family.unbind", Member(ctx.data["member"]["person_id"]),
               then=lambda c, r: End.say("family.unbound", name_masked=c.data["member"]["name_masked"]))


FLOW = Flow(
    name="family",
    menu=3,
    entry=start,
    states={
        "menu": Ask("family.ask_menu", Choice(4, "family_menu"), got_menu),
        "pick": Ask("family.ask_pick", lambda ctx: Choice(len(ctx.data["members"])), picked),
        "relation": Ask("family.ask_relation", Choice(5, "relation"), got_relation),
        "name": Ask("family.ask_name", Name(), got_name),
        "id_number": Ask("family.ask_id_number", lambda ctx: IdNumber(IdType.ID_CARD, ctx.today), got_id_number),
        "consent": Ask("family.ask_consent", Choice(2, "consent"), got_consent),
        "unbind_confirm": Ask("family.ask_unbind", Choice(2, "confirm"), got_unbind),
        **{name: declare.FLOW.states[name] for name in HEALTH},
    },
)
