"""gunicorn's settings: `gunicorn -c config/gunicorn.py wsgi:app` (deploy/ runs it so).

Workers come from the cores (2 x cores + 1, WEB_CONCURRENCY overrides), each with WEB_THREADS
threads (1: sync workers, the benchmarked setting). Graceful time-outs: on SIGTERM a worker
finishes its request within WEB_GRACEFUL_TIMEOUT, and a request stuck longer than WEB_TIMEOUT
is ended. The access log is JSON lines with tokens redacted (bot/infra/access_log.py). The app
is loaded before forking (shared memory). Each worker then drops the database and Redis
connections the loading made, since a forked socket must not be shared."""
import multiprocessing
import os

bind = os.environ.get("BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
threads = int(os.environ.get("WEB_THREADS", "1"))
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", "20"))
keepalive = 5
max_requests, max_requests_jitter = 20000, 2000  # a slow leak cannot grow for ever
preload_app = True
accesslog = os.environ.get("ACCESS_LOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logger_class = "bot.infra.access_log.JsonAccessLogger"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_fork(server, worker):
    """The loading's connections stay with the master: each worker opens its own."""
    try:
        from wsgi import app
    except Exception:
        return
    services = app.extensions.get("services")
    if services is not None:
        services.db.engine.dispose(close=False)
        services.redis.forget()
