"""Workers for tests: real worker processes (start, wait, stop the whole process group), and
burst(), every queued job run in this process."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from rq import SimpleWorker

from bot.infra.config import ROOT
from bot.services import QUEUE_NAMES


def start_worker(env, log):
    return subprocess.Popen([sys.executable, "-m", "workers"], cwd=ROOT, env={**env, "LOG_LEVEL": "INFO"},
                            stdout=subprocess.DEVNULL, stderr=open(log, "ab"), start_new_session=True)


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def stop_worker(proc) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    wait_for(lambda: not group_alive(proc.pid), 10)


def burst(svc):
    """Run every queued job in this process with a plain RQ worker (keeping pytest's signal handlers)."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        SimpleWorker([svc.queue(n) for n in QUEUE_NAMES], connection=svc.redis.client()).work(burst=True)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
