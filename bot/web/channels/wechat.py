"""The WeChat official account webhook (/wechat): plain, compatible and safe (AES) mode.

GET  verifies the URL (signature over the sorted token, timestamp, nonce) and echoes echostr.
POST checks `signature` in plain mode and `msg_signature` in safe mode (encrypt_type=aes; wechatpy
decrypts and encrypts), parses the flat XML, answers passively with one text (encrypted when the request was), or `success`.

Replays: the signed timestamp must be within WECHAT_MAX_SKEW of our clock, and the conversation
store remembers each timestamp + nonce with the body's digest for that long (the same pair with
another body: 403; the same body is a retry). The plain signature covers no body, so with an
EncodingAESKey configured plaintext messages are refused unless WECHAT_ALLOW_PLAIN is on.
"""
from __future__ import annotations

import json
import logging

from flask import Blueprint, Response, abort, current_app, request
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from bot.web.channels import (fit_text, fresh, join_texts, json_depth_ok, parse_fields, read_body, refuse_entities,
                              replay_guard, text_reply)
from bot.chat.conversation.messages import Inbound
from bot.chat.conversation.store import Replayed

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
    `success` at once; the bot's replies go out through the customer-service API (workers).
    The signature is checked before the body is parsed (safe mode: the body's Encrypt field is
    all that is read first, from a body of bounded depth)."""
    cfg = _mp_config()
    body = read_body()
    args = request.args
    max_skew = current_app.extensions["services"].settings.wechat_max_skew
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    if not fresh(timestamp, max_skew):
        abort(403)
    safe = args.get("encrypt_type", "raw").lower() == "aes" and cfg.get("encoding_aes_key")
    if not safe and not (cfg.get("allow_plain") and _signed(cfg["token"], args)):
        abort(403)
    is_json = body.lstrip()[:1] == b"{"
    if is_json:
        if not json_depth_ok(body):
            abort(400, "the JSON is nested too deep")
        try:
            data = json.loads(body)
        except ValueError:
            abort(400, "the body is not JSON")
    else:
        refuse_entities(body)
    if safe:
        crypto = WeChatCrypto(cfg["token"], cfg["encoding_aes_key"], cfg.get("appid") or "")
        try:
            # wechatpy takes the JSON form as a dict (it has no JSON parser of its own)
            plain = crypto.decrypt_message(data if is_json else body, args.get("msg_signature", ""), timestamp, nonce)
        except InvalidSignatureException:
            abort(403)
        except Exception:
            abort(400, "the encrypted message could not be read")
    else:
        plain = None
    try:
        if plain is not None:
            text = plain.decode() if isinstance(plain, bytes) else plain
            if text.lstrip()[:1] == "{":
                if not json_depth_ok(text):
                    raise ValueError("nested too deep")
                fields = _flat(json.loads(text))
            else:
                refuse_entities(text)
                fields = parse_fields(text)
        else:
            fields = _flat(data) if is_json else parse_fields(body)
        app_id = cfg.get("appid") or ""
        inbound = to_inbound(fields, "wechat_mp", app_id,
                             replay_guard("wechat_mp", app_id, timestamp, nonce, body, max_skew))
    except Exception:
        abort(400, "the message is not a mini-program message")
    try:
        current_app.extensions["chat"].answer_later(inbound)
    except Replayed:
        abort(403)
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
    max_skew = current_app.extensions["services"].settings.wechat_max_skew
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    if not fresh(timestamp, max_skew):
        abort(403)
    crypto = None
    if args.get("encrypt_type", "raw").lower() == "aes" and cfg.get("encoding_aes_key"):
        crypto = WeChatCrypto(cfg["token"], cfg["encoding_aes_key"], cfg.get("appid") or "")
        try:
            xml = crypto.decrypt_message(body, args.get("msg_signature", ""), timestamp, nonce)
        except InvalidSignatureException:
            abort(403)
        except Exception:
            abort(400, "the encrypted message could not be read")
        refuse_entities(xml)
    else:
        if not (cfg.get("allow_plain") and _signed(cfg["token"], args)):
            abort(403)
        xml = body
    app_id = cfg.get("appid") or ""
    try:
        inbound = to_inbound(parse_fields(xml), channel, app_id,
                             replay_guard(channel, app_id, timestamp, nonce, body, max_skew))
    except Exception:
        abort(400, "the message is not WeChat XML")
    try:
        texts = current_app.extensions["chat"].answer(inbound)
    except Replayed:
        abort(403)
    if not texts:
        return Response("success", mimetype="text/plain")
    reply = text_reply(inbound.extra["to"], inbound.user, fit_text(join_texts(texts)))
    if crypto is not None:
        reply = crypto.encrypt_message(reply, nonce, timestamp or None)
    return Response(reply, mimetype="application/xml")


def to_inbound(data: dict, channel: str, app_id: str, replay: tuple[str, str, int] | None = None) -> Inbound:
    """A WeChat message's fields -> the neutral Inbound. A field of the wrong type cannot raise
    later; a message without sender or type is not WeChat's. `replay`: the request's guard."""
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
                       created_at=created, extra={"to": to}, replay=replay)
    text = field("Content") if kind == "text" else field("Title") if kind == "link" else ""
    return Inbound(channel, app_id, sender, kind, text=text, media_id=field("MediaId"), msg_id=msg_id,
                   created_at=created, extra={"to": to}, replay=replay)
