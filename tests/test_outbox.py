"""The outbox: effects written with the change, enqueued after commit, run exactly once."""
import datetime as dt
import signal
import threading
import time
import uuid

import pytest
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select, update

from bot.infra import outbox
from bot.infra.db import utcnow
from bot.domain.models import EffectLedger, Outbox
from bot.services import QUEUE_NAMES
from tests.support.workers import burst, group_alive, start_worker, stop_worker, wait_for
from workers.outbox import run


def add(svc, kind="ledger.record", **payload):
    mark = payload.setdefault("mark", f"m-{uuid.uuid4().hex}")
    with svc.db.session() as s:
        row = outbox.add(s, kind, payload)
    return row.id, mark


def row(svc, outbox_id):
    with svc.db.session() as s:
        return s.get(Outbox, outbox_id)


def marks(svc, mark):
    with svc.db.session() as s:
        return s.scalar(select(func.count()).select_from(EffectLedger).where(EffectLedger.key == mark))


def queued_jobs(svc):
    return sum(svc.queue(n).count for n in QUEUE_NAMES)


def expire_lease(svc, outbox_id):
    with svc.db.session() as s:
        s.execute(update(Outbox).where(Outbox.id == outbox_id).values(lease_until=utcnow() - dt.timedelta(seconds=1)))


def test_nothing_reaches_redis_before_commit(services):
    with services.db.session() as s:
        r = outbox.add(s, "ledger.record", {"mark": "a"})
        s.flush()
        assert r.id is not None and queued_jobs(services) == 0  # written, not yet enqueued
    assert queued_jobs(services) == 1
    assert services.queue("default").job_ids == [outbox.job_id(r.id, 1)]


def test_rolled_back_change_has_no_effect(services):
    with pytest.raises(RuntimeError):
        with services.db.session() as s:
            outbox.add(s, "ledger.record", {"mark": "b"})
            s.flush()
            raise RuntimeError("the change failed")
    assert queued_jobs(services) == 0
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Outbox)) == 0


def test_worker_runs_the_effect_once(services):
    outbox_id, mark = add(services)
    burst(services)
    r = row(services, outbox_id)
    assert r.status == "done" and r.attempts == 1 and r.done_at is not None
    assert marks(services, mark) == 1
    # everything after is a no-op: sweeps find nothing, a stray rerun is skipped
    assert outbox.sweep(services) == 0 and outbox.sweep(services) == 0
    assert run(outbox_id, 1) == "skipped"
    assert marks(services, mark) == 1


