"""The worker process's Services, built once from the environment on first use."""
from __future__ import annotations

import importlib
import threading

_lock = threading.Lock()
_services = None


def services():
    global _services
    if _services is None:
        with _lock:
            if _services is None:
                from bot.infra.logs import configure_logging
                from bot.services import Services

                svc = Services.from_env()
                svc.policy  # fail at start, not at the first job
                configure_logging(svc.settings.log_level)
                for name in svc.settings.effect_modules:
                    importlib.import_module(name)
                _services = svc
    return _services


def use(svc) -> None:
    """Run jobs in this process against the given Services (tests, `flask worker`)."""
    global _services
    for name in svc.settings.effect_modules:
        importlib.import_module(name)
    _services = svc
