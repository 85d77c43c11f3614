"""Delivering notices (push messages) to chat accounts: workers.notices.drain.

Notice rows are written where their cause is committed (colour changes fan out in
workers.codes, a declaration asks for its code image, a late chat answer is kept). A commit
that wrote notices nudges a drain job. Each drain claims batches of due notices (pending ->
sending, with a claim token and a lease), sends them one by one, and writes the outcomes back
fenced by the claim. While one batch comes back full it nudges another drain, so every worker
helps. The worker's sweep nudges one too when due notices wait (a lost nudge, a back-off that
ran out).

Exactly once, as far as a platform without idempotency keys allows: a send that succeeded is
marked in Redis before anything else happens, and outcomes reach the database every few
sends. A run that dies leaves its notices `sending`. When the lease ends, the next drain
counts the marked ones as delivered and sends the others again. A worker killed while a call
is on the wire is the one window left: if the platform processed that call, the notice
arrives twice. It is never lost.

Every notice ends `delivered` (with the way: custom / template / subscribe / alipay) or
`undeliverable` with the reason. Retries back off; a quota error pauses the batch.
"""
from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from dataclasses import dataclass

import requests
from sqlalchemy import case, select, update
from wechatpy.exceptions import WeChatClientException

from bot.infra import tokens
from bot.infra.retry import NOTICES as RETRY
from bot.infra.db import SHANGHAI, utcnow
from bot.infra.metrics import PUSHES
from bot.domain.models import ChannelIdentity, Notice
from bot.domain.notices import QUEUED_FLAG, nudge, pending_due
from bot.infra.platforms import TOKEN_ERRORS, ChannelUnavailable, alipay_push, wechat_api
from bot.infra.texts import say
from workers import runtime

log = logging.getLogger(__name__)

BATCH = 200
BUDGET = 30.0            # seconds a drain works before it hands over to a fresh job
FLUSH_EVERY = 50         # outcomes written to the database this often within a batch
SENT_MARK = "notices:sent:{}"
MARK_TTL = 7 * 86400
WINDOW_KEY = "chat:last:{}:{}:{}"   # written by the conversation store at each inbound message


@dataclass
class Outcome:
    status: str                      # delivered / undeliverable / pending (retry later)
    via: str | None = None
    reason: str | None = None
    retry_in: float | None = None    # seconds, for pending
    pause: bool = False              # quota: stop this batch, the rest waits too


class Quota(Exception):
    pass


# -- nudging --------------------------------------------------------------------------------------

# -- the job ----------------------------------------------------------------------------------------

def drain() -> dict:
    svc = runtime.services()
    svc.redis.client().delete(QUEUED_FLAG)  # from here on, new notices need a new nudge
    started, totals = time.monotonic(), {"delivered": 0, "undeliverable": 0, "pending": 0}
    while True:
        recover_lapsed(svc)
        claim = secrets.token_hex(8)
        batch = claim_batch(svc, claim, BATCH)
        if not batch:
            break
        if len(batch) == BATCH:
            nudge(svc)  # more waiting: let another worker join
        for status, n in deliver_batch(svc, claim, batch).items():
            totals[status] += n
        if time.monotonic() - started > BUDGET:
            nudge(svc)
            break
    return totals


def recover_lapsed(svc) -> int:
    """Notices of a run that died: delivered if marked so, else due again."""
    now = utcnow()
    with svc.db.session() as s:
        rows = s.execute(select(Notice.id, Notice.claim).where(Notice.status == "sending", Notice.lease_until < now)
                         .limit(5000)).all()
        if not rows:
            return 0
        redis = svc.redis.client()
        marks = redis.mget([SENT_MARK.format(r.id) for r in rows])
        for (nid, claim), mark in zip(rows, marks):
            fence = (Notice.id == nid) & (Notice.claim == claim) & (Notice.status == "sending")
            if mark:
                s.execute(update(Notice).where(fence).values(status="delivered", via=mark.decode(),
                                                             delivered_at=now, claim=None, lease_until=None))
            else:
                s.execute(update(Notice).where(fence).values(status="pending", claim=None, lease_until=None))
    log.warning("recovered %d notices of a delivery run that stopped", len(rows))
    return len(rows)


