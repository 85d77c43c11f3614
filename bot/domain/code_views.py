"""What a code shows: the image's view of a person's current code, and the verdict on a scanned
token (the code page, the push workers and the scan API read these)."""
from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import select

from bot.domain.models import Code, LimitedPass, Person, Scan, TestResult
from bot.infra import signing, texts, tokens
from bot.infra.db import utcnow
from bot.infra.images.code_image import CodeView
from bot.infra.masking import id_tail, mask_id_number, mask_name


def in_language(policy, colour: str, reason: str, next_step: str, wording: dict | None, lang: str | None = None) -> dict:
    """A code's reason and next step, and what its colour may do, in `lang` (the language in hand
    by default): the policy's translation kept with the code (codes.wording), the source words
    where there is none (a code from before 国际版 until it is next evaluated)."""
    lang = lang or texts.language.get()
    words = policy.words(lang)
    translated = (wording or {}).get(lang) or {}
    return {"reason": translated.get("reason", reason), "next_step": translated.get("next_step", next_step),
            "may": words["may"][colour], "to_green": words["to_green"].get(colour), "code_title": words["code_title"]}


def reason_in(reason: str | None, wording: dict | None, lang: str | None = None) -> str | None:
    """Just the reason, in `lang` (the language in hand by default)."""
    return ((wording or {}).get(lang or texts.language.get()) or {}).get("reason", reason)


def person_for_link(session, secret: bytes, view_token: str) -> int | None:
    """The person a code page link names, if the link still stands: signed and young enough, the
    person still there (a purge ends it), and of their current link version (a reset or an
    unbinding ends it)."""
    claim = tokens.read_view_token(secret, view_token)
    if claim is None:
        return None
    row = session.execute(select(Person.id, Person.link_version).where(Person.public_id == claim[0])).first()
    return row.id if row is not None and row.link_version == claim[1] else None


def load_view(session, person_id: int, now: dt.datetime | None = None) -> CodeView | None:
    """The person's current code as the image shows it, in the language in hand; None without a code."""
    now = now or utcnow()
    row = session.execute(select(Code.version, Code.colour, Person.name, Person.id_number, Person.public_id)
                          .join(Person, Person.id == Code.person_id).where(Code.person_id == person_id)).first()
    if row is None:
        return None
    until = session.scalar(select(LimitedPass.ends_at).where(
        LimitedPass.person_id == person_id, LimitedPass.starts_at <= now, LimitedPass.ends_at > now)
        .order_by(LimitedPass.ends_at.desc()).limit(1))
    return CodeView(person_id, row.version, row.colour, mask_name(row.name), until, id_tail(row.id_number),
                    row.public_id, texts.language.get())


