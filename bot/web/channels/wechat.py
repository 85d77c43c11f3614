"""The WeChat official account webhook (/wechat): plain, compatible and safe (AES) mode.

GET  verifies the URL (signature over the sorted token, timestamp, nonce) and echoes echostr.
POST checks `signature` in plain mode and `msg_signature` in safe mode (encrypt_type=aes; wechatpy
decrypts and encrypts), parses the flat XML, answers passively with one text (encrypted when the request was), or `success`.
"""
from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, abort, current_app, request
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from bot.web.channels import fit_text, join_texts, parse_fields, read_body, refuse_entities, text_reply
from bot.chat.conversation.messages import Inbound

log = logging.getLogger("bot.wechat")
bp = Blueprint("wechat", __name__)

KINDS = {"text": "text", "image": "image", "voice": "voice", "video": "video", "shortvideo": "video",
         "location": "location", "link": "link", "event": "event"}


def _config() -> dict:
    cfg = current_app.extensions["services"].settings.wechat
    if not cfg.get("token"):
        abort(404)  # the channel is not configured in this deployment
    return cfg


def _signed(token: str, args) -> bool:
    try:
        check_signature(token, args.get("signature", ""), args.get("timestamp", ""), args.get("nonce", ""))
        return True
    except InvalidSignatureException:
        return False


@bp.get("/wechat")
def verify():
    return _verify(_config())


def _verify(cfg: dict) -> Response:
    if not _signed(cfg["token"], request.args):
        abort(403)
    return Response(request.args.get("echostr", ""), mimetype="text/plain")


def _mp_config() -> dict:
    cfg = current_app.extensions["services"].settings.wechat_mp
    if not cfg.get("token"):
        abort(404)
    return cfg


@bp.get("/wechat/mp")
def mp_verify():
    return _verify(_mp_config())


@bp.post("/wechat/mp")
def mp_receive():
    """Mini-program customer-service messages, XML or JSON, plain or safe mode. Answered with
    `success` at once; the bot's replies go out through the customer-service API (workers)."""
    cfg = _mp_config()
    body = read_body()
    args = request.args
    is_json = body.lstrip()[:1] == b"{"
    try:
        data = json.loads(body) if is_json else None
    except ValueError:
        abort(400, "the body is not JSON")
    if not is_json:
        refuse_entities(body)
    if args.get("encrypt_type", "raw").lower() == "aes" and cfg.get("encoding_aes_key"):
        crypto = WeChatCrypto(cfg["token"], cfg["encoding_aes_key"], cfg.get("appid") or "")
        try:
            # wechatpy takes the JSON form as a dict (it has no JSON parser of its own)
            plain = crypto.decrypt_message(data if is_json else body, args.get("msg_signature", ""),
                                           args.get("timestamp", ""), args.get("nonce", ""))
        except InvalidSignatureException:
            abort(403)
        except Exception:
            abort(400, "the encrypted message could not be read")
    else:
        if not _signed(cfg["token"], args):
            abort(403)
        plain = None
    try:
        if plain is not None:
            text = plain.decode() if isinstance(plain, bytes) else plain
            if text.lstrip()[:1] == "{":
                fields = _flat(json.loads(text))
            else:
                refuse_entities(text)
                fields = parse_fields(text)
        else:
            fields = _flat(data) if is_json else parse_fields(body)
        inbound = to_inbound(fields, "wechat_mp", cfg.get("appid") or "")
    except Exception:
        abort(400, "the message is not a mini-program message")
    current_app.extensions["chat"].answer_later(inbound)
    return Response("success", mimetype="text/plain")


def _flat(data) -> dict:
    """A JSON message as the flat fields the XML form has (numbers as text)."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return {k: (str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v) for k, v in data.items()}


@bp.post("/wechat")
def receive():
    cfg = _config()
    return handle_post(cfg, channel="wechat")


def handle_post(cfg: dict, channel: str) -> Response:
    body = read_body()
    refuse_entities(body)
    args = request.args
    crypto = None
    if args.get("encrypt_type", "raw").lower() == "aes" and cfg.get("encoding_aes_key"):
        crypto = WeChatCrypto(cfg["token"], cfg["encoding_aes_key"], cfg.get("appid") or "")
        try:
            xml = crypto.decrypt_message(body, args.get("msg_signature", ""), args.get("timestamp", ""),
                                         args.get("nonce", ""))
        except InvalidSignatureException:
            abort(403)
        except Exception:
            abort(400, "the encrypted message could not be read")
        refuse_entities(xml)
    else:
        if not _signed(cfg["token"], args):
            abort(403)
        xml = body
    try:
        inbound = to_inbound(parse_fields(xml), channel, cfg.get("appid") or "")
    except Exception:
        abort(400, "the message is not WeChat XML")

    texts = current_app.extensions["chat"].answer(inbound)
    if not texts:
        return Response("success", mimetype="text/plain")
    reply = text_reply(inbound.extra["to"], inbound.user, fit_text(join_texts(texts)))
    if crypto is not None:
        reply = crypto.encrypt_message(reply, args.get("nonce", ""), args.get("timestamp") or None)
    return Response(reply, mimetype="application/xml")


def to_inbound(data: dict, channel: str, app_id: str) -> Inbound:
    """A WeChat message's fields -> the neutral Inbound. A field of the wrong type cannot raise
    later; a message without sender or type is not WeChat's."""
    sender, to, msg_type = data.get("FromUserName"), data.get("ToUserName"), data.get("MsgType")
    if not all(isinstance(v, str) and v for v in (sender, to, msg_type)):
        raise ValueError("no FromUserName, ToUserName or MsgType")
    kind = KINDS.get(msg_type.lower(), "other")
    created = data.get("CreateTime")
    created = int(created) if isinstance(created, str) and created.isdigit() else 0
    msg_id = data.get("MsgId") if isinstance(data.get("MsgId"), str) else ""

    def field(name: str) -> str:
        value = data.get(name)
        return value if isinstance(value, str) else ""

    if kind == "event":
        event = field("Event").lower()
        if event == "subscribe" and field("EventKey").startswith("qrscene_"):
            event = "subscribe_scan"
        return Inbound(channel, app_id, sender, "event", event=event, event_key=field("EventKey"),
                       created_at=created, extra={"to": to})
    text = field("Content") if kind == "text" else field("Title") if kind == "link" else ""
    return Inbound(channel, app_id, sender, kind, text=text, media_id=field("MediaId"), msg_id=msg_id,
                   created_at=created, extra={"to": to})