def claim_batch(svc, claim: str, limit: int) -> list:
    now = utcnow()
    lease = now + dt.timedelta(seconds=svc.settings.notice_lease)
    with svc.db.session() as s:
        due = select(Notice.id).where(pending_due(now)).order_by(Notice.id).limit(limit)
        if s.bind.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        s.execute(update(Notice).where(Notice.id.in_(due.scalar_subquery()), Notice.status == "pending")
                  .values(status="sending", claim=claim, lease_until=lease, attempts=Notice.attempts + 1),
                  execution_options={"synchronize_session": False})
        return s.execute(
            select(Notice.id, Notice.kind, Notice.payload, Notice.person_id, Notice.attempts, Notice.identity_id,
                   ChannelIdentity.channel, ChannelIdentity.app_id, ChannelIdentity.external_id,
                   ChannelIdentity.subscribed, ChannelIdentity.push_consents)
            .outerjoin(ChannelIdentity, ChannelIdentity.id == Notice.identity_id)
            .where(Notice.claim == claim, Notice.status == "sending").order_by(Notice.id)).all()


def deliver_batch(svc, claim: str, batch: list) -> dict:
    redis = svc.redis.client()
    windows = redis.pipeline(transaction=False)
    for row in batch:
        windows.exists(WINDOW_KEY.format(row.channel, row.app_id, row.external_id))
    in_window = dict(zip((r.id for r in batch), windows.execute()))
    lease_renewed = time.monotonic()
    done: list[tuple[int, Outcome]] = []
    counts = {"delivered": 0, "undeliverable": 0, "pending": 0}
    paused = None
    for i, row in enumerate(batch):
        if paused is not None:
            done.append((row.id, Outcome("pending", reason=paused.reason, retry_in=paused.retry_in, pause=True)))
            counts["pending"] += 1
            continue
        outcome = send(svc, row, bool(in_window[row.id]))
        if outcome.status == "delivered":  # marked first: sent on the socket, it survives this process
            svc.fast_redis.send("SET", SENT_MARK.format(row.id), outcome.via, "EX", MARK_TTL)
        elif outcome.status == "pending" and RETRY.exhausted(row.attempts):
            outcome = Outcome("undeliverable", reason=f"{outcome.reason} (gave up after {row.attempts} attempts)")
        if outcome.pause:
            paused = outcome
        done.append((row.id, outcome))
        counts[outcome.status] += 1
        PUSHES.labels(row.channel or "none", outcome.status).inc()
        if len(done) >= FLUSH_EVERY:
            _write(svc, claim, done)
            done = []
        if time.monotonic() - lease_renewed > svc.settings.notice_lease / 3:
            _renew(svc, claim)
            lease_renewed = time.monotonic()
    _write(svc, claim, done)
    return counts


def _renew(svc, claim: str) -> None:
    with svc.db.session() as s:
        s.execute(update(Notice).where(Notice.claim == claim, Notice.status == "sending").values(
            lease_until=utcnow() + dt.timedelta(seconds=svc.settings.notice_lease)))


