"""A local stand-in for the WeChat API (api.weixin.qq.com paths and answers), for tests, benchmarks
and `make dev` without real credentials. The SDKs reach it through WECHAT_API_BASE.

What it does like the platform:
- GET /cgi-bin/token issues access tokens (7200 s); a call with a token it did not issue, or one
  it has since expired (POST /_stub/expire-tokens), gets 40001 / 42001.
- POST /cgi-bin/message/custom/send, /cgi-bin/message/template/send, /cgi-bin/message/subscribe/send
  record the message and answer {"errcode": 0}; media/upload keeps the file and returns a
  media_id; media/get returns it.
- Error answers on demand (POST /_stub/faults): {"path", "errcode", "touser"?, "times"?, "delay"?},
  e.g. 45015 (out of the 48-hour window), 43101 (user refused), 45009 (quota).

A message counts as delivered when the stub answers. A caller that hangs up first (a killed
worker) is treated as never having sent it. The real platform may have delivered such a
message, which is why that window is kept to the HTTP call itself (workers/notices.py).

Alipay: GET or POST /gateway.do, the OpenAPI gateway as python-alipay-sdk calls it. The request's
RSA2 signature is checked when the app's public key is known (POST /_stub/alipay
{"app_public_key": PEM}). The answer is `{"<method>_response": {...}, "sign": …}`, signed with the
stub's own "Alipay" key (GET /_stub/alipay-public-key). alipay.open.public.message.custom.send is
recorded like a WeChat send (touser = to_user_id). Faults: {"path": <method>, "code", "sub_code",
"sub_msg"}.

Inspection: GET /_stub/messages?touser=…&after=…, GET /_stub/media/<id>, POST /_stub/reset.
"""
from __future__ import annotations

import argparse
import itertools
import json
import secrets
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.devtools.stub_alipay import AlipayGateway

ERRMSG = {40001: "invalid credential, access_token is invalid or not latest", 42001: "access_token expired",
          45015: "response out of time limit or subscription is canceled", 43101: "user refuse to accept the msg",
          45009: "reach max api daily quota limit", 40003: "invalid openid", 43004: "require subscribe",
          40007: "invalid media_id"}
SEND_PATHS = ("/cgi-bin/message/custom/send", "/cgi-bin/message/template/send", "/cgi-bin/message/subscribe/send")


class StubState:
    def __init__(self, keep: int = 200_000, alipay_key_pem: bytes | None = None):
        self.lock = threading.Lock()
        self.keep = keep
        self.alipay_key = (serialization.load_pem_private_key(alipay_key_pem, None) if alipay_key_pem
                           else rsa.generate_private_key(public_exponent=65537, key_size=2048))
        self.app_public_key = None  # the app's key, when told: requests are then verified
        self._clear()

    @property
    def alipay_public_key_pem(self) -> str:
        return self.alipay_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def _clear(self):
        self.tokens: dict[str, tuple[str, float]] = {}   # token -> (appid, expires_at)
        self.expired: set[str] = set()
        self.messages: list[dict] = []
        self.media: dict[str, tuple[str, bytes]] = {}
        self.faults: list[dict] = []
        self.seq = itertools.count(1)
        self.token_calls = 0
        self.in_flight = 0

    def reset(self):
        with self.lock:
            self._clear()

    def issue_token(self, appid: str) -> str:
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = (appid, time.time() + 7200)
            self.token_calls += 1
        return token

    def check_token(self, token: str | None) -> int:
        if not token:
            return 41001
        with self.lock:
            if token in self.expired:
                return 42001
            entry = self.tokens.get(token)
        if entry is None:
            return 40001
        return 0 if entry[1] > time.time() else 42001

    def fault_for(self, path: str, touser: str | None) -> dict | None:
        with self.lock:
            for fault in self.faults:
                if fault["path"] == path and fault.get("touser") in (None, touser):
                    if fault.get("times") is not None:
                        fault["times"] -= 1
                        if fault["times"] <= 0:
                            self.faults.remove(fault)
                    return dict(fault)
        return None

    def record(self, api: str, body: dict) -> dict:
        with self.lock:
            entry = {"seq": next(self.seq), "at": time.time(), "api": api, **body}
            self.messages.append(entry)
            if len(self.messages) > self.keep:
                del self.messages[: len(self.messages) - self.keep]
        return entry


