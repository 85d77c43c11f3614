"""4 申诉: whose code, its colour and reason, the reason of the appeal, a description, up to 5
evidence images, confirm -> an appeal number and the 24-hour promise. 5 申诉进度 lists them."""
from __future__ import annotations

from dataclasses import dataclass

from bot.chat.conversation.answers import Choice, Text, Word
from bot.chat.conversation.flow import Act, Ask, Ctx, End, Flow, Invalid

MAX_IMAGES = 5


@dataclass(frozen=True)
class Subject:
    """Whose code the appeal is about (the user or a bound family member)."""
    person_id: int


@dataclass(frozen=True)
class Filing:
    person_id: int
    reason_code: int
    description: str
    media: tuple[str, ...] = ()     # the platform's media ids of the evidence images
    key: str | None = None          # the chat message (a retry files once)


def start(ctx: Ctx):
    return Act("appeal.subjects", None, then=got_subjects)


def pick_subject(ctx: Ctx, result: dict, chosen, not_registered: str):
    """You and your bound family members (appeal.subjects): the one there is, or a question."""
    if not result.get("registered"):
        return End.say(not_registered)
    ctx.data["subjects"] = result["subjects"]
    if len(result["subjects"]) == 1:
        return chosen(ctx, 1)
    return "whose"


def got_subjects(ctx: Ctx, result: dict):
    return pick_subject(ctx, result, chosen, not_registered="appeal.not_registered")


def chosen(ctx: Ctx, n: int):
    subject = ctx.data["subjects"][n - 1]
    ctx.data["subject"] = subject
    return Act("appeal.check", Subject(subject["person_id"]), then=checked)


def checked(ctx: Ctx, result: dict):
    if result.get("open_number"):
        return End.say("appeal.already_open", number=result["open_number"], deadline=result["deadline"])
    if not result.get("colour"):
        return End.say("appeal.no_code", name_masked=ctx.data["subject"]["name_masked"])
    if result["colour"] == "green" and ctx.data["subject"]["person_id"] == ctx.data["subjects"][0]["person_id"]:
        return End.say("appeal.green_own")  # nothing to correct: explained, not filed
    ctx.say("appeal.current", **ctx.data["subject"], colour=result["colour"], reason=result["reason"])
    return "reason"


def got_reason(ctx: Ctx, n: int):
    ctx.data["reason_code"] = n
    return "description"


def got_description(ctx: Ctx, text: str):
    ctx.data["description"] = text
    ctx.data["media"] = []
    return "evidence"


def got_evidence(ctx: Ctx, value):
    if not isinstance(value, str):  # an image message
        if not value.media_id:
            raise Invalid("evidence_unreadable")
        ctx.data["media"].append(value.media_id)
        if len(ctx.data["media"]) >= MAX_IMAGES:
            return "confirm"
        ctx.say("appeal.image_received", count=len(ctx.data["media"]), max=MAX_IMAGES)
        return "evidence"
    if value == "skip":
        ctx.data["media"] = []
    return "confirm"


def evidence_field(ctx: Ctx):
    return Word("evidence")


def got_confirm(ctx: Ctx, n: int):
    if n == 2:
        for key in ("reason_code", "description", "media"):
            ctx.data.pop(key, None)
        return "reason"
    payload = Filing(ctx.data["subject"]["person_id"], ctx.data["reason_code"], ctx.data["description"],
                     tuple(ctx.data.get("media", [])), key=ctx.message.dedupe_key if ctx.message else None)
    return Act("appeal.file", payload, then=filed)


def filed(ctx: Ctx, result: dict):
    if result.get("open_number"):
        return End.say("appeal.already_open", number=result["open_number"], deadline=result["deadline"])
    return End.say("appeal.filed", **result)


def summary(ctx: Ctx) -> dict:
    return {"subject": ctx.data.get("subject", {}), "images": len(ctx.data.get("media", []))}


FLOW = Flow(
    name="appeal",
    menu=4,
    entry=start,
    states={
        "whose": Ask("appeal.ask_whose", lambda ctx: Choice(len(ctx.data["subjects"])), chosen),
        "reason": Ask("appeal.ask_reason", Choice(5), got_reason),
        "description": Ask("appeal.ask_description", Text(5, 500), got_description),
        "evidence": Ask("appeal.ask_evidence", evidence_field, got_evidence, accepts=("text", "image"),
                        values=lambda ctx: {"count": len(ctx.data.get("media", [])), "max": MAX_IMAGES}),
        "confirm": Ask("appeal.ask_confirm", Choice(2, "confirm"), got_confirm, values=summary),
    },
)