def _write(svc, claim: str, done: list[tuple[int, Outcome]]) -> None:
    """Outcomes back to the database, fenced by the claim (a run that lost its lease writes nothing)."""
    if not done:
        return
    now = utcnow()
    fence = (Notice.claim == claim) & (Notice.status == "sending")
    delivered = [(nid, o.via) for nid, o in done if o.status == "delivered"]
    with svc.db.session() as s:
        if delivered:
            vias = {via for _, via in delivered}
            via_value = vias.pop() if len(vias) == 1 else case({nid: via for nid, via in delivered}, value=Notice.id)
            s.execute(update(Notice).where(fence, Notice.id.in_([nid for nid, _ in delivered])).values(
                status="delivered", via=via_value, delivered_at=now, claim=None, lease_until=None, reason=None),
                execution_options={"synchronize_session": False})
        for nid, o in done:
            if o.status == "undeliverable":
                s.execute(update(Notice).where(fence, Notice.id == nid).values(
                    status="undeliverable", reason=(o.reason or "")[:2000], via=o.via, claim=None, lease_until=None))
            elif o.status == "pending":
                values = dict(status="pending", reason=(o.reason or "")[:2000], claim=None, lease_until=None,
                              available_at=now + dt.timedelta(seconds=o.retry_in or 30))
                if o.pause:
                    values["attempts"] = Notice.attempts - 1  # a quota pause is not the notice's failure
                s.execute(update(Notice).where(fence, Notice.id == nid).values(**values))


# -- one notice -------------------------------------------------------------------------------------

def backoff(attempts: int) -> float:
    """Seconds before the next try (the shared retry policy, notices' pace)."""
    return RETRY.delay(attempts).total_seconds()


def send(svc, row, in_window: bool) -> Outcome:
    if row.channel is None:
        return Outcome("undeliverable", reason="the chat account no longer exists")
    if not row.subscribed and row.channel == "wechat":
        return Outcome("undeliverable", reason="the user has unfollowed the official account")
    try:
        if row.channel in ("wechat", "wechat_mp"):
            return _send_wechat(svc, row, in_window)
        if row.channel == "alipay":
            return _send_alipay(svc, row)
        return Outcome("undeliverable", reason=f"unknown channel {row.channel}")
    except ChannelUnavailable as exc:
        return Outcome("undeliverable", reason=str(exc))
    except Quota as exc:
        return Outcome("pending", reason=str(exc), retry_in=max(backoff(row.attempts), 600), pause=True)
    except (requests.RequestException, OSError) as exc:
        return Outcome("pending", reason=f"platform unreachable: {exc.__class__.__name__}",
                       retry_in=backoff(row.attempts))
    except Exception as exc:  # a bug or a bad payload: not worth retrying blindly
        log.exception("notice %s could not be sent", row.id)
        return Outcome("undeliverable", reason=f"internal error: {exc.__class__.__name__}: {exc}")


def notice_text(svc, row) -> str:
    p = dict(row.payload or {})
    if row.kind == "chat_reply":
        return "\n\n".join(p.get("texts") or [])
    if row.person_id is not None:
        p.setdefault("link", tokens.code_link(svc.settings, row.person_id))
    return say(f"push.{row.kind}", **p)


def _send_wechat(svc, row, in_window: bool) -> Outcome:
    api = wechat_api(svc, row.channel)
    openid = row.external_id
    if row.kind == "code_image":
        return _push_image(svc, api, row)
    text = notice_text(svc, row)
    chain = []
    template = _template_for(svc, row)
    if row.channel == "wechat_mp":
        consent = (row.push_consents or {}).get(row.kind)
        if consent:
            chain.append(("subscribe", consent))
        chain.append(("custom", None))
    else:
        if in_window or template is None:
            chain.append(("custom", None))
        if template is not None:
            chain.append(("template", template))
    last = None
    for via, template_id in chain:
        try:
            if via == "custom":
                _wechat_call(api, api.message.send_text, openid, text)
            elif via == "template":
                _wechat_call(api, api.message.send_template, openid, template_id, _template_data(row, text),
                             url=tokens.code_link(svc.settings, row.person_id) if row.person_id else None)
            else:
                _wechat_call(api, api.wxa.send_subscribe_message, openid, template_id, _template_data(row, text))
            return Outcome("delivered", via=via)
        except WeChatClientException as exc:
            last = _classify(exc, row)
            if exc.errcode != 45015:  # only "out of the window" moves on to the next way
                return last
    return last or Outcome("undeliverable", reason="no way to reach this account")


