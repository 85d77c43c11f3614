"""Clients for the platforms' APIs, used by the workers to push.

WeChat: wechatpy's WeChatClient, pointed at WECHAT_API_BASE (the local stub in development and
tests), with the access token shared by every process through Redis (wechatpy's RedisStorage).
wechatpy 1.8.18 answers an invalid-token error by refreshing and calling again, without end:
auto_retry is off here, and call() refreshes once and retries once. A refresh is done by one
process at a time (a Redis lock); the others wait for the new token.

Alipay: python-alipay-sdk at ALIPAY_GATEWAY; AlipayPush is what the notice delivery needs of it.
"""
from __future__ import annotations

import time
from typing import Protocol

import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.redisstorage import RedisStorage

from bot.infra.texts import say

TOKEN_ERRORS = (40001, 40014, 42001)
REAL_ROOT = "https://api.weixin.qq.com/"
EARLY_REFRESH = 300  # seconds before the platform's expiry that the shared token is dropped
LOCAL_TOKEN = 30     # seconds a process uses the token it read before reading it again


class _EarlyExpiry(RedisStorage):
    """Tokens leave Redis a little before the platform expires them, for every process alike."""

    def set(self, key, value, ttl=None):
        super().set(key, value, max(int(ttl) - EARLY_REFRESH, 60) if ttl else None)


class WeChatApi(WeChatClient):
    def __init__(self, appid: str, secret: str, redis, api_base: str | None = None, timeout: float = 5.0):
        super().__init__(appid, secret, session=_EarlyExpiry(redis, prefix="wechatpy"), timeout=timeout,
                         auto_retry=False)
        self.redis = redis
        self.root = (api_base.rstrip("/") + "/") if api_base else REAL_ROOT
        self.API_BASE_URL = self.root + "cgi-bin/"
        # proxies from the environment (HTTPS_PROXY...) read once, not at every call
        self._http.proxies = requests.utils.get_environ_proxies(self.root)
        self._http.trust_env = False
        self._token: tuple[str, float] | None = None  # (token, read at): saves a Redis read per call

    def _request(self, method, url_or_endpoint, **kwargs):
        if "api_base_url" in kwargs:  # API groups with a base of their own (wxa)
            kwargs["api_base_url"] = kwargs["api_base_url"].replace(REAL_ROOT, self.root)
        if url_or_endpoint.startswith(REAL_ROOT):
            url_or_endpoint = self.root + url_or_endpoint[len(REAL_ROOT):]
        return super()._request(method, url_or_endpoint, **kwargs)

    def fetch_access_token(self):
        return self._fetch_access_token(url=self.root + "cgi-bin/token",
                                        params={"grant_type": "client_credential", "appid": self.appid,
                                                "secret": self.secret})

    @property
    def access_token(self):
        """The shared token, re-read from Redis every LOCAL_TOKEN seconds. Reusing it that long is
        safe: WeChat keeps an old token valid for 5 minutes after a new one is issued."""
        now = time.monotonic()
        if self._token is not None and now - self._token[1] < LOCAL_TOKEN:
            return self._token[0]
        token = self.session.get(self.access_token_key) or self.refresh(None)
        self._token = (token, now)
        return token

    def refresh(self, stale: str | None) -> str:
        """A new token unless another process already replaced `stale`; one fetch at a time."""
        lock = f"wechatpy:{self.appid}:refreshing"
        deadline = time.monotonic() + 10
        while True:
            self._token = None
            current = self.session.get(self.access_token_key)
            if current and current != stale:
                return current
            if self.redis.set(lock, "1", nx=True, px=10_000):
                try:
                    current = self.session.get(self.access_token_key)
                    if current and current != stale:
                        return current
                    self.fetch_access_token()
                    return self.session.get(self.access_token_key)
                finally:
                    self.redis.delete(lock)
            if time.monotonic() > deadline:
                raise WeChatClientException(None, "the access token refresh did not finish", client=self)
            time.sleep(0.05)

    def call(self, fn, *args, **kwargs):
        """An API call; a token error refreshes the shared token once and calls once more."""
        token = self.access_token
        try:
            return fn(*args, **kwargs)
        except WeChatClientException as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
        self.refresh(token)
        return fn(*args, **kwargs)


