"""What admins read: people by colour, appeals by status and overdue, pushes by outcome, colours
by day (kept anonymous in daily_colour_counts), and the audit log's rows."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot.domain.appeals import OPEN
from bot.domain.codes import snapshot_colour_counts
from bot.domain.models import Appeal, AuditLog, DailyColourCount, Notice, Outbox
from bot.infra.db import SHANGHAI, utcnow


def stats(session) -> dict:
    """Counts now, and today's colour counts kept in daily_colour_counts (anonymous: what the
    chart reads, and what a purge leaves)."""
    now = utcnow()
    colours = snapshot_colour_counts(session)
    today = now.astimezone(SHANGHAI).date()
    appeals = dict(session.execute(select(Appeal.status, func.count()).group_by(Appeal.status)).all())
    overdue = session.scalar(select(func.count()).select_from(Appeal).where(Appeal.status.in_(OPEN),
                                                                            Appeal.deadline < now))
    pushes = dict(session.execute(select(Notice.status, func.count()).group_by(Notice.status)).all())
    reasons = session.execute(select(Notice.reason, func.count()).where(Notice.status == "undeliverable")
                              .group_by(Notice.reason).order_by(func.count().desc()).limit(10)).all()
    since = today - dt.timedelta(days=29)
    days: dict[str, dict] = {}
    for day, colour, count in session.execute(select(DailyColourCount.day, DailyColourCount.colour,
                                                     DailyColourCount.count).where(DailyColourCount.day >= since)
                                              .order_by(DailyColourCount.day)):
        days.setdefault(day.isoformat(), {"green": 0, "yellow": 0, "red": 0})[colour] = count
    failed = session.execute(select(Outbox.kind, Outbox.last_error, func.count()).where(Outbox.status == "failed")
                             .group_by(Outbox.kind, Outbox.last_error).order_by(func.count().desc()).limit(10)).all()
    return {"people_by_colour": {c: colours.get(c, 0) for c in ("green", "yellow", "red")},
            "failed_effects": [{"kind": k, "reason": (r or "")[:200], "count": n} for k, r, n in failed],
            "days_shown": [(since + dt.timedelta(days=i)).isoformat() for i in range(30)],
            "appeals_by_status": appeals, "appeals_overdue": overdue or 0, "pushes_by_outcome": pushes,
            "undeliverable_reasons": [{"reason": r or "", "count": n} for r, n in reasons],
            "by_day": [{"day": d, **v} for d, v in days.items()]}


def audit_rows(session, args: dict) -> list[dict]:
    q = select(AuditLog)
    if args.get("action"):
        q = q.where(AuditLog.action.like(args["action"].replace("*", "%")))
    for name, col in (("actor_kind", AuditLog.actor_kind), ("actor_id", AuditLog.actor_id),
                      ("person_id", AuditLog.subject_person_id)):
        if args.get(name) is not None:
            q = q.where(col == args[name])
    if args.get("since"):
        q = q.where(AuditLog.at >= args["since"])
    if args.get("until"):
        q = q.where(AuditLog.at < args["until"])
    if args.get("before_id"):
        q = q.where(AuditLog.id < args["before_id"])
    return [{"id": r.id, "at": r.at.isoformat(), "actor_kind": r.actor_kind, "actor_id": r.actor_id,
             "action": r.action, "person_id": r.subject_person_id, "detail": r.detail, "request_id": r.request_id}
            for r in session.scalars(q.order_by(AuditLog.id.desc()).limit(args.get("limit", 100)))]
