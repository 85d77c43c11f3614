"""Rate limits on Redis: per staff token on the API (a token that is not a staff member's counts
against its address: made-up tokens are not a way round the limit), per address on the console
sign-in. (Chat users are limited inside the conversation store's begin script: no extra round trip.)

When Redis is away the limiter lets API requests through and logs it (the API stays usable; its
tokens are checked anyway), but the console sign-in answers 503: unlimited guessing is what the
limit is there to stop. The webhooks have their own answer for a Redis outage."""
from __future__ import annotations

import hashlib

from flask import g, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address


def _token_key() -> str:
    """A staff member's own bucket; anything else (no token, a made-up one) the address's. The
    staff found is kept for the route (bot.web.api.base), so the token is looked up once."""
    from bot.domain.staff import authenticate
    from bot.web import db

    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    staff = g.authenticated = authenticate(db.session(), token) if token else None
    if staff is not None:
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    return "addr:" + get_remote_address()


BY_ID_NUMBER = ("api.lookups", "api.counter_people", "api.hotline_appeals", "console.lookups", "console.counter",
                "console.hotline")


def _staff_key() -> str:
    """The staff member, through the API (their token) or the console (their session)."""
    if request.blueprint == "console":
        from bot.web.console.base import signed_in

        staff = signed_in()
    else:
        key = _token_key()
        staff = g.get("authenticated")
        if staff is None:
            return key
    return f"staff:{staff.id}" if staff is not None else "addr:" + get_remote_address()


def _fail_closed(limiter: Limiter, view):
    """The sign-in refuses (503) while the limiter cannot count: no guessing unlimited."""
    from functools import wraps

    from flask import render_template

    from bot.infra.texts import say

    @wraps(view)
    def guarded(*args, **kwargs):
        if request.method == "POST":
            try:
                alive = limiter.storage is not None and limiter.storage.check()
            except Exception:
                alive = False
            if not alive:
                return render_template("console/message.html", message=say("console.busy")), 503
        return view(*args, **kwargs)
    return guarded


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
    # Whatever finds a person by ID number (代查, serving at a counter, checking a 12345 caller)
    # draws on one bucket per staff member, API and console alike, on top of the API's limit: a
    # staff token or session must not become a way to sweep the population
    by_number = limiter.shared_limit(settings.lookup_rate_limit, scope="by_id_number", key_func=_staff_key,
                                     methods=["POST"])
    for view in BY_ID_NUMBER:
        app.view_functions[view] = by_number(app.view_functions[view])
    login = app.view_functions["console.login"]  # registered already: wrap the registered view
    app.view_functions["console.login"] = _fail_closed(limiter, limiter.limit(settings.login_rate_limit,
                                                                              methods=["POST"])(login))
    app.extensions["limiter"] = limiter
    return limiter
