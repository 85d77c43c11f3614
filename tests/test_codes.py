"""Codes from stored facts: versions, history, notices, time turns by a real worker, and mass
re-evaluation interrupted and resumed without double notices."""
import datetime as dt
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select, update

from bot.infra import outbox
from bot.domain import reevaluation
from bot.domain.codes import CodeConflict, apply_decision, classify_origin, person_facts, reevaluate
from bot.infra.db import SHANGHAI, utcnow
from bot.domain.models import (ChannelIdentity, Code, CodeHistory, Declaration, Designation, FamilyBinding, Measure, Notice, Outbox,
                        ReevaluationRun, RiskArea, TestResult, TravelFact)
from bot.domain.people import get_or_create_person
from tests.conftest import ROOT
from tests.support.workers import burst

ID_A, ID_B = "11010519491231002X", "330102199001011237"


def person(services, s, id_number=ID_A, name="张三", openid=None):
    p, _ = get_or_create_person(s, services.vault, "id_card", id_number, name)
    if openid:
        s.add(ChannelIdentity(channel="wechat", app_id="wx", external_id=openid, person_id=p.id))
    return p


def count(services, model, *where):
    with services.db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def test_declaration_to_code_to_notices(services):
    now = utcnow()
    with services.db.session() as s:
        me = person(services, s, openid="o-me")
        grandma = person(services, s, ID_B, "李奶奶")
        s.add(FamilyBinding(owner_id=me.id, member_id=grandma.id, relationship_kind="grandparent", consent_at=now))
        s.add(Declaration(person_id=grandma.id, submitted_by_id=me.id, symptoms=True, declared_at=now))
        decision, change = reevaluate(s, services.policy, grandma.id, cause="declaration", now=now)
        gid = grandma.id
    assert (decision.colour, decision.rule) == ("yellow", "Z8")
    assert change.old_colour is None and change.version == 1
    burst(services)  # the codes.changed effect fans out to the accounts
    with services.db.session() as s:
        notices = s.scalars(select(Notice)).all()
        assert notices == []  # a first code is told in the declaration's reply, not pushed as a change
        # the same decision again: no new version, no history, no notice
        _, again = reevaluate(s, services.policy, gid, cause="declaration", now=now)
        assert again is None
    # a negative test after the declaration turns it green: version 2, cause lab_result
    with services.db.session() as s:
        s.add(TestResult(person_id=gid, sampled_at=now + dt.timedelta(hours=1), result="negative", lab="市一院"))
        decision, change = reevaluate(s, services.policy, gid, cause="lab_result", now=now + dt.timedelta(hours=2))
    assert (change.old_colour, change.new_colour, change.version) == ("yellow", "green", 2)
    burst(services)
    with services.db.session() as s:
        history = s.execute(select(CodeHistory.version, CodeHistory.old_colour, CodeHistory.new_colour,
                                   CodeHistory.cause).order_by(CodeHistory.version)).all()
        assert history == [(1, None, "yellow", "declaration"), (2, "yellow", "green", "lab_result")]
        code = s.get(Code, gid)
        assert code.version == 2 and code.colour == "green" and code.since == now + dt.timedelta(hours=2)
        notices = s.scalars(select(Notice)).all()
        # the change reaches the family account bound to grandma (she has no chat account herself)
        assert [(n.kind, n.payload["old"], n.payload["new"], n.payload["proxy"]) for n in notices] == [
            ("code_changed", "yellow", "green", "grandparent")]  # proxy: the relation the binding names


def test_stale_version_is_a_conflict(services):
    now = utcnow()
    with services.db.session() as s:
        pid = person(services, s).id
        s.add(Declaration(person_id=pid, symptoms=True, declared_at=now))
        reevaluate(s, services.policy, pid, cause="declaration", now=now)
    with services.db.session() as s:
        s.add(TestResult(person_id=pid, sampled_at=now + dt.timedelta(hours=1), result="negative"))
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    def interfere(conn, cursor, statement, params, context, executemany):
        # another writer moves the code on between our read and our compare-and-set
        if statement.startswith("UPDATE codes") and not FIRED:
            FIRED.append(1)
            with services.db.session() as other:
                other.execute(update(Code).where(Code.person_id == pid).values(version=5))

    FIRED = []
    event.listen(services.db.engine, "before_cursor_execute", interfere)
    try:
        # PostgreSQL: the compare-and-set finds no row; SQLite refuses the stale snapshot's write
        with pytest.raises((CodeConflict, OperationalError)):
            with services.db.session() as s:
                decision = services.policy.evaluate(person_facts(s, pid), now + dt.timedelta(hours=2))
                apply_decision(s, pid, decision, cause="lab_result", policy="zhejiang")
    finally:
        event.remove(services.db.engine, "before_cursor_execute", interfere)
    assert FIRED and count(services, CodeHistory) == 1


