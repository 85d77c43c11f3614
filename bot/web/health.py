"""GET /healthz (the load balancer) and GET /metrics (Prometheus)."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    services = current_app.extensions["services"]
    checks, failing = {}, []
    try:
        services.db.ping()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
        failing.append("database")
    try:
        services.redis.client().ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
        failing.append("redis")
    body = {"status": "ok" if not failing else "failing", "failing": failing, **checks}
    return jsonify(body), 200 if not failing else 503


@bp.get("/metrics")
def metrics():
    from bot.infra.metrics import render

    payload, content_type = render(current_app.extensions["services"])
    return Response(payload, content_type=content_type)
