"""The Alipay channel (POST /alipay): the life-account gateway and the open-platform push.

- `service=alipay.service.check` (verifygw): the signed answer carries our public key.
- `service=alipay.mobile.public.message.notify`: text, image and events (follow, unfollow,
  click with ActionParam, enter). A signed `ack` goes back at once. The bot's replies go out
  through `alipay.open.public.message.custom.send`, as chat_reply notices the push workers
  deliver.
- `msg_method` (open-platform message push, JSON biz_content): verified, answered `success`.

Replays: the message's signed CreateTime must be within WECHAT_MAX_SKEW of our clock.

Signatures: gateway messages are signed over the sorted `k=v&…` of every parameter but `sign`,
WITH `sign_type`. python-alipay-sdk's verify() drops sign_type, so it refuses every genuine
gateway message; the open-platform push leaves out both sign and sign_type. Alipay signs the
bytes in the message's own `charset`, and gateway messages often come as GBK, which Werkzeug's
request.form garbles. So the raw body is split and percent-decoded here, in that charset.
"""
from __future__ import annotations

import base64
import binascii
import logging
import re
import time
import urllib.parse
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from defusedxml.ElementTree import fromstring
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from flask import Blueprint, Response, abort, current_app, request

from bot.web.channels import cdata, fresh, read_body, refuse_entities
from bot.chat.conversation.messages import Inbound
from bot.infra.platforms import pem

log = logging.getLogger("bot.alipay")
bp = Blueprint("alipay", __name__)

EVENTS = {"follow": "subscribe", "unfollow": "unsubscribe", "click": "click", "enter": "enter"}
HASHES = {"RSA2": hashes.SHA256, "RSA": hashes.SHA1}


# -- keys -----------------------------------------------------------------------------------------

@lru_cache(maxsize=8)
def private_key(text: str):
    return serialization.load_pem_private_key(pem(text, "PRIVATE KEY").encode(), None)


@lru_cache(maxsize=8)
def public_key(text: str):
    return serialization.load_pem_public_key(pem(text, "PUBLIC KEY").encode())


def public_key_body(private_text: str) -> str:
    """Our public key as verifygw wants it: the base64 body, no PEM lines."""
    der = private_key(private_text).public_key().public_bytes(serialization.Encoding.DER,
                                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


# -- the raw form ------------------------------------------------------------------------------------

def parse_form(body: bytes, header_charset: str | None = None) -> tuple[dict, str]:
    """The form fields decoded in the message's own charset (the `charset` field, else the
    Content-Type's, else UTF-8). Raw non-ASCII bytes are taken as that charset too."""
    pairs = []
    for part in body.split(b"&"):
        if not part:
            continue
        key, _, value = part.partition(b"=")
        pairs.append((urllib.parse.unquote_to_bytes(key.replace(b"+", b" ")),
                      urllib.parse.unquote_to_bytes(value.replace(b"+", b" "))))
    charset = next((v.decode("ascii", "replace") for k, v in pairs if k == b"charset" and v), None) \
        or header_charset or "UTF-8"
    try:
        "".encode(charset)
    except LookupError:
        raise ValueError(f"unknown charset {charset!r}") from None
    return {k.decode(charset): v.decode(charset) for k, v in pairs}, charset


def signed_text(params: dict, keep_sign_type: bool) -> str:
    drop = {"sign"} if keep_sign_type else {"sign", "sign_type"}
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in drop and v is not None)


def verify(params: dict, charset: str, alipay_public_key: str, keep_sign_type: bool) -> bool:
    sign, sign_type = params.get("sign"), params.get("sign_type") or "RSA2"
    if not sign or sign_type not in HASHES:
        return False
    try:
        public_key(alipay_public_key).verify(base64.b64decode(sign), signed_text(params, keep_sign_type).encode(charset),
                                             padding.PKCS1v15(), HASHES[sign_type]())
        return True
    except (InvalidSignature, ValueError, binascii.Error):
        return False