def _push_image(svc, api, row) -> Outcome:
    from bot.domain.code_views import load_view

    with svc.db.session() as s:
        view = load_view(s, row.person_id)
    if view is None:
        return Outcome("undeliverable", reason="the person has no code")
    png = svc.code_images.png(view, time.time())
    try:
        media = _wechat_call(api, api.media.upload, "image", ("code.png", png, "image/png"))
        _wechat_call(api, api.message.send_image, row.external_id, media["media_id"])
    except WeChatClientException as exc:
        return _classify(exc, row)
    return Outcome("delivered", via="custom")


def _wechat_call(api, fn, *args, **kwargs):
    try:
        return api.call(fn, *args, **kwargs)
    except WeChatClientException as exc:
        if exc.errcode in (45009, 45011, 45047):
            raise Quota(f"platform quota reached ({exc.errcode})") from exc
        raise


def _classify(exc: WeChatClientException, row) -> Outcome:
    code = exc.errcode
    if code == 45015:
        return Outcome("undeliverable", reason="outside the 48-hour customer-service window, and no template "
                       "message configured for this notice")
    if code == 43101:
        return Outcome("undeliverable", reason="the user has not accepted subscribe messages (43101)")
    if code == 43004:
        return Outcome("undeliverable", reason="the user has unfollowed the account (43004)")
    if code in (40003, 40013):
        return Outcome("undeliverable", reason=f"the platform does not know this user ({code})")
    if code in TOKEN_ERRORS:
        return Outcome("pending", reason=f"access token refused after a refresh ({code})",
                       retry_in=backoff(row.attempts))
    if code is None or code == -1:  # HTTP error or "system busy"
        return Outcome("pending", reason=f"platform error ({exc.errmsg or 'HTTP'})", retry_in=backoff(row.attempts))
    return Outcome("undeliverable", reason=f"platform error {code}: {exc.errmsg}")


def _template_for(svc, row) -> str | None:
    if row.kind == "code_changed":
        return svc.settings.wechat_template_code_changed
    if row.kind == "appeal_decided":
        return svc.settings.wechat_template_appeal_decided
    return None


def _template_data(row, text: str) -> dict:
    p = row.payload or {}
    lines = text.splitlines()
    return {"first": {"value": say("push.template_first", **{"proxy": False, "name_masked": "", **p})},
            "keyword1": {"value": lines[0] if lines else ""},
            "keyword2": {"value": utcnow().astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")},
            "remark": {"value": say("push.template_remark", **{"new": p.get("new", ""), **p})}}


def _send_alipay(svc, row) -> Outcome:
    from alipay.exceptions import AliPayException, AliPayValidationError

    from bot.infra.platforms import AlipayError

    client = alipay_push(svc)
    try:
        if row.kind == "code_image":
            page = tokens.code_link(svc.settings, row.person_id)
            client.send_code_image(row.external_id, f"{page}.png?p={tokens.scan_period(time.time())}", page,
                                   say("image.title"))
        else:
            client.send_text(row.external_id, notice_text(svc, row))
    except AlipayError as exc:
        if exc.code in ("20000", "20001") or "SYSTEM_ERROR" in exc.sub_code.upper():
            return Outcome("pending", reason=f"Alipay busy ({exc})", retry_in=backoff(row.attempts))
        if exc.code == "40004" and "limit" in exc.sub_code.lower():
            raise Quota(f"Alipay limit reached ({exc.sub_code})") from exc
        return Outcome("undeliverable", reason=f"Alipay refused: {exc}")
    except AliPayValidationError:
        return Outcome("pending", reason="Alipay's answer failed signature verification",
                       retry_in=backoff(row.attempts))
    except AliPayException as exc:  # an unsigned error answer (bad app id, bad signature of ours)
        return Outcome("undeliverable", reason=f"Alipay refused the call: {exc}"[:500])
    return Outcome("delivered", via="alipay")
