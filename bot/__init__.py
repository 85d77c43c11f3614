"""The health code chat-bot backend: the Flask app factory."""
from __future__ import annotations

import logging
import time
import uuid

from flask import Flask, g, request
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

    from bot.logs import configure_logging

    configure_logging(settings.log_level)

    from bot.settings import ROOT

    app = Flask(__name__, template_folder=str(ROOT / "templates"))
    app.config.update(SECRET_KEY=settings.secret_key, JSON_AS_ASCII=False)
    app.json.ensure_ascii = False
    app.extensions["services"] = services
    app.session_interface = LazySessions()
    app.extensions["db"] = services.db

    _install_request_hooks(app)

    from bot.db import close_request_session

    app.teardown_appcontext(close_request_session)

    from bot import health

    app.register_blueprint(health.bp)

    from bot.channels import wechat
    from bot.chat import ChatService

    app.extensions["chat"] = ChatService(services)
    app.register_blueprint(wechat.bp)
    if not settings.production:
        from bot import devchat

        app.register_blueprint(devchat.bp)

    from bot import cli

    cli.register(app)
    return app


class LazySessions(SecureCookieSessionInterface):
    """Webhooks never carry a session cookie: skip building the signer for them."""

    def open_session(self, app, request):
        if self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def _install_request_hooks(app: Flask) -> None:
    from bot.logs import request_id
    from bot.metrics import LATENCY, REQUESTS

    @app.before_request
    def _start():
        rid = request.headers.get("X-Request-ID", "")
        if not rid or len(rid) > 64 or not rid.replace("-", "").isalnum():
            rid = uuid.uuid4().hex
        g.request_id = rid
        g.token = request_id.set(rid)
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response):
        endpoint = request.endpoint or "unmatched"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        REQUESTS.labels(endpoint, response.status_code).inc()
        LATENCY.labels(endpoint).observe(elapsed)
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if response.status_code >= 500 or app.logger.isEnabledFor(logging.DEBUG):
            log.info("%s %s %s", request.method, request.path, response.status_code,
                     extra={"path": request.path, "status": response.status_code, "ms": round(elapsed * 1000, 2),
                            "method": request.method})
        return response

    @app.teardown_request
    def _reset(_exc=None):
        token = g.pop("token", None)
        if token is not None:
            request_id.reset(token)
