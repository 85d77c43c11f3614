"""A person's stored facts as staff see them: each with an id ("travel:12"), what it says, its
source and when it was recorded; and voiding the ones found wrong.

A voided fact stays in its table with who voided it, when and why (the reason sealed like other
free text), and the rules never read it again (bot.domain.codes reads only unvoided rows). This is how
an upheld appeal corrects a code: the wrong facts go, the rules decide again, and nothing is
left to revert silently later.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.domain.models import CaseStatus, Declaration, Measure, PersonFlag, Staff, TestResult, TravelFact

KINDS = {"symptoms": Declaration, "case": CaseStatus, "measure": Measure, "test": TestResult, "travel": TravelFact,
         "flag": PersonFlag}


class FactError(ValueError):
    """A fact id that names no fact of this person that could be voided."""


def _describe(kind: str, row) -> dict:
    """What a fact says (dates as ISO text; wording is the templates' business)."""
    if kind == "symptoms":
        return {"present": row.symptoms, "declared_at": row.declared_at.isoformat(), "source": row.channel or "chat",
                "recorded_at": row.declared_at}
    if kind == "case":
        return {"status": row.status, "since": row.since.isoformat(), "source": "staff" if row.staff_id else "declaration",
                "released_on": row.released_on.isoformat() if row.released_on else None, "recorded_at": row.recorded_at}
    if kind == "measure":
        return {"measure": row.kind, "start": row.start.isoformat(), "end": row.end.isoformat() if row.end else None,
                "ended_on": row.ended_on.isoformat() if row.ended_on else None, "source": row.source,
                "recorded_at": row.recorded_at}
    if kind == "test":
        return {"result": row.result, "sampled_at": row.sampled_at.isoformat(), "lab": row.lab, "source": row.source,
                "recorded_at": row.created_at}
    if kind == "travel":
        return {"overseas": row.overseas, "origin_class": row.origin_class, "origin_code": row.origin_code,
                "arrival": row.arrival.isoformat(), "reported_on": row.reported_on.isoformat() if row.reported_on
                else None, "source": row.source, "recorded_at": row.recorded_at}
    return {"flag": row.kind, "set_at": row.set_at.isoformat(), "source": "staff", "recorded_at": row.set_at}


def _rows(session: Session, person_id: int, voided: bool) -> list[tuple[str, object]]:
    """The facts the rules read (voided=False), or the voided ones."""
    def where(model):
        return (model.person_id == person_id, model.voided_at.isnot(None) if voided else model.voided_at.is_(None))

    rows: list[tuple[str, object]] = []
    if voided:
        rows += [("symptoms", r) for r in session.scalars(select(Declaration).where(*where(Declaration)))]
        rows += [("case", r) for r in session.scalars(select(CaseStatus).where(*where(CaseStatus)))]
    else:  # the rules read the latest declaration's symptoms and the latest case status only
        decl = session.scalars(select(Declaration).where(*where(Declaration)).order_by(Declaration.id.desc())).first()
        if decl is not None and decl.symptoms:
            rows.append(("symptoms", decl))
        case = session.scalars(select(CaseStatus).where(*where(CaseStatus)).order_by(CaseStatus.id.desc())).first()
        if case is not None:
            rows.append(("case", case))
    rows += [("measure", r) for r in session.scalars(select(Measure).where(*where(Measure)).order_by(Measure.id))]
    rows += [("test", r) for r in session.scalars(select(TestResult).where(*where(TestResult))
                                                  .order_by(TestResult.sampled_at))]
    rows += [("travel", r) for r in session.scalars(select(TravelFact).where(*where(TravelFact))
                                                    .order_by(TravelFact.arrival, TravelFact.id))]
    flags = select(PersonFlag).where(*where(PersonFlag))
    if not voided:
        flags = flags.where(PersonFlag.cleared_at.is_(None))
    rows += [("flag", r) for r in session.scalars(flags.order_by(PersonFlag.id))]
    return rows


def listing(session: Session, person_id: int, voided: bool = False) -> list[dict]:
    """The person's facts with ids, as the appeal detail shows them (voided=True: those voided,
    with who, when and why)."""
    out = []
    names = {}
    for kind, row in _rows(session, person_id, voided):
        item = {"id": f"{kind}:{row.id}", "kind": kind, **_describe(kind, row)}
        item["recorded_at"] = item["recorded_at"].isoformat()
        if voided:
            if row.voided_by_id not in names:
                staff = session.get(Staff, row.voided_by_id) if row.voided_by_id else None
                names[row.voided_by_id] = staff.name if staff else None
            item.update(voided_at=row.voided_at.isoformat(), voided_by=names[row.voided_by_id],
                        void_reason=row.void_reason)
        out.append(item)
    return out


def parse_id(fact_id: str) -> tuple[str, int]:
    kind, _, number = str(fact_id).partition(":")
    if kind not in KINDS or not number.isdigit() or not 0 < int(number) < 2**31:
        raise FactError(f"{fact_id!r} is not a fact id (kind:number, kinds: {', '.join(KINDS)})")
    return kind, int(number)


def void(session: Session, person_id: int, fact_ids: list[str], *, staff_id: int | None, reason: str,
         now: dt.datetime) -> list[dict]:
    """Void these facts of this person (all or none: FactError names the first that cannot be).
    Returns what each said, for the notice and the audit log."""
    wanted = [parse_id(f) for f in dict.fromkeys(fact_ids)]
    found = []
    for kind, number in wanted:
        model = KINDS[kind]
        row = session.get(model, number)
        if row is None or row.person_id != person_id:
            raise FactError(f"{kind}:{number} is not a fact of this person")
        if row.voided_at is not None:
            raise FactError(f"{kind}:{number} is voided already")
        found.append((kind, row))
    for kind, row in found:
        session.execute(update(KINDS[kind]).where(KINDS[kind].id == row.id, KINDS[kind].voided_at.is_(None))
                        .values(voided_at=now, voided_by_id=staff_id, void_reason=reason))
    session.flush()
    for kind, row in found:
        session.refresh(row)
    return [{"id": f"{kind}:{row.id}", "kind": kind, **{k: v for k, v in _describe(kind, row).items()
                                                         if k != "recorded_at"}} for kind, row in found]
