"""Channel adapters: thin Flask views that check the platform's signature, parse, and turn the
platform's message into a neutral Inbound, then the neutral answer back into its format."""
from __future__ import annotations

import hashlib
import re
import time

from defusedxml.ElementTree import fromstring  # no DTD, no entities, even if one slipped past
from flask import abort, request

MAX_BODY = 64 * 1024
_ENTITY = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
PASSIVE_TEXT_BYTES = 2048  # WeChat cuts a passive text reply here


def read_body(limit: int = MAX_BODY) -> bytes:
    """The request body, at most `limit` bytes (413 beyond), read once."""
    environ = request.environ
    length = environ.get("CONTENT_LENGTH")
    if length and length.isdigit():
        if int(length) > limit:
            abort(413)
        return environ["wsgi.input"].read(int(length))  # the server bounds it by Content-Length
    body = request.stream.read(limit + 1)  # chunked: read no more than the limit and one byte
    if len(body) > limit:
        abort(413)
    return body


def refuse_entities(xml: bytes | str) -> None:
    """No platform sends a DTD: a document with one is refused before any parser sees it
    (no entity expansion, no external entities)."""
    raw = xml.encode() if isinstance(xml, str) else xml
    if _ENTITY.search(raw):
        abort(400, "XML with a document type or entity declarations is not accepted")


def fresh(timestamp: str | int, max_skew: int) -> bool:
    """A platform's signed timestamp (seconds) within max_skew of our clock: an old signed
    request, replayed, is refused."""
    if isinstance(timestamp, str):
        if not timestamp.isdigit():
            return False
        timestamp = int(timestamp)
    return abs(time.time() - timestamp) <= max_skew


def replay_guard(channel: str, app_id: str, timestamp: str, nonce: str, body: bytes,
                 max_skew: int) -> tuple[str, str, int]:
    """What the conversation store remembers of a signed request while its timestamp is fresh:
    the same timestamp and nonce may come again only with the same body (a retry)."""
    return f"{channel}:{app_id}:{timestamp}:{nonce}", hashlib.sha256(body).hexdigest()[:32], 2 * max_skew


def json_depth_ok(body: bytes | str, limit: int = 16) -> bool:
    """No platform nests JSON deeper than a few levels; a deeper body is refused before a parser
    (whose recursion a 5,000-deep body exhausts) sees it."""
    raw = body.encode() if isinstance(body, str) else body
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


def fit_text(text: str, limit: int = PASSIVE_TEXT_BYTES) -> str:
    """Cut a reply to the platform's byte limit on a character boundary, marking the cut."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    cut = raw[: limit - len("…".encode())].decode("utf-8", "ignore")
    return cut + "…"


def join_texts(texts: list[str]) -> str:
    return "\n\n".join(t for t in texts if t)


def parse_fields(xml: bytes | str) -> dict:
    """A platform's flat <xml> message -> {tag: text}. Call refuse_entities first. ElementTree's C
    parser is several times cheaper than wechatpy's xmltodict path; nested elements (an event's
    ScanCodeInfo, say) come through as their tag with empty text, and no field we read is nested."""
    root = fromstring(xml, forbid_dtd=True)
    if root.tag != "xml":
        raise ValueError("the root element is not <xml>")
    return {child.tag: (child.text or "") for child in root}


def cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(source: str, target: str, content: str) -> str:
    """A passive text reply, as wechatpy's TextReply renders it."""
    return (f"<xml><ToUserName>{cdata(target)}</ToUserName><FromUserName>{cdata(source)}</FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content>{cdata(content)}</Content></xml>")
