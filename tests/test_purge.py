"""purge: past the retention period, and all personal data at the end, leaving anonymous counts."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bot.infra.db import utcnow
from bot.domain.models import (AuditLog, ChannelIdentity, Code, DailyColourCount, Declaration, Person, Scan)
from tests.support.chat import CLEAN, REGISTRATION, Chat


def _count(svc, model, *where):
    with svc.db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_older_than_removes_old_records_only(env, make_app):
    app, svc = make_app()
    try:
        chat = Chat(app, user="o-purge")
        chat.run(*REGISTRATION, *CLEAN, "1")
        chat.run("1", "2", "4", "2", "2", "5", "1")       # a second declaration
        with svc.db.session() as s:
            first = s.scalars(select(Declaration).order_by(Declaration.id)).first()
            first.declared_at = utcnow() - dt.timedelta(days=40)
            s.add(Scan(venue="超市", verdict="valid", colour="green", masked_name="张*",
                       at=utcnow() - dt.timedelta(days=40)))
        result = app.test_cli_runner().invoke(args=["purge", "--older-than", "30", "--yes"])
        assert result.exit_code == 0, result.output
        assert "removed 1 declarations" in result.output and "removed 1 scans" in result.output
        assert _count(svc, Declaration) == 1 and _count(svc, Scan) == 0 and _count(svc, Person) == 1
        assert _count(svc, AuditLog, AuditLog.action == "purge.older_than") == 1
        # asked first without --yes; "n" removes nothing
        kept = app.test_cli_runner().invoke(args=["purge", "--older-than", "1"], input="n\n")
        assert "nothing removed" in kept.output and _count(svc, Declaration) == 1
    finally:
        svc.close()


def test_all_personal_data_leaves_anonymous_counts(env, make_app):
    app, svc = make_app()
    try:
        Chat(app, user="o-a").run(*REGISTRATION, *CLEAN, "1")
        assert svc.redis.client().keys("chat:*")
        bad = app.test_cli_runner().invoke(args=["purge"])
        assert bad.exit_code == 2 and "exactly one" in bad.output
        result = app.test_cli_runner().invoke(args=["purge", "--all-personal-data", "--yes"])
        assert result.exit_code == 0, result.output
        for model in (Person, ChannelIdentity, Code, Declaration):
            assert _count(svc, model) == 0, model
        assert svc.redis.client().keys("chat:*") == []
        with svc.db.session() as s:
            counts = {r.colour: r.count for r in s.scalars(select(DailyColourCount))}
        assert counts["green"] == 1 and counts["yellow"] == 0
        assert _count(svc, AuditLog, AuditLog.action == "purge.all_personal_data") == 1
    finally:
        svc.close()
