"""Appeal evidence: the images a user sent are fetched from the platform (its media ids last
3 days) by a worker, sealed with the PII key and kept with the appeal."""
from __future__ import annotations

import hashlib

from sqlalchemy import select

from bot.domain.models import AppealEvidence
from bot.infra.platforms import wechat_api
from workers.effects import PermanentError, effect


@effect("appeal.evidence")
def fetch_evidence(ctx):
    channel = ctx.payload.get("channel", "wechat")
    if channel not in ("wechat", "wechat_mp"):
        raise PermanentError(f"evidence from {channel} is not fetched yet")
    api = wechat_api(ctx.services, channel)
    vault = ctx.services.vault
    appeal_id = ctx.payload["appeal_id"]
    for e in ctx.session.scalars(select(AppealEvidence).where(AppealEvidence.appeal_id == appeal_id,
                                                               AppealEvidence.data.is_(None))):
        resp = api.call(api.media.download, e.media_id)
        ctype = resp.headers.get("Content-Type", "image/jpeg").split(";")[0]
        if ctype.startswith("application/json") or ctype.startswith("text/"):
            raise RuntimeError(f"media {e.media_id} could not be fetched: {resp.text[:200]}")
        e.content_type, e.sha256 = ctype, hashlib.sha256(resp.content).hexdigest()
        e.data = vault.seal(resp.content, f"appeal_evidence:{appeal_id}")
