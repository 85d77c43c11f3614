"""Rules: one evaluation of a compiled policy, and a mass re-evaluation of BENCH_PEOPLE synthetic
people (default 1,000,000) by 2 worker processes, on SQLite and (when TEST_DATABASE_URL or
BENCH_PG_URL answers) on PostgreSQL, against a naive per-person ORM loop measured in the same run.

The synthetic population: everyone has a code and a declaration; one in ten came from city
4201 three days ago; the run follows a risk-area change that makes their street high-risk,
so a tenth of the codes change colour and are queued for notices in the same pass.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time

from sqlalchemy import func, select, text

from bench import pg_url
from bot.infra import migrate
from bot.domain.codes import reevaluate
from bot.infra.db import SHANGHAI, utcnow
from bot.domain.models import ReevaluationRun, RiskArea
from bot.infra.redis.embedded import EmbeddedRedis
from bot.domain.reevaluation import start_run
from bot.domain.rules.facts import parse_facts
from bot.domain.rules.loading import load_policy
from bot.services import Services
from bot.infra.config import ROOT

PEOPLE = int(os.environ.get("BENCH_PEOPLE", "1000000"))
NAIVE = 3000
WORKERS = 2
TRAVELLER_EVERY = 10


def rule_eval_us() -> float:
    policy = load_policy("zhejiang")
    now = dt.datetime(2026, 11, 22, 10, tzinfo=SHANGHAI)
    mix = [parse_facts(d)[0] for d in (
        {"symptoms": {"present": False, "declared_at": "2026-11-22T08:00:00+08:00"}},
        {"symptoms": {"present": False, "declared_at": "2026-11-22T08:00:00+08:00"}},
        {"symptoms": {"present": False, "declared_at": "2026-11-22T08:00:00+08:00"},
         "travel": {"origin_class": "low", "arrival": "2026-11-19"}},
        {"symptoms": {"present": True, "declared_at": "2026-11-21T09:00:00+08:00"}},
        {"overseas_arrival": "2026-11-05"},
        {"case": {"status": "close_contact", "since": "2026-11-10"},
         "measures": [{"kind": "centralized_isolation", "start": "2026-11-10", "end": "2026-11-24"}]},
    )]
    n = 30000
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for i in range(n):
            policy.evaluate(mix[i % len(mix)], now)
        best = min(best, (time.perf_counter() - started) / n * 1e6)
    return best


def seed(svc, people: int) -> None:
    """Synthetic rows straight into the tables (the personal-data columns hold a placeholder:
    re-evaluation never reads them)."""
    now = utcnow()
    arrival = now.astimezone(SHANGHAI).date() - dt.timedelta(days=3)
    naive_now = now.replace(tzinfo=None)
    engine = svc.db.engine
    batch = 50000
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            raw = conn.connection.driver_connection
            with raw.cursor() as cur:
                with cur.copy("COPY people (id, id_type, id_hash, id_number, name, registered, created_at, updated_at,"
                              " public_id, link_version) FROM STDIN") as cp:
                    for i in range(1, people + 1):
                        cp.write_row((i, "id_card", f"{i:064x}", "x", "x", True, naive_now, naive_now, f"b{i}", 1))
                with cur.copy("COPY codes (person_id, colour, rule, reason, next_step, version, policy, since, "
                              "evaluated_at) FROM STDIN") as cp:
                    for i in range(1, people + 1):
                        cp.write_row((i, "green", "Z11", "无风险状态", "请继续做好个人防护", 1, "zhejiang", naive_now,
                                      naive_now))
                with cur.copy("COPY declarations (person_id, overseas, travel_answer, symptoms, case_reported, "
                              "measure_answer, declared_at) FROM STDIN") as cp:
                    for i in range(1, people + 1):
                        cp.write_row((i, False, 4, False, False, 5, naive_now))
                with cur.copy("COPY travel_facts (person_id, overseas, origin_class, origin_code, arrival, "
                              "reported_on, source, created_at, recorded_at) FROM STDIN") as cp:
                    for i in range(1, people + 1, TRAVELLER_EVERY):
                        cp.write_row((i, False, "low", "420106003", arrival, arrival, "declaration", naive_now,
                                      naive_now))
            conn.execute(text("SELECT setval('people_id_seq', :n)"), {"n": people})
            conn.execute(text("ANALYZE"))
        else:
            def chunks(rows):
                buf = []
                for row in rows:
                    buf.append(row)
                    if len(buf) == batch:
                        yield buf
                        buf = []
                if buf:
                    yield buf
            for rows in chunks((i, "id_card", f"{i:064x}", "x", "x", 1, naive_now, naive_now, f"b{i}", 1)
                               for i in range(1, people + 1)):
                conn.exec_driver_sql("INSERT INTO people (id, id_type, id_hash, id_number, name, registered, "
                                     "created_at, updated_at, public_id, link_version) VALUES (?,?,?,?,?,?,?,?,?,?)",
                                     rows)
            for rows in chunks((i, "green", "Z11", "无风险状态", "请继续做好个人防护", 1, "zhejiang", naive_now,
                                naive_now) for i in range(1, people + 1)):
                conn.exec_driver_sql("INSERT INTO codes (person_id, colour, rule, reason, next_step, version, policy,"
                                     " since, evaluated_at) VALUES (?,?,?,?,?,?,?,?,?)", rows)
            for rows in chunks((i, 0, 4, 0, 0, 5, naive_now) for i in range(1, people + 1)):
                conn.exec_driver_sql("INSERT INTO declarations (person_id, overseas, travel_answer, symptoms, "
                                     "case_reported, measure_answer, declared_at) VALUES (?,?,?,?,?,?,?)", rows)
            for rows in chunks((i, 0, "low", "420106003", arrival, arrival, "declaration", naive_now, naive_now)
                               for i in range(1, people + 1, TRAVELLER_EVERY)):
                conn.exec_driver_sql("INSERT INTO travel_facts (person_id, overseas, origin_class, origin_code, "
                                     "arrival, reported_on, source, created_at, recorded_at) "
                                     "VALUES (?,?,?,?,?,?,?,?,?)", rows)
            conn.exec_driver_sql("ANALYZE")


def mass(svc, env, label: str) -> tuple[float, int, float]:
    """(seconds for the mass run, colour changes, naive people/s)."""
    with svc.db.session() as s:
        s.add(RiskArea(code="420106003", name="武汉市武昌区某街道", level="high", since=dt.date(2026, 11, 1)))
    # the naive baseline: one person at a time through the ORM, on the first NAIVE people
    policy = svc.policy
    started = time.perf_counter()
    with svc.db.session() as s:
        for pid in range(1, NAIVE + 1):
            reevaluate(s, policy, pid, cause="risk_areas", now=utcnow())
        s.rollback()  # measure the work, keep the population unchanged for the real run
    naive_rate = NAIVE / (time.perf_counter() - started)

    started = time.perf_counter()
    with svc.db.session() as s:
        run = start_run(s, "policy_change", policy.name)  # everyone: the workers plan it and run it
    procs = [subprocess.Popen([sys.executable, "-m", "workers", "--burst"], cwd=ROOT, env=env)
             for _ in range(WORKERS)]
    for p in procs:
        p.wait()
    elapsed = time.perf_counter() - started
    with svc.db.session() as s:
        r = s.get(ReevaluationRun, run.id)
        status, processed, changed = r.status, r.processed, r.changed
        red = s.scalar(select(func.count()).select_from(RiskArea))
    print(f"mass re-evaluation ({label}): {processed} people in {elapsed:.1f} s ({processed / elapsed:.0f}/s), "
          f"{changed} colour changes queued, run {status}; naive ORM loop {naive_rate:.0f} people/s", file=sys.stderr)
    assert status == "done" and processed == PEOPLE and red == 1, (status, processed)
    return elapsed, changed, naive_rate


def _env(var, database_url, redis_url):
    return {**os.environ, "VAR_DIR": str(var), "REDIS_URL": redis_url, "APP_ENV": "test", "LOG_LEVEL": "WARNING",
            "DATABASE_URL": database_url, "REGION_POLICY": "zhejiang"}


def run():
    results = []
    us = rule_eval_us()
    results.append(("rule_eval_us", round(us, 2), "<= 50", us <= 50))
    print(f"rule evaluation: {us:.2f} us (zhejiang, a mix of six fact shapes)", file=sys.stderr)

    var = ROOT / "var" / "bench-rules"
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    server = EmbeddedRedis(var)
    server.ensure()
    speedups = []
    try:
        sqlite_url = f"sqlite:///{var / 'bench.db'}"
        env = _env(var, sqlite_url, server.url)
        svc = Services.from_env(env)
        migrate.upgrade(svc)
        started = time.perf_counter()
        seed(svc, PEOPLE)
        print(f"seeded {PEOPLE} people on SQLite in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        elapsed, changed, naive = mass(svc, env, "SQLite")
        svc.close()
        speedups.append(PEOPLE / elapsed / naive)
        results.append(("mass_reeval_sqlite_s", round(elapsed, 1), "<= 120", elapsed <= 120))
        results.append(("mass_reeval_sqlite_changes", changed, None, None))

        pg = pg_url()
        if pg:
            import uuid

            import psycopg

            schema = f"bench_{uuid.uuid4().hex[:8]}"
            plain = pg.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(plain, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            try:
                url = f"{pg}{'&' if '?' in pg else '?'}options=-csearch_path%3D{schema}"
                env = _env(var, url, server.url)
                svc = Services.from_env(env)
                svc.redis.client().flushdb()
                migrate.upgrade(svc)
                started = time.perf_counter()
                seed(svc, PEOPLE)
                print(f"seeded {PEOPLE} people on PostgreSQL in {time.perf_counter() - started:.1f} s",
                      file=sys.stderr)
                elapsed, changed, naive = mass(svc, env, "PostgreSQL")
                svc.close()
                speedups.append(PEOPLE / elapsed / naive)
                results.append(("mass_reeval_pg_s", round(elapsed, 1), "<= 60", elapsed <= 60))
            finally:
                with psycopg.connect(plain, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")
    finally:
        server.stop()
    speedup = min(speedups)
    results.append(("mass_reeval_speedup_vs_naive", round(speedup, 1), ">= 10", speedup >= 10))
    return results
