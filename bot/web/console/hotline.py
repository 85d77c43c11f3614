"""The console page of 12345 operators: file an appeal for a caller after checking them (name, ID
number, last 4 digits of the phone on file: bot.domain.hotline), with the callback number the
decision is texted to; and the appeals this operator filed, with where each stands."""
from __future__ import annotations

import re

from flask import flash, g, redirect, render_template, request, url_for

from bot.chat.conversation.answers import Phone, Text
from bot.domain import hotline as hotline_rules
from bot.domain.appeals import REASON_CODES, OpenAppeal, reason_word
from bot.domain.errors import Invalid
from bot.infra.texts import say
from bot.web import db
from bot.web.console.base import bp, page, services
from bot.web.console.forms import checked, document_fields, id_type_of

DESCRIPTION = (5, 500)   # as the chat's appeal description


def _answers(form) -> tuple[dict, dict]:
    out, errors = checked(form, {**document_fields(form), "callback_phone": Phone(),
                                 "description": Text(*DESCRIPTION)})
    out["id_type"] = id_type_of(form)
    out["phone_tail"] = tail = (form.get("phone_tail") or "").strip()
    if not re.fullmatch(r"\d{4}", tail):
        errors["phone_tail"] = say("errors.phone_tail")
    reason = form.get("reason_code") or ""
    if not reason.isdigit() or int(reason) not in REASON_CODES:
        errors["reason_code"] = say("console.choose_reason")
    else:
        out["reason_code"] = int(reason)
    return out, errors


@bp.route("/hotline", methods=("GET", "POST"))
@page("hotline")
def hotline():
    s = db.session()
    errors, form = {}, request.form
    if request.method == "POST":
        answers, errors = _answers(form)
        if not errors:
            try:
                appeal = hotline_rules.file_for_caller(s, services(), g.staff, **answers)
                s.commit()
                flash(say("console.hotline_filed", number=appeal.number))
                return redirect(url_for("console.hotline"))
            except OpenAppeal as exc:
                s.rollback()
                errors = {"identity": say("console.hotline_open", number=str(exc))}
            except Invalid as bad:
                s.commit()  # the audit row of a caller not verified stays
                errors = {k: say("console.counter_error", error=v[0]) for k, v in (bad.errors or {}).items()}
    return render_template("console/hotline.html", errors=errors, form=form if errors else {},
                           filed=hotline_rules.filed_by(s, g.staff),
                           reasons=[(r, reason_word(r)) for r in REASON_CODES]), 400 if errors else 200