def test_origin_classed_by_the_risk_area_table():
    areas = [("420106001", "high"), ("110105", "medium"), ("440300", "low")]
    assert classify_origin("420106001002", areas) == "high"
    assert classify_origin("110105017", areas) == "medium"
    assert classify_origin("420106002", areas) == "risk_county"
    assert classify_origin("420111", areas) == "case_city"
    assert classify_origin("440300", areas) is None  # low areas make nobody riskier
    assert classify_origin("330624", areas) is None and classify_origin(None, areas) is None


def test_time_turns_a_code_through_a_real_worker(services, env, tmp_path):
    """A staff designation that lapses in two seconds: the RQ scheduler runs the tick at
    reevaluate_at and the code turns green by itself, with a notice."""
    now = utcnow()
    with services.db.session() as s:
        pid = person(services, s, openid="o-1").id
        s.add(Designation(person_id=pid, colour="red", reason="其他须纳入红码管理的人员",
                          until=now + dt.timedelta(seconds=2)))
        decision, _ = reevaluate(s, services.policy, pid, cause="staff", now=now)
    assert decision.colour == "red" and decision.reevaluate_at == now + dt.timedelta(seconds=2)
    scheduled = services.queue("default").scheduled_job_registry.get_job_ids()
    assert len(scheduled) == 1 and scheduled[0].startswith("reevaluate-due-")
    worker = subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=open(tmp_path / "worker.log", "ab"))
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and count(services, Notice) < 1:
            time.sleep(0.2)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(15)
    with services.db.session() as s:
        code = s.get(Code, pid)
        assert (code.colour, code.rule, code.version) == ("green", "Z11", 2), (tmp_path / "worker.log").read_text()
        last = s.scalars(select(CodeHistory).order_by(CodeHistory.version.desc())).first()
        assert (last.old_colour, last.new_colour, last.cause) == ("red", "green", "time")
        assert [(n.payload["old"], n.payload["new"]) for n in s.scalars(select(Notice))] == [("red", "green")]


def test_due_tick_turns_day_boundaries(services, monkeypatch):
    """Home health observation started 6 days ago (7 by default): red isolation ended yesterday;
    the tick that runs after midnight turns red to yellow, and knows green comes tomorrow."""
    import workers.codes

    today = utcnow().astimezone(SHANGHAI).date()
    with services.db.session() as s:
        pid = person(services, s).id
        s.add(Measure(person_id=pid, kind="home_isolation", start=today - dt.timedelta(days=15),
                      end=today - dt.timedelta(days=6)))
        s.add(Measure(person_id=pid, kind="home_health_observation", start=today - dt.timedelta(days=6)))
        s.add(Code(person_id=pid, colour="red", rule="Z3", reason="正在实施隔离医学观察", version=3, policy="zhejiang",
                   reevaluate_at=utcnow() - dt.timedelta(minutes=1)))
    assert workers.codes.reevaluate_due() == 1
    with services.db.session() as s:
        code = s.get(Code, pid)
        assert (code.colour, code.rule, code.version) == ("yellow", "Z9", 4)
        tomorrow = today + dt.timedelta(days=1)
        assert code.reevaluate_at.astimezone(SHANGHAI).date() == tomorrow == code.green_at.astimezone(SHANGHAI).date()
    assert workers.codes.reevaluate_due() == 0  # nothing due any more


def seed_travellers(services, n, origin="420106003", start=0):
    """n green people who came from `origin` three days ago, each with a chat account."""
    now = utcnow()
    arrival = now.astimezone(SHANGHAI).date() - dt.timedelta(days=3)
    ids = []
    with services.db.session() as s:
        for i in range(start, start + n):
            number = f"{110105194912310000 + i:018d}"
            p = person(services, s, number, f"旅客{i}", openid=f"o-{i}")
            s.add(TravelFact(person_id=p.id, origin_class="low", origin_code=origin, arrival=arrival,
                             reported_on=arrival))
            s.add(Declaration(person_id=p.id, declared_at=now))
            ids.append(p.id)
        s.flush()
        for pid in ids:
            reevaluate(s, services.policy, pid, cause="declaration", now=now)
    return ids