class AlipayPush(Protocol):
    """What delivery needs of the Alipay channel."""

    def send_text(self, user_id: str, text: str) -> None: ...

    def send_code_image(self, user_id: str, image_url: str, page_url: str, title: str) -> None: ...


def pem(text: str, kind: str) -> str:
    """A key as PEM: as given, or wrapped when it is the bare base64 body the Alipay console shows."""
    text = text.strip()
    if text.startswith("-----"):
        return text
    body = "\n".join(text[i:i + 64] for i in range(0, len(text), 64))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n"


class AlipayError(Exception):
    """A business failure from the Alipay gateway (code is not 10000)."""

    def __init__(self, code: str, sub_code: str = "", sub_msg: str = ""):
        super().__init__(f"{code} {sub_code} {sub_msg}".strip())
        self.code, self.sub_code, self.sub_msg = code, sub_code, sub_msg


class AlipayApi:
    """python-alipay-sdk's client (RSA2 signing, response verification) at ALIPAY_GATEWAY.
    The SDK returns business failures as a dict, not an exception: check code == "10000"."""

    SEND = "alipay.open.public.message.custom.send"

    def __init__(self, appid: str, app_private_key: str, alipay_public_key: str, gateway: str | None = None,
                 timeout: float = 5.0):
        from alipay import AliPay
        from alipay.utils import AliPayConfig

        self.sdk = AliPay(appid=appid, app_private_key_string=pem(app_private_key, "PRIVATE KEY"),
                          alipay_public_key_string=pem(alipay_public_key, "PUBLIC KEY"), sign_type="RSA2",
                          config=AliPayConfig(timeout=timeout))
        if gateway:
            self.sdk._gateway = gateway if gateway.endswith(".do") else gateway.rstrip("/") + "/gateway.do"

    def _send(self, biz: dict) -> dict:
        result = self.sdk.server_api(self.SEND, biz)
        if str(result.get("code")) != "10000":
            raise AlipayError(str(result.get("code")), result.get("sub_code", ""), result.get("sub_msg", ""))
        return result

    def send_text(self, user_id: str, text: str) -> None:
        self._send({"to_user_id": user_id, "msg_type": "text", "text": {"content": text}})

    def send_code_image(self, user_id: str, image_url: str, page_url: str, title: str) -> None:
        self._send({"to_user_id": user_id, "msg_type": "image-text", "articles": [
            {"title": title, "desc": title, "image_url": image_url, "url": page_url,
             "action_name": say("words.view_action")}]})


class ChannelUnavailable(Exception):
    """The channel has no credentials or client in this deployment."""


def wechat_api(services, channel: str = "wechat") -> WeChatApi:
    """The client for the official account (`wechat`) or the mini-program (`wechat_mp`), one per process."""
    cache = services.__dict__.setdefault("_platform_clients", {})
    client = cache.get(channel)
    if client is None:
        cfg = services.settings.wechat if channel == "wechat" else services.settings.wechat_mp
        if not cfg.get("appid") or not cfg.get("secret"):
            raise ChannelUnavailable(f"{channel}: no AppID/AppSecret configured")
        client = cache[channel] = WeChatApi(cfg["appid"], cfg["secret"], services.redis.client(),
                                            services.settings.wechat_api_base, services.settings.push_timeout)
    return client


def alipay_push(services) -> AlipayPush:
    cache = services.__dict__.setdefault("_platform_clients", {})
    client = cache.get("alipay")
    if client is None:
        cfg = services.settings.alipay
        if not (cfg.get("appid") and cfg.get("app_private_key") and cfg.get("alipay_public_key")):
            raise ChannelUnavailable("alipay: no AppID or keys configured")
        client = cache["alipay"] = AlipayApi(cfg["appid"], cfg["app_private_key"], cfg["alipay_public_key"],
                                             services.settings.alipay_gateway, services.settings.push_timeout)
    return client
