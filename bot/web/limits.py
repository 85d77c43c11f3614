"""Rate limits on Redis: per staff token on the API, per address on the console sign-in.
(Chat users are limited inside the conversation store's begin script: no extra round trip.)

When Redis is away the limiter lets requests through and logs it: the API stays usable, the
webhooks have their own answer for a Redis outage."""
from __future__ import annotations

import hashlib

from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address


def _token_key() -> str:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer " and header[7:].strip():
        return "token:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()[:32]
    return "addr:" + get_remote_address()


def storage_uri(url: str) -> str:
    return "redis+unix://" + url[len("unix://"):] if url.startswith("unix://") else url


def install(app, services) -> Limiter:
    settings = services.settings
    limiter = Limiter(key_func=get_remote_address, app=app, storage_uri=storage_uri(services.redis.url),
                      strategy="fixed-window", swallow_errors=True, headers_enabled=True,
                      storage_options={"socket_timeout": 2, "socket_connect_timeout": 2},
                      key_prefix="healthcode-limits")
    from bot.web import api
    from bot.web.channels import alipay, wechat

    limiter.limit(settings.staff_rate_limit, key_func=_token_key)(api.bp)
    # the webhooks' senders are limited per chat user in the conversation store; a request filter
    # is the limiter's first check (exempting the blueprints costs more than having no limits)
    webhooks = {wechat.bp.name, alipay.bp.name}
    limiter.request_filter(lambda: request.blueprint in webhooks)
    login = app.view_functions["console.login"]  # registered already: wrap the registered view
    app.view_functions["console.login"] = limiter.limit(settings.login_rate_limit, methods=["POST"])(login)
    app.extensions["limiter"] = limiter
    return limiter
