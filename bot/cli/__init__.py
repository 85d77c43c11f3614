"""`flask --app wsgi …` commands: db, staff, outbox, worker."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup, with_appcontext
from flask import Flask, current_app


def services():
    return current_app.extensions["services"]


def register(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(staff_group)
    app.cli.add_command(outbox_group)
    app.cli.add_command(worker_command)
    app.cli.add_command(purge_command)
    from bot.cli.policy import policy_group

    app.cli.add_command(policy_group)
    app.cli.add_command(simulate_command)
    from bot.cli.keys import keys_group, verify_command

    app.cli.add_command(keys_group)
    app.cli.add_command(verify_command)


@click.group("db", cls=AppGroup, help="Database schema (Alembic migrations).")
def db_group():
    pass


@db_group.command("upgrade", help="Apply migrations up to REVISION (default: the newest).")
@click.argument("revision", default="head")
def db_upgrade(revision):
    from bot.infra import migrate

    migrate.upgrade(services(), revision)
    click.echo(f"database at revision {migrate.current_revision(services())}")


@db_group.command("current", help="Print the database's revision and the newest one.")
def db_current():
    from bot.infra import migrate

    click.echo(f"current {migrate.current_revision(services())} head {migrate.head_revision(services())}")


@click.group("staff", cls=AppGroup, help="Staff accounts.")
def staff_group():
    pass


@staff_group.command("create", help="Create a staff account and print its token (shown once).")
@click.option("--role", required=True, help="admin, reviewer, community, lab or scanner")
@click.option("--name", required=True, help="who holds the token")
@click.option("--scope", multiple=True, help="district code (community role); repeat for several")
def staff_create(role, name, scope):
    from bot.domain import audit
    from bot.domain.staff import StaffError, create_staff

    try:
        with services().db.session() as s:
            staff, token = create_staff(s, role, name, list(scope))
            audit.record(s, "staff.create", actor_kind="system", staff_id=staff.id, role=role, scope=list(scope))
    except StaffError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"staff #{staff.id} {name} ({role}) token (shown once, keep it safe):")
    click.echo(token)


def _staff_or_exit(session, staff_id: int):
    from bot.domain.models import Staff

    staff = session.get(Staff, staff_id)
    if staff is None:
        click.echo(f"error: no staff member #{staff_id}", err=True)
        sys.exit(2)
    return staff


@staff_group.command("rotate-token", help="A new token for staff member ID (printed once); the old token and every "
                                          "console session of theirs stop working at once.")
@click.argument("staff_id", type=int)
def staff_rotate(staff_id):
    from bot.domain import audit
    from bot.domain.staff import rotate_token

    with services().db.session() as s:
        staff = _staff_or_exit(s, staff_id)
        token = rotate_token(s, staff)
        audit.record(s, "staff.rotate_token", actor_kind="system", staff_id=staff.id)
    click.echo(f"staff #{staff_id} new token (shown once, keep it safe):")
    click.echo(token)


@staff_group.command("disable", help="Disable staff member ID: their token and console sessions stop working at once.")
@click.argument("staff_id", type=int)
def staff_disable(staff_id):
    from bot.domain import audit
    from bot.domain.staff import end_sessions
    from bot.infra.db import utcnow

    with services().db.session() as s:
        staff = _staff_or_exit(s, staff_id)
        staff.disabled_at = staff.disabled_at or utcnow()
        end_sessions(staff)
        audit.record(s, "staff.disable", actor_kind="system", staff_id=staff.id)
    click.echo(f"staff #{staff_id} disabled")


@click.command("purge", help="Remove personal data: past the retention period (--older-than DAYS), or all of "
                             "it at the end of the epidemic (--all-personal-data). Anonymous counts stay.")
@click.option("--older-than", "days", type=click.IntRange(1, 36500), help="remove records older than DAYS days")
@click.option("--all-personal-data", "everything", is_flag=True, help="remove every person and all about them")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@with_appcontext
def purge_command(days, everything, yes):
    from sqlalchemy import func, select

    from bot.domain import purge
    from bot.domain.models import Person

    if bool(days) == bool(everything):
        click.echo("error: give exactly one of --older-than DAYS and --all-personal-data", err=True)
        sys.exit(2)
    svc = services()
    if everything:
        with svc.db.session() as s:
            total = s.scalar(select(func.count()).select_from(Person)) or 0
        question = f"Remove ALL personal data ({total} people and everything about them)?"
    else:
        counts = purge.count(svc.db, purge.plan_older_than(days))
        total = sum(counts.values())
        for label, n in counts.items():
            click.echo(f"{label:28} {n}")
        question = f"Remove these {total} records older than {days} days?"
    if not yes and not click.confirm(question):
        click.echo("nothing removed")
        return
    with click.progressbar(length=max(total, 1), label="purging", show_pos=True) as bar:
        def progress(label, n):
            bar.label = label
            bar.update(n)

        done = purge.everything(svc, progress) if everything else purge.older_than(svc, days, progress)
    for label, n in done.items():
        click.echo(f"removed {n} {label}")


@click.group("outbox", cls=AppGroup, help="The effect outbox.")
def outbox_group():
    pass


@outbox_group.command("status", help="Rows by status.")
def outbox_status():
    from bot.infra.outbox import counts

    with services().db.session() as s:
        for status, n in sorted(counts(s).items()):
            click.echo(f"{status:8} {n}")


@outbox_group.command("sweep", help="Enqueue due and lost rows now (the worker does this every few seconds).")
def outbox_sweep():
    from bot.infra.outbox import sweep

    click.echo(f"enqueued {sweep(services())}")


@outbox_group.command("ping", help="Queue a harmless effect to check the web -> outbox -> worker path.")
def outbox_ping():
    import uuid

    from bot.infra import outbox

    mark = f"ping-{uuid.uuid4().hex}"
    with services().db.session() as s:
        row = outbox.add(s, "ledger.record", {"mark": mark})
    click.echo(f"outbox row {row.id} queued; a worker records {mark} in effect_ledger")


@click.command("worker", help="Run one RQ worker with its scheduler (and the outbox sweep).")
@click.option("--burst", is_flag=True, help="quit when the queues are empty")
@with_appcontext
def worker_command(burst):
    from bot.services import QUEUE_NAMES
    from workers import runtime
    from workers.worker import OutboxWorker

    svc = services()
    runtime.use(svc)
    worker = OutboxWorker([svc.queue(n) for n in QUEUE_NAMES], connection=svc.redis.client())
    worker.work(with_scheduler=True, burst=burst, logging_level=svc.settings.log_level)


@click.command("simulate", help="Chat with the bot in the terminal, as WeChat would (like /dev/chat). "
                                "Lines starting with / are actions: /image /voice /subscribe /unsubscribe "
                                "/click KEY /quit.")
@click.option("--user", default="sim-user", show_default=True, help="the WeChat openid to chat as")
@click.option("--safe", is_flag=True, help="safe mode: messages and replies encrypted with the AES key")
@with_appcontext
def simulate_command(user, safe):
    from bot.devtools.devchat import WeChatSimulator, flask_poster

    cfg = services().settings.wechat
    if not cfg.get("token"):
        raise click.ClickException("WECHAT_TOKEN is not set: the /wechat webhook is off")
    sim = WeChatSimulator(flask_poster(current_app.test_client()), cfg, safe=safe)
    interactive = sys.stdin.isatty()
    while True:
        try:
            line = input("> " if interactive else "")
        except EOFError:
            break
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        if line == "/image":
            ex = sim.image(user)
        elif line == "/voice":
            ex = sim.voice(user)
        elif line in ("/subscribe", "/unsubscribe"):
            ex = sim.event(user, line[1:])
        elif line.startswith("/click"):
            ex = sim.event(user, "CLICK", line[len("/click"):].strip())
        else:
            ex = sim.text(user, line)
        if ex.status != 200:
            click.echo(f"[HTTP {ex.status}]")
        elif ex.texts:
            click.echo(ex.texts)
        click.echo("")
