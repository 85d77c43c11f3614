"""gunicorn's access log as JSON lines (config/gunicorn.py sets it as gunicorn's logger class):
one line per request with the method, the path and query with tokens redacted and numbers
masked (bot.infra.logs.scrub), the status, the time and the request id the app gave."""
from __future__ import annotations

import datetime as dt
import json

from gunicorn.glogging import Logger

from bot.infra.logs import scrub


class JsonAccessLogger(Logger):
    def access(self, resp, req, environ, request_time):
        if not (self.cfg.accesslog or self.cfg.logconfig or self.cfg.logconfig_dict or self.cfg.syslog):
            return
        query = environ.get("QUERY_STRING", "")
        path = environ.get("PATH_INFO", "") + ("?" + query if query else "")
        rid = next((v for k, v in (resp.headers or []) if k.lower() == "x-request-id"), None)
        entry = {"ts": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"), "level": "info",
                 "logger": "gunicorn.access", "method": environ.get("REQUEST_METHOD", ""), "path": scrub(path),
                 "status": int(str(resp.status).split(None, 1)[0]) if resp.status else 0,
                 "ms": round(request_time.total_seconds() * 1000, 2), "bytes": getattr(resp, "sent", 0),
                 "remote": environ.get("REMOTE_ADDR", "")}
        if rid:
            entry["request_id"] = rid
        try:
            self.access_log.info(json.dumps(entry, ensure_ascii=False))
        except Exception:
            self.exception("the access log line could not be written")