def signed_reply(inner: str, charset: str, app_private_key: str) -> Response:
    """`<alipay><response>inner</response><sign>…</sign><sign_type>RSA2</sign_type></alipay>`, the
    sign being RSA2 over the exact text of `inner` in the message's charset."""
    sign = base64.b64encode(private_key(app_private_key).sign(inner.encode(charset), padding.PKCS1v15(),
                                                               hashes.SHA256())).decode()
    xml = (f'<?xml version="1.0" encoding="{charset}"?><alipay><response>{inner}</response>'
           f"<sign>{sign}</sign><sign_type>RSA2</sign_type></alipay>")
    return Response(xml.encode(charset), mimetype="text/xml", content_type=f"text/xml; charset={charset}")


# -- the endpoint ----------------------------------------------------------------------------------

def _config() -> dict:
    cfg = current_app.extensions["services"].settings.alipay
    if not (cfg.get("appid") and cfg.get("app_private_key") and cfg.get("alipay_public_key")):
        abort(404)  # the channel is not configured in this deployment
    return cfg


@bp.post("/alipay")
def receive():
    cfg = _config()
    body = read_body()
    try:
        params, charset = parse_form(body, request.mimetype_params.get("charset"))
    except (ValueError, UnicodeDecodeError):
        abort(400, "the form could not be read in its charset")
    if "msg_method" in params:  # the open-platform push
        if not verify(params, charset, cfg["alipay_public_key"], keep_sign_type=False):
            abort(403)
        log.info("Alipay open-platform message %s", params.get("msg_method"))
        return Response("success", mimetype="text/plain")
    service = params.get("service")
    verified = verify(params, charset, cfg["alipay_public_key"], keep_sign_type=True)
    if service == "alipay.service.check":
        if verified:
            inner = f"<success>true</success><biz_content>{public_key_body(cfg['app_private_key'])}</biz_content>"
        else:
            inner = "<success>false</success><error_code>VERIFY_FAILED</error_code>"
        return signed_reply(inner, charset, cfg["app_private_key"])
    if service != "alipay.mobile.public.message.notify":
        abort(400, "unknown service")
    if not verified:
        abort(403)
    xml = params.get("biz_content", "")
    refuse_entities(xml)
    try:
        inbound = to_inbound(xml, cfg["appid"])
    except Exception:
        abort(400, "biz_content is not an Alipay message")
    if not fresh(inbound.created_at, current_app.extensions["services"].settings.wechat_max_skew):
        abort(403)  # the signed CreateTime of an old message: a replay (its retries come within minutes)
    current_app.extensions["chat"].answer_later(inbound)
    ack = (f"<XML><ToUserId>{cdata(inbound.user)}</ToUserId><AppId>{cdata(cfg['appid'])}</AppId>"
           f"<CreateTime>{int(time.time() * 1000)}</CreateTime><MsgType>{cdata('ack')}</MsgType></XML>")
    return signed_reply(ack, charset, cfg["app_private_key"])


def to_inbound(xml: str, app_id: str) -> Inbound:
    """An Alipay message (decoded biz_content XML) -> the neutral Inbound. Text and media sit one
    level down (<Text><Content>, <Image><MediaId>)."""
    root = fromstring(re.sub(r"^\s*<\?xml[^>]*\?>", "", xml), forbid_dtd=True)
    f = {child.tag: (child.text or "").strip() for child in root}
    user, msg_type = f.get("FromUserId") or "", (f.get("MsgType") or "").lower()
    if not user or not msg_type:
        raise ValueError("no FromUserId or MsgType")
    created = f.get("CreateTime") or "0"
    created_at = int(created) // 1000 if len(created) > 10 else int(created)  # Alipay sends milliseconds
    if msg_type == "event":
        kind = (f.get("EventType") or "").lower()
        return Inbound("alipay", app_id, user, "event", event=EVENTS.get(kind, kind),
                       event_key=f.get("ActionParam") or "", created_at=created_at, extra={"to": app_id})
    kind = {"text": "text", "image": "image"}.get(msg_type, "other")
    text = (root.findtext("Text/Content") or f.get("Content") or "") if kind == "text" else ""
    media = root.findtext("Image/MediaId") or f.get("MediaId") or ""
    return Inbound("alipay", app_id, user, kind, text=text, media_id=media, msg_id=f.get("MsgId") or "",
                   created_at=created_at, extra={"to": app_id})
