"""Appeal evidence: the images a user sent are fetched from the platform (its media ids last
3 days) by a worker, checked to be pictures, sealed with the PII key and kept with the appeal.

Each image on its own: one that cannot be fetched (the platform refuses its media id, or it is
not a JPEG, PNG, GIF or WebP picture) is marked failed with the reason, and the others are kept.
A platform that cannot be reached is tried again (the outbox's retry); on the last attempt the
image is marked failed with that reason, so the reviewer sees why it is missing.
"""
from __future__ import annotations

import requests
from sqlalchemy import select, update
from wechatpy.exceptions import WeChatClientException

from bot.domain.appeals import failed_evidence, keep_evidence
from bot.domain.models import Appeal, AppealEvidence
from bot.domain.vocab import EvidenceStatus
from bot.infra.platforms import wechat_api
from bot.infra.db import utcnow
from bot.infra.retry import OUTBOX as RETRY
from bot.infra.sms import send_text
from bot.infra.texts import say
from workers.effects import effect


class Unreachable(Exception):
    """The platform did not answer: worth another attempt."""


class Refused(Exception):
    """The platform refused the media id (expired, unknown): final."""


@effect("appeal.evidence")
def fetch_evidence(ctx):
    channel = ctx.payload.get("channel", "wechat")
    appeal_id = ctx.payload["appeal_id"]
    q = select(AppealEvidence).where(AppealEvidence.appeal_id == appeal_id,
                                     AppealEvidence.status == EvidenceStatus.PENDING)
    if "evidence_id" in ctx.payload:  # one job per image (jobs queued before carried the appeal only)
        q = q.where(AppealEvidence.id == ctx.payload["evidence_id"])
    pending = list(ctx.session.scalars(q))
    if channel not in ("wechat", "wechat_mp"):
        for e in pending:
            failed_evidence(e, f"channel: images from {channel} are not fetched yet")
        return
    if not pending:
        return
    api = wechat_api(ctx.services, channel)
    unreachable = None
    for e in pending:
        try:
            keep_evidence(ctx.services.vault, e, _download(api, e.media_id))
        except Refused as exc:
            failed_evidence(e, str(exc))
        except Unreachable as exc:
            e.fetch_error = str(exc)[:256]
            unreachable = exc
    if unreachable is not None:
        if RETRY.exhausted(ctx.attempt):
            for e in pending:
                if e.status == EvidenceStatus.PENDING:
                    failed_evidence(e, f"{e.fetch_error} ({ctx.attempt} attempts)")
            return
        # the reason outlives this attempt's rollback (the reviewer sees why an image is late)
        waiting = {e.id: e.fetch_error for e in pending if e.status == EvidenceStatus.PENDING}
        with ctx.services.db.session() as s:
            for evidence_id, reason in waiting.items():
                s.execute(update(AppealEvidence).where(AppealEvidence.id == evidence_id,
                                                       AppealEvidence.status == EvidenceStatus.PENDING)
                          .values(fetch_error=reason))
        raise unreachable  # the rest is tried again; what was kept so far is kept again then


def _download(api, media_id: str | None) -> bytes:
    if not media_id:
        raise Refused("platform: no media id")
    try:
        resp = api.call(api.media.download, media_id)
    except WeChatClientException as exc:
        raise Refused(f"platform: {exc.errcode} {exc.errmsg}") from exc
    except (requests.RequestException, OSError) as exc:
        raise Unreachable(f"unreachable: {exc.__class__.__name__}") from exc
    if resp.status_code >= 500:
        raise Unreachable(f"unreachable: HTTP {resp.status_code}")
    ctype = resp.headers.get("Content-Type", "").split(";")[0].strip()
    if ctype.startswith("application/json") or ctype.startswith("text/"):
        raise Refused(f"platform: {resp.text[:200]}")  # an error body the SDK did not raise for
    return resp.content


@effect("appeal.sms")
def text_decision(ctx):
    """A 12345 caller hears the decision by SMS at the callback number they gave (sealed with
    the appeal). Sent once: the ledger keeps the send, so a re-run after a crash does not
    text again."""
    appeal = ctx.session.get(Appeal, ctx.payload["appeal_id"])
    if appeal is None or appeal.callback_sent_at is not None or not appeal.callback_phone:
        return  # purged, sent already, or no number to send to
    text = say("sms.appeal_decided", number=appeal.number, outcome=appeal.outcome, colour=appeal.decided_colour,
               reply=appeal.reply)
    ctx.once(f"appeal.sms:{appeal.id}", lambda: send_text(ctx.services, appeal.callback_phone, text) or {"sent": 1})
    appeal.callback_sent_at = utcnow()
