"""Console pages for service counters (线下窗口) and entrances. A counter clerk serves a person in
person: registers them or finds their record by their document, declares for them through the
chat's declare flow (bot.chat.counter) and prints their paper code. Clerks and scanners look a
code up for someone by ID number (代查).

A clerk acts only for people whose document they were shown. Serving a person puts a grant for
them in the clerk's session, for DESK_MINUTES, and every page about a person checks it. A
person's id in a URL is not enough: without the grant it answers 404, like a missing person.
Serving and looking up draw on the clerk's LOOKUP_RATE_LIMIT (bot.web.limits).
"""
from __future__ import annotations

import re
import secrets
import time

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for

from bot.chat.conversation.answers import Phone
from bot.chat.counter import CounterDesk
from bot.chat.conversation.text import CONTROL
from bot.domain import accounts, counter as counter_rules, paper as paper_rules
from bot.domain.code_views import look_up_for
from bot.domain.errors import Invalid, NotFound
from bot.domain.models import Code, Person
from bot.infra.masking import id_tail, mask_id_number, mask_name, mask_phone
from bot.infra.texts import say
from bot.web import db
from bot.web.console.base import bp, page, services
from bot.web.console.forms import checked, document_fields, id_from_form, id_type_of

DESK_MINUTES = 30
OPTION = re.compile(r"^(\d{1,2})[ .、]\s*(\S.{0,40})$", re.M)


def _grant(person_id: int) -> None:
    now = time.time()
    grants = {k: v for k, v in (session.get("desk") or {}).items() if v > now}
    grants[str(person_id)] = now + DESK_MINUTES * 60
    session["desk"] = grants


def _served(person_id: int) -> Person:
    """The person, if this clerk was shown their document within DESK_MINUTES (404 otherwise)."""
    if (session.get("desk") or {}).get(str(person_id), 0) <= time.time():
        abort(404)
    person = db.session().get(Person, person_id)
    if person is None:
        abort(404)
    return person


def _served_code(person_id: int) -> tuple[Person, Code | None]:
    person = _served(person_id)
    return person, db.session().get(Code, person.id)


def _desk() -> CounterDesk:
    ext = current_app.extensions
    if "counter_desk" not in ext:
        ext["counter_desk"] = CounterDesk(services())
    return ext["counter_desk"]


@bp.route("/counter", methods=("GET", "POST"))
@page("counter")
def counter():
    errors, form = {}, request.form
    if request.method == "POST":
        answers, errors = checked(form, {**document_fields(form, nationality=True), "phone": Phone()},
                                  optional=("phone",))
        if not errors:
            s = db.session()
            try:
                person, outcome = counter_rules.serve(
                    s, services().vault, g.staff, **answers, id_type=id_type_of(form),
                    documents_checked=form.get("documents_checked") == "1", consent=form.get("consent") == "1")
                s.commit()
                _grant(person.id)
                flash(say("console.served", outcome=outcome))
                return redirect(url_for("console.counter_person", person_id=person.id))
            except Invalid as bad:
                s.commit()  # the audit row of a mismatch stays
                errors = {k: say("console.counter_error", error=v[0]) for k, v in (bad.errors or {}).items()}
    return render_template("console/counter.html", errors=errors, form=form), 400 if errors else 200


@bp.get("/counter/people/<int:person_id>")
@page("counter")
def counter_person(person_id):
    s = db.session()
    person, code = _served_code(person_id)
    papers = paper_rules.outstanding(s, [person.id])
    view = {"id": person.id, "name_masked": mask_name(person.name), "id_masked": mask_id_number(person.id_number),
            "tail": id_tail(person.id_number), "phone_masked": mask_phone(person.phone) if person.phone else None,
            "code": code, "accounts": accounts.listing(s, person.id), "paper": person.id in papers,
            "declaring": _desk().question(g.staff, person) is not None}
    return render_template("console/counter_person.html", p=view, paper_link=session.pop("paper_link", None))


@bp.route("/counter/people/<int:person_id>/declare", methods=("GET", "POST"))
@page("counter")
def counter_declare(person_id):
    person = _served(person_id)
    desk, replies = _desk(), []
    if request.method == "POST":
        nonce = (request.form.get("nonce") or "")[:40]
        if request.form.get("start"):
            replies = desk.start(g.staff, person, "declare", nonce)
        else:
            answer = CONTROL.sub("", request.form.get("answer") or "")[:1000]
            replies = desk.answer(g.staff, person, answer, nonce)
    question = desk.question(g.staff, person)
    if question is not None and replies and replies[-1] == question:
        replies = replies[:-1]  # the question is shown by itself, above the answer box
    choices = OPTION.findall(question or "")  # "1 是" lines: a button each, besides the answer box
    return render_template("console/counter_declare.html", person_id=person.id, name_masked=mask_name(person.name),
                           replies=replies, question=question, choices=choices, nonce=secrets.token_urlsafe(12))


@bp.post("/counter/people/<int:person_id>/paper")
@page("counter")
def counter_paper(person_id):
    s = db.session()
    person, code = _served_code(person_id)
    if code is None:
        flash(say("console.no_code_yet"), "error")
        return redirect(url_for("console.counter_person", person_id=person.id))
    settings = services().settings
    issued = paper_rules.issue(s, person, code, settings.paper_code_days, None, staff=g.staff)
    s.commit()
    session["paper_link"] = paper_rules.link(settings, person, issued)
    return redirect(url_for("console.counter_person", person_id=person.id))


@bp.route("/lookups", methods=("GET", "POST"))
@page("lookups")
def lookups():
    found, error = None, None
    if request.method == "POST":
        document = id_from_form(request.form)
        venue = CONTROL.sub("", (request.form.get("venue") or "").strip())[:64]
        if document is None or not venue:
            error = say("console.lookup_fields")
        else:
            s = db.session()
            try:
                found = look_up_for(s, services().vault, g.staff, *document, venue)
            except NotFound:
                error = say("console.not_found")
            s.commit()
    return render_template("console/lookups.html", found=found, error=error), 200 if error is None else 404
