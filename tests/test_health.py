import json
import logging
import socket

from bot import create_app
from bot.services import Services


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_healthz_ok(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json == {"status": "ok", "failing": [], "database": "ok", "redis": "ok"}


def test_healthz_names_redis_when_it_is_down(env):
    app = create_app(services=Services.from_env({**env, "REDIS_URL": f"redis://127.0.0.1:{_closed_port()}/0"}))
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.json["failing"] == ["redis"] and resp.json["database"] == "ok"


def test_healthz_names_the_database_when_it_is_down(env, tmp_path):
    url = f"postgresql://nobody@127.0.0.1:{_closed_port()}/none"
    app = create_app(services=Services.from_env({**env, "DATABASE_URL": url}))
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.json["failing"] == ["database"] and resp.json["redis"] == "ok"


def test_metrics_exposes_counters(client):
    client.get("/healthz")
    body = client.get("/metrics").get_data(as_text=True)
    assert 'healthcode_http_requests_total{endpoint="health.healthz",status="200"}' in body
    assert "healthcode_queue_depth" in body and "healthcode_outbox_runs_total" in body


def test_request_id_in_header_and_json_logs(app, capsys):
    logging.getLogger().setLevel("INFO")

    @app.get("/boom")
    def boom():
        logging.getLogger("bot.test").info("looked up 33010219900101123X for 13812341234")
        return "ok"

    resp = app.test_client().get("/boom", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["X-Request-ID"] == "abc-123"
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    entry = next(e for e in lines if e["logger"] == "bot.test")
    assert entry["request_id"] == "abc-123"
    # no log line holds an unmasked ID number or phone
    assert "33010219900101123X" not in entry["msg"] and "13812341234" not in entry["msg"]
    assert "330***********123X" in entry["msg"] and "138****1234" in entry["msg"]
    # a forged request id is replaced by a generated one
    resp = app.test_client().get("/healthz", headers={"X-Request-ID": "<script>"})
    assert resp.headers["X-Request-ID"] != "<script>" and len(resp.headers["X-Request-ID"]) == 32
