"""Issue 15, finding 5: the audit log (append-only, it survives a purge) holds ids, field names and
masked values, never free text. Reading an appeal wrote the first 80 characters of its description."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bot.domain import appeals as appeal_rules
from bot.domain import audit, purge
from bot.domain.models import AuditLog
from tests.support.people import person_with_code
from tests.support.staff import auth, sign_in, staff_token

DESCRIPTION = "我是王小明，住在幸福路十八号三单元，那天只是路过菜市场门口"


def test_reading_an_appeal_leaves_no_free_text_in_the_audit_log(client, services):
    pid = person_with_code(services, "red", name="王小明")
    with services.db.session() as s:
        number = appeal_rules.file_appeal(s, services.vault, person_id=pid, filed_by_id=pid, reason_code=2,
                                          description=DESCRIPTION).number
    reviewer = staff_token(services, "reviewer")
    assert client.get(f"/api/v1/appeals/{number}", headers=auth(reviewer)).json["description"] == DESCRIPTION
    sign_in(client, reviewer)
    with services.db.session() as s:
        appeal_id = s.scalar(select(AuditLog.id).where(AuditLog.action == "appeal.filed"))
    assert client.get("/console/appeals").status_code == 200
    purge.everything(services)
    with services.db.session() as s:
        rows = s.execute(select(AuditLog.action, AuditLog.detail)).all()
    assert appeal_id and any(action == "appeal.read" for action, _ in rows)
    logged = json.dumps([detail for _, detail in rows], ensure_ascii=False)
    for fragment in ("幸福路", "王小明", "菜市场", "十八号"):
        assert fragment not in logged


def test_free_text_cannot_be_written_to_the_audit_log(services):
    with services.db.session() as s:
        with pytest.raises(ValueError, match="note"):
            audit.record(s, "x.y", actor_kind="system", note=DESCRIPTION)
        with pytest.raises(ValueError, match="nested"):
            audit.record(s, "x.y", actor_kind="system", nested={"free": "text"})
        audit.record(s, "x.y", actor_kind="system", id_masked="1101**********1234", count=3, fields=["a", "b"])
