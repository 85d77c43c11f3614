"""`python -m workers`: one worker with its scheduler against the configured Redis, or with
`--processes N` (WORKER_PROCESSES) N of them, each its own process, restarted if one dies.
SIGTERM or SIGINT stops them all: each finishes its job first (RQ's warm shut-down)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from bot.infra.config import ConfigError

RESTART_PAUSE = 1.0  # a worker that keeps dying is not restarted in a tight loop


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m workers")
    parser.add_argument("--burst", action="store_true", help="quit when the queues are empty")
    parser.add_argument("--processes", type=int, default=int(os.environ.get("WORKER_PROCESSES", "1") or 1),
                        help="worker processes to run (default WORKER_PROCESSES, 1)")
    args = parser.parse_args(argv)
    if args.processes > 1:
        return supervise(args.processes, args.burst)
    try:
        from workers import runtime

        svc = runtime.services()
    except ConfigError as exc:
        print(f"healthcode: {exc}", file=sys.stderr)
        return 2
    return work(svc, args.burst)


def work(svc, burst: bool) -> int:
    """RQ's worker quits when Redis goes away in the middle of a job (a failover): it is made
    again and works on, in the same process, once Redis answers (the job's outbox row is run
    again by the sweep). A stop asked for by a signal, or a burst's end, ends it."""
    import logging

    from redis.exceptions import ConnectionError as RedisDown
    from redis.exceptions import TimeoutError as RedisSlow

    from bot.services import QUEUE_NAMES
    from workers.worker import OutboxWorker

    log = logging.getLogger("workers")
    while True:
        worker = OutboxWorker([svc.queue(n) for n in QUEUE_NAMES], connection=svc.redis.client())
        try:
            worker.work(with_scheduler=True, burst=burst, logging_level=svc.settings.log_level)
        except (RedisDown, RedisSlow) as exc:  # its clean-up could not reach Redis either
            log.warning("worker stopped: Redis unreachable (%s); starting again", exc.__class__.__name__)
        asked = worker._stop_requested or getattr(worker, "_shutdown_requested_date", None)  # a signal
        if asked or burst:
            return 0
        time.sleep(RESTART_PAUSE)


def supervise(count: int, burst: bool) -> int:
    from bot.infra.process import die_with_parent

    command = [sys.executable, "-m", "workers", "--processes", "1", *(["--burst"] if burst else [])]
    env = {**os.environ, "WORKER_PROCESSES": "1"}
    stopping = []

    def stop(signum, _frame):
        stopping.append(signum)
        for p in children:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)

    def start():
        return subprocess.Popen(command, env=env, preexec_fn=die_with_parent)

    children = [start() for _ in range(count)]
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        for i, p in enumerate(children):
            code = p.poll()
            if code is None or stopping:
                continue
            if burst or code == 2:  # done, or a setting is wrong: starting again will not help
                continue
            time.sleep(RESTART_PAUSE)
            children[i] = start()
        settled = stopping or burst or any(p.returncode == 2 for p in children)
        if all(p.poll() is not None for p in children) and settled:
            return max((p.returncode or 0) for p in children) if not stopping else 0
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
