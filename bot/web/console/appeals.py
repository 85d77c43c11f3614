"""Console pages for reviewers: the appeal queue, the appeal (opening an undecided one claims it,
首问负责制), its evidence, the decision form."""
from __future__ import annotations

import json
from functools import lru_cache

from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from bot.chat.conversation.text import CONTROL
from bot.domain import appeal_reviews as reviews
from bot.domain import appeals as appeal_rules
from bot.domain.vocab import AppealStatus
from bot.domain.errors import DomainError, NotFound
from bot.domain.models import Staff
from bot.infra.config import ROOT
from bot.web import db
from bot.web.headers import evidence_response
from bot.infra.db import utcnow
from bot.infra.texts import say
from bot.web.console.base import bp, local_instant, page, services


def _appeal(s, number: str):
    try:
        return reviews.appeal_by_number(s, number)
    except NotFound:
        abort(404)


@bp.get("/appeals")
@page("appeals")
def appeals():
    status = request.args.get("status", AppealStatus.OPEN)
    if status not in (AppealStatus.OPEN, "overdue", AppealStatus.DECIDED, "all"):
        status = AppealStatus.OPEN
    return render_template("console/appeals.html", appeals=reviews.queue(db.session(), status), status=status,
                           now=utcnow().isoformat())


@bp.get("/appeals/<number>")
@page("appeals")
def appeal(number):
    """Opening an undecided appeal claims it for the first reviewer (首问负责制)."""
    s = db.session()
    a = _appeal(s, number)
    note = None
    if a.status == AppealStatus.OPEN and g.staff.role == "reviewer":  # an admin looks without taking it
        try:
            appeal_rules.claim(s, a, g.staff.id)
        except DomainError as exc:
            note = str(exc)
    info = reviews.detail(s, g.staff, a)
    s.commit()
    mine = a.claimed_by_id == g.staff.id
    others = [] if not (mine or g.staff.role == "admin") else s.execute(
        select(Staff.id, Staff.name).where(Staff.role == "reviewer", Staff.disabled_at.is_(None),
                                           Staff.id != a.claimed_by_id).order_by(Staff.name)).all()
    return render_template("console/appeal.html", a=info, mine=mine, note=note, reviewers=others,
                           replies=reply_templates(), may_hand_over=(mine or g.staff.role == "admin")
                           and a.status == AppealStatus.CLAIMED)


@lru_cache(maxsize=1)
def reply_templates() -> list[dict]:
    """The reply templates of config/replies.json (the reviewer edits before sending)."""
    return json.loads((ROOT / "config" / "replies.json").read_text(encoding="utf-8"))["replies"]


@bp.post("/appeals/<number>/handover")
@page("appeals")
def handover(number):
    """Release the appeal (no one chosen) or reassign it to another reviewer."""
    s = db.session()
    a = _appeal(s, number)
    to = request.form.get("to") or None
    try:
        appeal_rules.hand_over(s, a, g.staff, int(to) if to and to.isdigit() else None)
        s.commit()
        flash(say("console.handed_over" if to else "console.released", number=number))
        return redirect(url_for("console.appeals"))
    except DomainError as exc:
        s.rollback()
        flash(str(exc), "error")
        return redirect(url_for("console.appeal", number=number))


@bp.get("/appeals/<number>/evidence/<int:evidence_id>")
@page("appeals")
def evidence(number, evidence_id):
    s = db.session()
    try:
        data, ctype = reviews.read_evidence(s, services().vault, g.staff, _appeal(s, number), evidence_id,
                                            via="console")
    except NotFound:
        abort(404)
    s.commit()
    return evidence_response(data, ctype)


def _problems(form) -> tuple[list[str], dict]:
    """What is wrong with the decision form, and the decision it asks for."""
    outcome, reply = form.get("outcome"), (form.get("reply") or "").strip()
    void = [f for f in form.getlist("void") if f]
    colour = form.get("colour") or None
    problems, until = [], None
    if outcome not in ("corrected", "upheld"):
        problems.append(say("console.choose_outcome"))
    if outcome == "corrected":
        if not void and colour not in ("green", "yellow", "red"):
            problems.append(say("console.correction_needed"))
        if void and colour:
            problems.append(say("console.void_or_designate"))
        try:
            until = local_instant(form.get("until"))
        except ValueError:
            problems.append(say("console.until_invalid"))
        if until is not None and until <= utcnow():
            problems.append(say("console.until_invalid"))
    if not 2 <= len(reply) <= 500:
        problems.append(say("console.reply_length"))
    if CONTROL.search(reply):
        problems.append(say("console.reply_control"))
    designation = {"colour": colour, "until": until} if outcome == "corrected" and colour and not void else None
    return problems, {"outcome": outcome, "reply": reply, "void": void if outcome == "corrected" else [],
                      "designation": designation}


@bp.post("/appeals/<number>/decision")
@page("appeals")
def decide(number):
    s = db.session()
    a = _appeal(s, number)
    problems, d = _problems(request.form)
    if not problems:
        try:
            appeal_rules.decide(s, services(), a, g.staff.id, d["outcome"], d["reply"], void=d["void"],
                                designation=d["designation"])
            s.commit()
            flash(say("console.decided", number=number))
            return redirect(url_for("console.appeals"))
        except DomainError as exc:
            s.rollback()
            problems.append(str(exc))
    for p in problems:
        flash(p, "error")
    return redirect(url_for("console.appeal", number=number))