def page_facts(session, person_id: int, now: dt.datetime | None = None) -> dict:
    """What the code page says besides the image: the masked ID, the reason in one line, the
    latest test and how long ago it was sampled, when time alone turns the code green."""
    now = now or utcnow()
    row = session.execute(select(Person.id_type, Person.id_number, Code.reason, Code.wording, Code.green_at)
                          .join(Code, Code.person_id == Person.id).where(Person.id == person_id)).first()
    if row is None:
        return {}
    test = session.execute(select(TestResult.result, TestResult.sampled_at).where(
        TestResult.person_id == person_id, TestResult.voided_at.is_(None), TestResult.sampled_at <= now)
        .order_by(TestResult.sampled_at.desc()).limit(1)).first()
    hours = None if test is None else int((now - test.sampled_at).total_seconds() // 3600)
    return {"id_masked": mask_id_number(row.id_number), "reason": (row.reason or "").splitlines()[0] if row.reason else "",
            "wording": row.wording, "green_at": row.green_at, "test": None if test is None else {"result": test.result, "hours": hours}}


INVALID = {"verdict": "invalid", "colour": None, "masked_name": None, "person_id": None, "version": None}


def check_signed(session, text: str, public_keys: dict, now: float) -> dict | None:
    """The verdict on a signed claim (bot.infra.signing), or None when the text is not one: its
    signature and time window as a checkpoint offline would see them, then what only the server
    knows, that the person is still there and the code is still this version ("outdated")."""
    if signing.decode(text) is None:
        return None
    result = signing.verify(text, public_keys, now)
    if result.verdict in ("bad_signature", "unknown_key", "invalid", "not_yet_valid"):
        return dict(INVALID)
    c = result.claim
    row = session.execute(select(Person.id, Code.version, Code.colour).join(Code, Code.person_id == Person.id)
                          .where(Person.public_id == c.public_id)).first()
    if row is None:  # signed by us, but the person is gone (purged)
        return dict(INVALID)
    verdict = result.verdict if row.version == c.version else "outdated"
    return {"verdict": verdict, "colour": c.colour if verdict == "valid" else None, "masked_name": c.name_masked,
            "person_id": row.id, "version": c.version}


def check_scan(session, settings, token: str, now: float | None = None, public_keys: dict | None = None) -> dict:
    """The verdict on what a QR holds: a signed claim (with `public_keys`), or the older HMAC scan
    token, valid only if signed, young enough, and of the current code version (a screenshot of
    an older code scans as expired)."""
    now = time.time() if now is None else now
    if public_keys is not None:
        signed = check_signed(session, tokens.token_from_scan(token), public_keys, now)
        if signed is not None:
            return signed
    claim = tokens.read_scan_token(settings.secret_key, tokens.token_from_scan(token), settings.code_token_ttl, now)
    if claim.verdict == "invalid":
        return dict(INVALID)
    row = session.execute(select(Code.version, Code.colour, Person.name).join(Person, Person.id == Code.person_id)
                          .where(Code.person_id == claim.person_id)).first()
    if row is None:  # signed by us, but the person or code is gone (purged)
        return dict(INVALID)
    verdict = claim.verdict if row.version == claim.version else "expired"
    return {"verdict": verdict, "colour": row.colour if verdict == "valid" else None,
            "masked_name": mask_name(row.name), "person_id": claim.person_id, "version": claim.version}


def record_scan(session, settings, staff, token: str, venue: str, public_keys: dict | None = None) -> dict:
    """A venue's check of a code, recorded as the seeds require (time, venue, masked name, colour)."""
    result = check_scan(session, settings, token, public_keys=public_keys)
    scan = Scan(venue=venue.strip(), staff_id=staff.id, person_id=result["person_id"], code_version=result["version"],
                colour=result["colour"], verdict=result["verdict"], masked_name=result["masked_name"])
    session.add(scan)
    session.flush()
    return {"verdict": result["verdict"], "colour": result["colour"], "masked_name": result["masked_name"],
            "scanned_at": scan.at.isoformat(), "scan_id": scan.id}


def look_up_for(session, vault, staff, id_type: str, number: str, venue: str) -> dict:
    """代查 (seed 003): staff at an entrance look up the code of someone without a phone, by ID
    number. Only the colour and the masked name come back; the look-up is recorded like a scan
    (venue, time) and audited. NotFound when nobody has the number or has no code yet."""
    from bot.domain import audit
    from bot.domain.errors import NotFound
    from bot.domain.people import find_person
    from bot.infra.masking import mask_id_number

    person = find_person(session, vault, id_type, number)
    code = session.get(Code, person.id) if person is not None else None
    if code is None:
        audit.by_staff(session, staff, "person.lookup_for", person.id if person else None, found=False,
                       id_masked=mask_id_number(number))
        raise NotFound("no code for this number")
    scan = Scan(venue=venue.strip(), staff_id=staff.id, person_id=person.id, code_version=code.version,
                colour=code.colour, verdict="lookup", masked_name=mask_name(person.name))
    session.add(scan)
    session.flush()
    audit.by_staff(session, staff, "person.lookup_for", person.id, found=True, id_masked=mask_id_number(number),
                   scan_id=scan.id)
    return {"colour": code.colour, "masked_name": scan.masked_name, "looked_up_at": scan.at.isoformat(),
            "scan_id": scan.id}