class Handler(AlipayGateway, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive: the SDK's requests.Session reuses connections
    server_version = "healthcode-platform-stub"
    state: StubState

    def setup(self):
        super().setup()
        # headers and body go out in separate writes: without this, Nagle and the client's
        # delayed ACK hold every answer for 40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # quiet: benchmarks send 100,000 of these
        pass

    def _json(self, data, status: int = 200):
        raw = json.dumps(data, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _error(self, code: int):
        self._json({"errcode": code, "errmsg": ERRMSG.get(code, "error")})

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _caller_gone(self) -> bool:
        """Did the caller hang up while we held its request? (then it never gets an answer)"""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def do_GET(self):
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/cgi-bin/token":
            if q.get("grant_type") != "client_credential" or not q.get("appid") or not q.get("secret"):
                return self._json({"errcode": 40002, "errmsg": "invalid grant_type"})
            return self._json({"access_token": self.state.issue_token(q["appid"]), "expires_in": 7200})
        if url.path == "/cgi-bin/media/get":
            code = self.state.check_token(q.get("access_token"))
            if code:
                return self._error(code)
            return self._media(q.get("media_id", ""))
        if url.path.startswith("/_stub/media/"):
            return self._media(url.path.rsplit("/", 1)[1])
        if url.path == "/gateway.do":
            return self._alipay(url.query)
        if url.path == "/_stub/alipay-public-key":
            raw = self.state.alipay_public_key_pem.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-pem-file")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
            return None
        if url.path == "/_stub/messages":
            after = int(q.get("after", 0))
            with self.state.lock:
                found = [m for m in self.state.messages if m["seq"] > after
                         and (not q.get("touser") or m.get("touser") == q["touser"])]
            return self._json({"messages": found[-500:], "token_calls": self.state.token_calls})
        self._json({"errcode": 404, "errmsg": "no such API in the stub"}, 404)

    def _media(self, media_id: str):
        with self.state.lock:
            item = self.state.media.get(media_id)
        if item is None:
            return self._error(40007)
        self.send_response(200)
        self.send_header("Content-Type", item[0])
        self.send_header("Content-Length", str(len(item[1])))
        self.end_headers()
        self.wfile.write(item[1])

    def do_POST(self):
        url = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        raw = self._body()
        if url.path.startswith("/_stub/"):
            return self._control(url.path, raw)
        if url.path == "/gateway.do":
            return self._alipay(url.query + ("&" if url.query and raw else "") + raw.decode("utf-8", "replace"))
        code = self.state.check_token(q.get("access_token"))
        if code:
            return self._error(code)
        if url.path == "/cgi-bin/media/upload":
            return self._upload(q.get("type", ""), raw)
        if url.path not in SEND_PATHS:
            return self._json({"errcode": 404, "errmsg": "no such API in the stub"}, 404)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return self._json({"errcode": 47001, "errmsg": "data format error"})
        touser = body.get("touser")
        if not touser:
            return self._error(40003)
        fault = self.state.fault_for(url.path, touser)
        with self.state.lock:
            self.state.in_flight += 1
        try:
            if fault and fault.get("delay"):
                time.sleep(float(fault["delay"]))
            if fault and fault.get("errcode"):
                return self._error(int(fault["errcode"]))
            if self._caller_gone():
                self.close_connection = True
                return None
            entry = self.state.record(url.path.split("/")[-2], body)  # custom / template / subscribe
            answer = {"errcode": 0, "errmsg": "ok"}
            if "template" in url.path:
                answer["msgid"] = entry["seq"]
            return self._json(answer)
        finally:
            with self.state.lock:
                self.state.in_flight -= 1

    def _upload(self, kind: str, raw: bytes):
        ctype = self.headers.get("Content-Type", "")
        if kind not in ("image", "voice", "video", "thumb") or "boundary=" not in ctype:
            return self._json({"errcode": 40004, "errmsg": "invalid media type"})
        boundary = ctype.split("boundary=", 1)[1].strip('"').encode()
        part = next((p for p in raw.split(b"--" + boundary) if b'name="media"' in p), None)
        if part is None or b"\r\n\r\n" not in part:
            return self._json({"errcode": 41005, "errmsg": "media data missing"})
        head, data = part.split(b"\r\n\r\n", 1)
        content_type = "image/png" if b"image/png" in head else "application/octet-stream"
        media_id = secrets.token_urlsafe(16)
        with self.state.lock:
            self.state.media[media_id] = (content_type, data.rstrip(b"\r\n"))
        self._json({"type": kind, "media_id": media_id, "created_at": int(time.time())})

    def _control(self, path: str, raw: bytes):
        data = json.loads(raw or b"{}")
        if path == "/_stub/faults":
            with self.state.lock:
                self.state.faults.append(data)
            return self._json({"ok": True})
        if path == "/_stub/expire-tokens":
            with self.state.lock:
                self.state.expired.update(self.state.tokens)
            return self._json({"ok": True})
        if path == "/_stub/alipay":
            with self.state.lock:
                pem = data.get("app_public_key")
                self.state.app_public_key = serialization.load_pem_public_key(pem.encode()) if pem else None
            return self._json({"ok": True})
        if path == "/_stub/reset":
            self.state.reset()
            return self._json({"ok": True})
        if path == "/_stub/media":  # a picture a user "sent" (appeal evidence), by id
            media_id = data.get("media_id") or secrets.token_urlsafe(16)
            with self.state.lock:
                self.state.media[media_id] = (data.get("content_type", "image/jpeg"), bytes.fromhex(data["hex"]))
            return self._json({"media_id": media_id})
        return self._json({"error": "unknown control"}, 404)


class PlatformStub:
    """The stub on a port of its own, served by threads of this process."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, alipay_key_pem: bytes | None = None):
        self.state = StubState(alipay_key_pem=alipay_key_pem)
        handler = type("BoundHandler", (Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.thread = None

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "PlatformStub":
        self.thread = threading.Thread(target=self.server.serve_forever, name="platform-stub", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.devtools.platform_stub", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--alipay-key", help="PEM file of the stub's Alipay signing key (default: a new key)")
    args = parser.parse_args(argv)
    key = open(args.alipay_key, "rb").read() if args.alipay_key else None
    stub = PlatformStub(args.host, args.port, alipay_key_pem=key)
    print(f"platform stub on {stub.base_url}", flush=True)
    try:
        stub.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stub.server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
