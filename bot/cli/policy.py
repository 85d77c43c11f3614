"""`flask --app wsgi policy eval|check`."""
from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from bot.infra.db import utcnow


@click.group("policy", cls=AppGroup, help="Region policies: evaluate facts, check files.")
def policy_group():
    pass


def _fail(message: str):
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@policy_group.command("eval", help="Print the decision for a facts document (FILE, or - for stdin).")
@click.option("--policy", "name", default=None, help="policy name or file (default: REGION_POLICY)")
@click.argument("source", default="-")
def policy_eval(name, source):
    from bot.domain.rules.facts import FactsError, parse_facts
    from bot.domain.rules.loading import PolicyError, load_policy

    try:
        policy = load_policy(name or current_app.extensions["services"].settings.region_policy)
    except PolicyError as err:
        _fail(str(err))
    try:
        text = sys.stdin.read() if source == "-" else open(source, encoding="utf-8").read()
    except OSError as err:
        _fail(f"{source}: {err.strerror}")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        _fail(f"facts: not valid JSON: line {err.lineno} column {err.colno}: {err.msg}")
    try:
        facts, now = parse_facts(document)
    except FactsError as err:
        _fail(str(err))
    click.echo(json.dumps(policy.evaluate(facts, now or utcnow()).as_json(), ensure_ascii=False))


@policy_group.command("check", help="Validate a policy file (default: every file in config/policies) and run its examples.")
@click.argument("files", nargs=-1)
def policy_check(files):
    from bot.domain.rules.loading import POLICY_DIR, PolicyError, load_policy

    targets = list(files) or sorted(str(p) for p in POLICY_DIR.glob("*.json"))
    failed = False
    for target in targets:
        try:
            policy = load_policy(target)
        except PolicyError as err:
            click.echo(f"FAIL {err}", err=True)
            failed = True
            continue
        failures = policy.check_examples()
        for line in failures:
            click.echo(f"FAIL {policy.path.name}: {line}", err=True)
        failed |= bool(failures)
        click.echo(f"{'ok  ' if not failures else 'FAIL'} {policy.path.name}: version {policy.version}, valid from "
                   f"{policy.valid_from.isoformat()}, {len(policy.rules)} rules, "
                   f"{len(policy.examples) - len(failures)}/{len(policy.examples)} examples hold")
    sys.exit(1 if failed else 0)


@policy_group.command("reevaluate", help="Re-evaluate everyone under the current policy (after a policy change).")
@click.option("--wait/--no-wait", default=True, help="show progress until the run is done")
def policy_reevaluate(wait):
    import time

    from bot.domain.models import ReevaluationRun
    from bot.domain.reevaluation import start_run

    svc = current_app.extensions["services"]
    with svc.db.session() as s:
        run = start_run(s, "policy_change", svc.policy.name)
    click.echo(f"re-evaluation run {run.id} queued (policy {svc.policy.name}); workers do the work")
    if not wait:
        return
    with click.progressbar(length=1, label="re-evaluating", show_pos=True) as bar:
        while True:
            with svc.db.session() as s:
                r = s.get(ReevaluationRun, run.id)
            if r.total and bar.length != r.total:
                bar.length = r.total
            bar.update(r.processed - bar.pos)
            if r.status == "done":
                break
            time.sleep(0.5)
    click.echo(f"done: {r.processed} people, {r.changed} colour changes queued for notice")


@policy_group.command("runs", help="Recent re-evaluation runs and their progress.")
def policy_runs():
    from sqlalchemy import select

    from bot.domain.models import ReevaluationRun

    with current_app.extensions["services"].db.session() as s:
        for r in s.scalars(select(ReevaluationRun).order_by(ReevaluationRun.id.desc()).limit(20)):
            click.echo(f"#{r.id} {r.cause:14} {r.policy:14} {r.status:8} {r.processed}/{r.total} "
                       f"changed {r.changed} started {r.started_at:%Y-%m-%d %H:%M}")
