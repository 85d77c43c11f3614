"""The health code chat-bot backend: the Flask app factory."""
from __future__ import annotations

import logging
import time
import secrets

from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from bot.settings import load_settings

log = logging.getLogger("bot.http")


def create_app(env: dict | None = None, services=None) -> Flask:
    """Build the app. Settings are read here (never at import); `env` replaces os.environ
    (tests), `services` reuses an existing Services (tests, benchmarks)."""
    from bot.services import Services

    if services is None:
        services = Services(load_settings(env))
    settings = services.settings
    services.policy  # a broken region policy stops start-up here, naming file, rule and field

    from bot.infra.logs import configure_logging

    configure_logging(settings.log_level)

    from bot.infra.config import ROOT

    app = App(__name__, template_folder=str(ROOT / "templates"))
    app.config.update(SECRET_KEY=settings.secret_key, JSON_AS_ASCII=False)
    from bot.infra.texts import format_date, format_datetime, gettext

    app.jinja_env.filters.update(date=format_date, datetime=format_datetime)  # chat templates used by pages
    app.jinja_env.globals["_"] = gettext  # the code pages in the visitor's language; the console: Chinese
    app.json.ensure_ascii = False
    app.extensions["services"] = services
    app.session_interface = LazySessions()
    app.extensions["db"] = services.db

    app.wsgi_app = RequestHooks(app.wsgi_app)

    from bot.web.db import close_request_session

    app.teardown_appcontext(close_request_session)

    from bot.web import health

    app.register_blueprint(health.bp)

    from bot.web.channels import wechat
    from bot.chat.service import ChatService

    app.extensions["chat"] = ChatService(services)
    app.register_blueprint(wechat.bp)

    from bot.web.channels import alipay

    app.register_blueprint(alipay.bp)

    from bot.web import code_pages

    app.register_blueprint(code_pages.bp)

    from bot.web import api

    app.register_blueprint(api.bp)

    from bot.web import console

    app.register_blueprint(console.bp)
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"))
    if settings.env == "development":  # an unauthenticated signing oracle: never elsewhere
        from bot.devtools import devchat

        app.register_blueprint(devchat.bp)

    from bot.web import limits

    limits.install(app, services)

    from bot import cli

    cli.register(app)
    return app


class LazySessions(SecureCookieSessionInterface):
    """Webhooks never carry a session cookie: skip building the signer for them."""

    def open_session(self, app, request):
        if "HTTP_COOKIE" not in request.environ or self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


class App(Flask):
    def request_context(self, environ):
        ctx = super().request_context(environ)
        environ["bot.request"] = ctx.request  # for RequestHooks' endpoint label; popped there
        return ctx


class RequestHooks:
    """WSGI middleware around Flask: the request id (log lines, audit rows, the X-Request-ID
    header), latency metrics, and a log line for server errors. One plain wrapper rather than
    three Flask hooks: the webhook's whole budget is a few hundred microseconds."""

    def __init__(self, wsgi_app):
        from bot.infra.metrics import LATENCY, REQUESTS

        self.wsgi_app = wsgi_app
        self._requests, self._latency = REQUESTS, LATENCY
        self._children: dict = {}  # labelled metrics, looked up once per endpoint and status

    def __call__(self, environ, start_response):
        from bot.infra.logs import request_id

        rid = environ.get("HTTP_X_REQUEST_ID", "")
        if not rid or len(rid) > 64 or not rid.replace("-", "").isalnum():
            rid = secrets.token_hex(16)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = []

        def start(line, headers, exc_info=None):
            status.append(int(line[:3]))
            headers.append(("X-Request-ID", rid))
            return start_response(line, headers, exc_info)

        try:
            return self.wsgi_app(environ, start)
        finally:
            elapsed = time.perf_counter() - started
            self._count(environ, status[-1] if status else 500, elapsed)
            request_id.reset(token)

    def _count(self, environ, status: int, elapsed: float) -> None:
        req = environ.pop("bot.request", None)
        rule = getattr(req, "url_rule", None)
        endpoint = rule.endpoint if rule is not None else "unmatched"
        children = self._children.get((endpoint, status))
        if children is None:
            children = self._children[(endpoint, status)] = (self._requests.labels(endpoint, status),
                                                              self._latency.labels(endpoint))
        children[0].inc()
        children[1].observe(elapsed)
        if status >= 500 or log.isEnabledFor(logging.DEBUG):
            path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
            log.info("%s %s %s", method, path, status,
                     extra={"path": path, "status": status, "ms": round(elapsed * 1000, 2), "method": method})
