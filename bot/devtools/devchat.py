"""Talking to the bot as WeChat does, for development: /dev/chat (a phone-sized page) and
`flask --app wsgi simulate` (a terminal). Both build the XML WeChat would send, sign it (and
encrypt it in safe mode) with the configured token and key, post it to /wechat, and read the
reply back the way WeChat would (checking the reply's signature in safe mode).

Development and test only: the blueprint is not registered in production.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass

import xmltodict
from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, url_for
from wechatpy.crypto import PrpCrypto, WeChatCrypto, _get_signature

from bot.web.channels import cdata

bp = Blueprint("devchat", __name__)

EVENTS = ("subscribe", "unsubscribe", "SCAN", "CLICK", "VIEW", "LOCATION")


@dataclass
class Exchange:
    status: int
    texts: str            # the reply's text ("" for success or an empty body)
    request_xml: str
    reply_body: str


class WeChatSimulator:
    """post(path_with_query, body: bytes) -> (status, body: bytes)."""

    def __init__(self, post, cfg: dict, safe: bool = False, path: str = "/wechat"):
        self.post = post
        self.cfg = cfg
        self.safe = safe
        self.path = path
        self.account = "gh_" + hashlib.sha1(cfg["appid"].encode()).hexdigest()[:12]

    def xml(self, user: str, msg_type: str, fields: dict, msg_id: bool = True, created: int | None = None) -> str:
        parts = [f"<ToUserName>{cdata(self.account)}</ToUserName>",
                 f"<FromUserName>{cdata(user)}</FromUserName>",
                 f"<CreateTime>{created or int(time.time())}</CreateTime>",
                 f"<MsgType>{cdata(msg_type)}</MsgType>"]
        for name, value in fields.items():
            # WeChat never delivers characters XML cannot hold (NUL, most control characters)
            parts.append(f"<{name}>{value}</{name}>" if isinstance(value, (int, float)) else
                         f"<{name}>{cdata(XML_INVALID.sub('', str(value)))}</{name}>")
        if msg_id:
            parts.append(f"<MsgId>{secrets.randbits(62)}</MsgId>")
        return "<xml>" + "".join(parts) + "</xml>"

    def text(self, user: str, content: str) -> Exchange:
        return self.send(self.xml(user, "text", {"Content": content}))

    def image(self, user: str) -> Exchange:
        return self.send(self.xml(user, "image", {"PicUrl": "http://127.0.0.1/dev.jpg",
                                                   "MediaId": "dev-media-" + secrets.token_hex(4)}))

    def voice(self, user: str) -> Exchange:
        return self.send(self.xml(user, "voice", {"MediaId": "dev-voice", "Format": "amr"}))

    def event(self, user: str, event: str, key: str = "") -> Exchange:
        fields = {"Event": event}
        if key or event in ("CLICK", "VIEW", "SCAN"):
            fields["EventKey"] = key
        if event == "LOCATION":
            fields.update(Latitude="30.274", Longitude="120.155", Precision="65.0")
        return self.send(self.xml(user, "event", fields, msg_id=False))

    def send(self, xml: str) -> Exchange:
        token = self.cfg["token"]
        timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
        signature = _sign(token, timestamp, nonce)
        query = f"signature={signature}&timestamp={timestamp}&nonce={nonce}&openid=dev"
        body = xml
        if self.safe:
            encrypt = PrpCrypto(WeChatCrypto(token, self.cfg["encoding_aes_key"], self.cfg["appid"]).key).encrypt(
                xml, self.cfg["appid"]).decode()
            msg_signature = _get_signature(token, timestamp, nonce, encrypt)
            query += f"&encrypt_type=aes&msg_signature={msg_signature}"
            body = f"<xml><ToUserName><![CDATA[{self.account}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        status, raw = self.post(f"{self.path}?{query}", body.encode("utf-8"))
        reply = raw.decode("utf-8", "replace")
        return Exchange(status, self.read_reply(reply) if status == 200 else "", xml, reply)

    def read_reply(self, reply: str) -> str:
        if not reply or reply == "success":
            return ""
        if self.safe:
            doc = xmltodict.parse(reply)["xml"]
            crypto = WeChatCrypto(self.cfg["token"], self.cfg["encoding_aes_key"], self.cfg["appid"])
            reply = crypto.decrypt_message(doc, doc["MsgSignature"], doc["TimeStamp"], doc["Nonce"])
        return xmltodict.parse(reply)["xml"].get("Content") or ""


XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _sign(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def flask_poster(client):
    def post(url: str, body: bytes):
        response = client.post(url, data=body, content_type="text/xml")
        return response.status_code, response.get_data()
    return post


# -- the page ---------------------------------------------------------------------------------

@bp.get("/dev/chat")
def page():
    return render_template("dev/chat.html", events=EVENTS)


@bp.post("/dev/chat/send")
def send():
    data = request.get_json(silent=True) or {}
    user = str(data.get("user") or "dev-user")[:64]
    sim = WeChatSimulator(flask_poster(current_app.test_client()), current_app.extensions["services"].settings.wechat,
                          safe=data.get("mode") == "safe")
    kind = data.get("kind", "text")
    if kind == "image":
        ex = sim.image(user)
    elif kind == "voice":
        ex = sim.voice(user)
    elif kind == "event":
        ex = sim.event(user, str(data.get("event", "subscribe")), str(data.get("key", "")))
    else:
        ex = sim.text(user, str(data.get("text", ""))[:2000])
    return jsonify(status=ex.status, text=ex.texts, request_xml=ex.request_xml, reply=ex.reply_body)


@bp.get("/dev/chat/inbox")
def inbox():
    """What reached the user outside the passive replies: development SMS, and the pushes the
    platform stub received for this user (texts, template messages, images)."""
    from bot.infra.sms import DEV_INBOX

    services = current_app.extensions["services"]
    r = services.redis.client()
    sms = [json.loads(x) for x in r.lrange(DEV_INBOX, 0, 9)]
    pushes = []
    base = services.settings.wechat_api_base
    user = request.args.get("user", "")
    if base and user:
        try:
            query = urllib.parse.urlencode({"touser": user, "after": request.args.get("after", "0")})
            with urllib.request.urlopen(f"{base}/_stub/messages?{query}", timeout=2) as resp:
                pushes = [_push_view(m, base) for m in json.loads(resp.read())["messages"]]
        except (OSError, ValueError, KeyError):
            pass  # not the stub, or not running: SMS only
    return jsonify(sms=[{"text": m["text"], "at": m["at"]} for m in sms], pushes=pushes)


@bp.get("/dev/sms")
def sms_log():
    """The development SMS log: what the `log` sender would have texted (codes, 12345 decisions)."""
    from bot.infra.masking import mask_phone
    from bot.infra.sms import DEV_INBOX

    r = current_app.extensions["services"].redis.client()
    messages = [json.loads(x) for x in r.lrange(DEV_INBOX, 0, 49)]
    return render_template("dev/sms.html", messages=[{"phone": mask_phone(m["phone"]), "text": m["text"],
                                                      "at": m["at"]} for m in messages])


# the colour a push says the code now is, in either language (国际版)
COLOUR_WORDS = re.compile(r"(?:转为|变为|现为|为【?[🟢🟡🔴]?)(绿|黄|红)码"
                          r"|(?:to |now an? |\[[🟢🟡🔴]?)(Green|Yellow|Red) code|code is (green) now")
COLOURS = {"绿": "green", "黄": "yellow", "红": "red"}


def _push_view(m: dict, base: str) -> dict:
    """A push as the page shows it, with the code's colour where it says one (the bubble is tinted)."""
    view = {"seq": m["seq"], "api": m.get("api")}
    if m.get("msgtype") == "image":
        view["image"] = url_for("devchat.media", media_id=m["image"]["media_id"])
        view["colour"] = _image_colour(base, m["image"]["media_id"])
    else:
        if m.get("msgtype") == "text":
            view["text"] = m["text"]["content"]
        else:  # template / subscribe message: its fields, one per line
            view["text"] = "\n".join(str(v.get("value", "")) for v in (m.get("data") or {}).values())
        found = COLOUR_WORDS.findall(view["text"])
        word = next(w for w in found[-1] if w) if found else None
        view["colour"] = COLOURS.get(word, word.lower()) if word else None
    return view


def _image_colour(base: str, media_id: str) -> str | None:
    """A code image's colour: the first colour of its palette (bot.infra.images.code_image)."""
    import io

    from PIL import Image

    from bot.infra.images.code_image import RGB

    try:
        with urllib.request.urlopen(f"{base}/_stub/media/{media_id}", timeout=2) as resp:
            palette = Image.open(io.BytesIO(resp.read())).getpalette() or []
    except (OSError, ValueError):
        return None
    ink = tuple(palette[3:6])
    return next((name for name, rgb in RGB.items() if rgb == ink), None)


@bp.get("/dev/chat/media/<media_id>")
def media(media_id: str):
    base = current_app.extensions["services"].settings.wechat_api_base
    if not base or not media_id.replace("-", "").replace("_", "").isalnum():
        abort(404)
    try:
        with urllib.request.urlopen(f"{base}/_stub/media/{media_id}", timeout=2) as resp:
            return Response(resp.read(), mimetype=resp.headers.get("Content-Type", "image/png"))
    except OSError:
        abort(404)