def test_mass_reevaluation_interrupted_and_resumed_without_double_notices(services, monkeypatch):
    monkeypatch.setattr(reevaluation, "CHUNK", 10)
    ids = seed_travellers(services, 35)
    bystanders = seed_travellers(services, 3, origin="330624", start=100)  # another province: not affected
    with services.db.session() as s:
        assert {c.colour for c in s.scalars(select(Code))} == {"green"}
        s.add(RiskArea(code="420106003", name="武汉市武昌区某街道", level="high", since=dt.date(2026, 11, 1)))
        run = reevaluation.start_run(s, "risk_areas", "zhejiang", area_codes=["420106003"])
    # a fault in the middle of one chunk (the 17th person): that chunk writes nothing
    from bot.domain.rules.policy import Policy

    real = Policy.evaluate

    def faulty(self, facts, now):
        if facts.get("travel") and facts is FAULT["facts"]:
            raise RuntimeError("worker lost mid-chunk")
        return real(self, facts, now)

    FAULT = {"facts": None}
    import bot.domain.codes as codes_module

    real_facts_for = codes_module.facts_for

    def facts_for(session, selector, areas=None):
        result = real_facts_for(session, selector, areas)
        if ids[16] in result:
            FAULT["facts"] = result[ids[16]]
        return result

    monkeypatch.setattr(Policy, "evaluate", faulty)
    monkeypatch.setattr(reevaluation, "facts_for", facts_for)
    burst(services)  # the plan (4 chunks of at most 10 people), then the chunks
    with services.db.session() as s:
        assert s.get(ReevaluationRun, run.id).total == 35
    with services.db.session() as s:
        r = s.get(ReevaluationRun, run.id)
        assert r.status == "running" and r.processed == 25 and r.changed == 25
        failed = s.scalars(select(Outbox).where(Outbox.kind == "reeval.chunk", Outbox.status == "pending")).all()
        assert len(failed) == 1 and "worker lost mid-chunk" in failed[0].last_error
        assert s.get(Code, ids[16]).colour == "green"  # the failed chunk left no trace
    burst(services)  # the notices of the chunks that did commit
    assert count(services, Notice) == 25

    # resume: the fault is gone, the retry comes due, the sweep re-enqueues only that chunk
    monkeypatch.setattr(Policy, "evaluate", real)
    with services.db.session() as s:
        s.execute(update(Outbox).where(Outbox.status == "pending").values(available_at=utcnow()))
    assert outbox.sweep(services) == 1
    burst(services)
    burst(services)
    with services.db.session() as s:
        r = s.get(ReevaluationRun, run.id)
        assert (r.status, r.processed, r.changed) == ("done", 35, 35)
        assert {s.get(Code, pid).colour for pid in ids} == {"red"}
        assert {s.get(Code, pid).colour for pid in bystanders} == {"green"}
        per_person = dict(s.execute(select(CodeHistory.person_id, func.count()).where(CodeHistory.cause == "risk_areas")
                                    .group_by(CodeHistory.person_id)).all())
        assert per_person == {pid: 1 for pid in ids}
        notices = dict(s.execute(select(Notice.person_id, func.count()).group_by(Notice.person_id)).all())
        assert notices == {pid: 1 for pid in ids}  # one each: none lost, none doubled
    # running the same run's chunks again changes nothing
    with services.db.session() as s:
        run2 = reevaluation.start_run(s, "risk_areas", "zhejiang", area_codes=["420106003"])
    burst(services)
    burst(services)
    with services.db.session() as s:
        assert (s.get(ReevaluationRun, run2.id).status, s.get(ReevaluationRun, run2.id).changed) == ("done", 0)
    assert count(services, Notice) == 35


def test_policy_change_run_covers_everyone(services, monkeypatch):
    monkeypatch.setattr(reevaluation, "CHUNK", 4)
    ids = seed_travellers(services, 9, origin="420106003")
    with services.db.session() as s:
        # the policy's table changed meanwhile: these people are now from a risk county
        s.add(RiskArea(code="420106009", name="某街道", level="medium", since=dt.date(2026, 11, 20)))
        run = reevaluation.start_run(s, "policy_change", "zhejiang")
    for _ in range(3):
        burst(services)
    with services.db.session() as s:
        r = s.get(ReevaluationRun, run.id)
        assert (r.status, r.total, r.processed) == ("done", 9, 9)
        assert {(s.get(Code, pid).colour, s.get(Code, pid).rule) for pid in ids} == {("yellow", "Z6")}


def test_a_damaged_name_does_not_stop_the_fan_out(services):
    from sqlalchemy import text

    from bot.domain.notices import masked_names

    with services.db.session() as s:
        a = person(services, s, ID_A, "张三")
        b = person(services, s, ID_B, "李四")
        s.flush()
        ids = (a.id, b.id)
    with services.db.session() as s:  # b's name written under a key this deployment does not have
        s.execute(text("UPDATE people SET name = :v WHERE id = :id"), {"v": "zz.bm90IG91cnM", "id": ids[1]})
    with services.db.session() as s:
        assert masked_names(s, ids) == {ids[0]: "张*", ids[1]: ""}
