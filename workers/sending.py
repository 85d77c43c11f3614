"""Sending one notice through its platform: WeChat (customer-service message inside the 48-hour
window, else the template where one is configured; the mini-program's subscribe message where
the user subscribed), or Alipay; and what each platform error means for the notice (the
Outcome: delivered, undeliverable with the reason, or pending with a back-off)."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import requests
from wechatpy.exceptions import WeChatClientException

from bot.domain.code_views import in_language
from bot.infra import texts, tokens
from bot.infra.db import SHANGHAI, utcnow
from bot.infra.platforms import TOKEN_ERRORS, ChannelUnavailable, alipay_push, wechat_api
from bot.infra.retry import NOTICES as RETRY
from bot.domain.vocab import NoticeStatus
from bot.infra.texts import say

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    status: str                      # delivered / undeliverable / pending (retry later)
    via: str | None = None
    reason: str | None = None
    retry_in: float | None = None    # seconds, for pending
    pause: bool = False              # quota: stop this batch, the rest waits too


class Quota(Exception):
    pass


def backoff(attempts: int) -> float:
    """Seconds before the next try (the shared retry policy, notices' pace)."""
    return RETRY.delay(attempts).total_seconds()


def send(svc, row, in_window: bool) -> Outcome:
    """In the account's language (国际版: channel_identities.language): texts, links, images."""
    token = texts.language.set(getattr(row, "language", None) or texts.SOURCE_LANGUAGE)
    try:
        return _send(svc, row, in_window)
    finally:
        texts.language.reset(token)


def _send(svc, row, in_window: bool) -> Outcome:
    if row.channel is None:
        return Outcome(NoticeStatus.UNDELIVERABLE, reason="the chat account no longer exists")
    if not row.subscribed and row.channel == "wechat":
        return Outcome(NoticeStatus.UNDELIVERABLE, reason="the user has unfollowed the official account")
    try:
        if row.channel in ("wechat", "wechat_mp"):
            return _send_wechat(svc, row, in_window)
        if row.channel == "alipay":
            return _send_alipay(svc, row)
        return Outcome(NoticeStatus.UNDELIVERABLE, reason=f"unknown channel {row.channel}")
    except ChannelUnavailable as exc:
        return Outcome(NoticeStatus.UNDELIVERABLE, reason=str(exc))
    except Quota as exc:
        return Outcome(NoticeStatus.PENDING, reason=str(exc), retry_in=max(backoff(row.attempts), 600), pause=True)
    except (requests.RequestException, OSError) as exc:
        return Outcome(NoticeStatus.PENDING, reason=f"platform unreachable: {exc.__class__.__name__}",
                       retry_in=backoff(row.attempts))
    except Exception as exc:  # a bug or a bad payload: not worth retrying blindly
        log.exception("notice %s could not be sent", row.id)
        return Outcome(NoticeStatus.UNDELIVERABLE, reason=f"internal error: {exc.__class__.__name__}: {exc}")


def notice_text(svc, row) -> str:
    """The notice in the account's language (send() sets it)."""
    p = dict(row.payload or {})
    if row.kind == "chat_reply":
        return "\n\n".join(p.get("texts") or [])
    if row.public_id is not None:
        p.setdefault("link", tokens.code_link(svc.settings, row))
    if row.kind == "code_changed":  # the reason, next step and what the colour may do, in that language
        words = in_language(svc.policy, p["new"], p.get("reason", ""), p.get("next_step", ""), p.get("wording"))
        p.update(reason=words["reason"], next_step=words["next_step"] if p.get("next_step") else "", may=words["may"])
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
                             url=tokens.code_link(svc.settings, row) if row.public_id else None)
            else:
                _wechat_call(api, api.wxa.send_subscribe_message, openid, template_id, _template_data(row, text))
            return Outcome(NoticeStatus.DELIVERED, via=via)
        except WeChatClientException as exc:
            last = _classify(exc, row)
            if exc.errcode != 45015:  # only "out of the window" moves on to the next way
                return last
    return last or Outcome(NoticeStatus.UNDELIVERABLE, reason="no way to reach this account")


def _push_image(svc, api, row) -> Outcome:
    from bot.domain.code_views import load_view

    with svc.db.session() as s:
        view = load_view(s, row.person_id)
    if view is None:
        return Outcome(NoticeStatus.UNDELIVERABLE, reason="the person has no code")
    png = svc.code_images.png(view, time.time())
    try:
        media = _wechat_call(api, api.media.upload, "image", ("code.png", png, "image/png"))
        _wechat_call(api, api.message.send_image, row.external_id, media["media_id"])
    except WeChatClientException as exc:
        return _classify(exc, row)
    return Outcome(NoticeStatus.DELIVERED, via="custom")


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
        return Outcome(NoticeStatus.UNDELIVERABLE,
                       reason="outside the 48-hour customer-service window, and no template "
                       "message configured for this notice")
    if code == 43101:
        return Outcome(NoticeStatus.UNDELIVERABLE, reason="the user has not accepted subscribe messages (43101)")
    if code == 43004:
        return Outcome(NoticeStatus.UNDELIVERABLE, reason="the user has unfollowed the account (43004)")
    if code in (40003, 40013):
        return Outcome(NoticeStatus.UNDELIVERABLE, reason=f"the platform does not know this user ({code})")
    if code in TOKEN_ERRORS:
        return Outcome(NoticeStatus.PENDING, reason=f"access token refused after a refresh ({code})",
                       retry_in=backoff(row.attempts))
    if code is None or code == -1:  # HTTP error or "system busy"
        return Outcome(NoticeStatus.PENDING, reason=f"platform error ({exc.errmsg or 'HTTP'})",
                       retry_in=backoff(row.attempts))
    return Outcome(NoticeStatus.UNDELIVERABLE, reason=f"platform error {code}: {exc.errmsg}")


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
            bare, lang = tokens.code_link(svc.settings, row, texts.SOURCE_LANGUAGE), texts.language.get()
            client.send_code_image(row.external_id, f"{bare}.png?p={tokens.scan_period(time.time())}&lang={lang}",
                                   tokens.code_link(svc.settings, row), say("image.title"))
        else:
            client.send_text(row.external_id, notice_text(svc, row))
    except AlipayError as exc:
        if exc.code in ("20000", "20001") or "SYSTEM_ERROR" in exc.sub_code.upper():
            return Outcome(NoticeStatus.PENDING, reason=f"Alipay busy ({exc})", retry_in=backoff(row.attempts))
        if exc.code == "40004" and "limit" in exc.sub_code.lower():
            raise Quota(f"Alipay limit reached ({exc.sub_code})") from exc
        return Outcome(NoticeStatus.UNDELIVERABLE, reason=f"Alipay refused: {exc}")
    except AliPayValidationError:
        return Outcome(NoticeStatus.PENDING, reason="Alipay's answer failed signature verification",
                       retry_in=backoff(row.attempts))
    except AliPayException as exc:  # an unsigned error answer (bad app id, bad signature of ours)
        return Outcome(NoticeStatus.UNDELIVERABLE, reason=f"Alipay refused the call: {exc}"[:500])
    return Outcome(NoticeStatus.DELIVERED, via="alipay")