def test_relay_running_twice_enqueues_once_and_effect_happens_once(services):
    outbox_id, mark = add(services)
    services.redis.client().flushdb()  # the enqueue after commit was lost (e.g. Redis restarted)
    expire_lease(services, outbox_id)
    results = []
    threads = [threading.Thread(target=lambda: results.append(outbox.sweep(services))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1]  # the compare-and-set let exactly one sweep claim it
    assert services.queue("default").job_ids == [outbox.job_id(outbox_id, 2)]
    # even the same attempt put on the queue twice runs its effect once
    outbox.enqueue(services, [(outbox_id, 2, "default")])
    burst(services)
    assert row(services, outbox_id).status == "done"
    assert marks(services, mark) == 1


def test_sweep_leaves_a_job_that_is_only_waiting(services):
    outbox_id, _ = add(services)
    expire_lease(services, outbox_id)  # its lease ran out but the job still waits in the queue
    assert outbox.sweep(services) == 0
    r = row(services, outbox_id)
    assert r.attempts == 1 and r.lease_until > utcnow()
    assert queued_jobs(services) == 1


def test_failure_retries_with_backoff_then_succeeds(services):
    outbox_id, mark = add(services, "test.flaky", succeed_at=2)
    burst(services)
    r = row(services, outbox_id)
    assert r.status == "pending" and "flaky failure at attempt 1" in r.last_error
    assert r.available_at > utcnow() + dt.timedelta(seconds=3)  # backed off, not hammered
    assert outbox.job_id(outbox_id, 1) in FailedJobRegistry(queue=services.queue("default")).get_job_ids()
    assert outbox.sweep(services) == 0  # not due yet
    with services.db.session() as s:
        s.execute(update(Outbox).where(Outbox.id == outbox_id).values(available_at=utcnow()))
    assert outbox.sweep(services) == 1
    burst(services)
    r = row(services, outbox_id)
    assert r.status == "done" and r.attempts == 2 and marks(services, mark) == 1


def test_permanent_failure_is_recorded_not_retried(services):
    outbox_id, _ = add(services, "test.broken")
    unknown_id, _ = add(services, "no.such.kind")
    burst(services)
    for oid, words in ((outbox_id, "can never work"), (unknown_id, "no effect registered")):
        r = row(services, oid)
        assert r.status == "failed" and words in r.last_error
    assert outbox.sweep(services) == 0


def test_gives_up_after_max_attempts(services):
    outbox_id, _ = add(services)
    services.redis.client().flushdb()
    with services.db.session() as s:
        s.execute(update(Outbox).where(Outbox.id == outbox_id).values(
            attempts=outbox.RETRY.attempts, lease_until=utcnow() - dt.timedelta(seconds=1)))
    assert outbox.sweep(services) == 0
    r = row(services, outbox_id)
    assert r.status == "failed" and "gave up" in r.last_error


def test_outside_call_not_repeated_when_the_run_is_retried(services, tmp_path):
    counter = tmp_path / "calls"
    outbox_id, _ = add(services, "test.external", counter=str(counter), fail_after_call_until=2)
    burst(services)
    assert row(services, outbox_id).status == "pending"
    with services.db.session() as s:
        s.execute(update(Outbox).where(Outbox.id == outbox_id).values(available_at=utcnow()))
    outbox.sweep(services)
    burst(services)
    assert row(services, outbox_id).status == "done"
    assert counter.read_text() == "1"  # the platform was called once, the ledger answered the retry


def test_superseded_run_commits_nothing(services, tmp_path):
    """A run that outlived its lease and was replaced cannot commit its effect."""
    started, release = tmp_path / "started", tmp_path / "release"
    outbox_id, mark = add(services, "test.block", started=str(started), release=str(release), flush=False)
    services.redis.client().flushdb()
    outcome = {}

    def slow_run():
        try:
            outcome["result"] = run(outbox_id, 1)
        except Exception as exc:  # SQLite refuses the stale write; PostgreSQL's fence refuses it
            outcome["result"] = f"error: {exc}"

    t = threading.Thread(target=slow_run)
    t.start()
    deadline = time.monotonic() + 10
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    expire_lease(services, outbox_id)
    assert outbox.sweep(services) == 1  # the sweep gave the row to attempt 2
    release.write_text("go")
    t.join(10)
    assert outcome["result"] != "done"
    assert marks(services, mark) == 0
    burst(services)  # attempt 2 runs (release exists, so it does not block)
    assert row(services, outbox_id).status == "done" and marks(services, mark) == 1


@pytest.mark.slow
def test_worker_killed_mid_job_effect_happens_once(services, env, tmp_path):
    started, release = tmp_path / "started", tmp_path / "release"
    outbox_id, mark = add(services, "test.block", started=str(started), release=str(release))
    first = start_worker(env, tmp_path / "worker.log")
    try:
        assert wait_for(started.exists), "the first worker never started the job"
        assert row(services, outbox_id).status == "running"
        first.send_signal(signal.SIGKILL)  # dies holding the effect's open transaction
        first.wait(10)
        # its forked scheduler goes with it (PR_SET_PDEATHSIG), leaving no process behind
        assert wait_for(lambda: not group_alive(first.pid), 10)
    finally:
        if first.poll() is None:
            first.kill()
    assert marks(services, mark) == 0  # nothing of the dead run survived
    release.write_text("go")
    second = start_worker(env, tmp_path / "worker.log")
    try:
        # its sweep finds the lease expired and runs attempt 2
        assert wait_for(lambda: row(services, outbox_id).status == "done"), (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        stop_worker(second)
        assert not group_alive(second.pid)
    r = row(services, outbox_id)
    assert r.attempts == 2 and marks(services, mark) == 1
    with services.db.session() as s:
        assert s.get(EffectLedger, mark).result == {"attempt": 2}
