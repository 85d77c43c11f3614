"""`python -m workers`: one worker with its scheduler against the configured Redis."""
from __future__ import annotations

import sys

from bot.infra.config import ConfigError


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m workers")
    parser.add_argument("--burst", action="store_true", help="quit when the queues are empty")
    args = parser.parse_args(argv)
    try:
        from workers import runtime

        svc = runtime.services()
    except ConfigError as exc:
        print(f"healthcode: {exc}", file=sys.stderr)
        return 2
    from bot.services import QUEUE_NAMES
    from workers.worker import OutboxWorker

    worker = OutboxWorker([svc.queue(n) for n in QUEUE_NAMES], connection=svc.redis.client())
    worker.work(with_scheduler=True, burst=args.burst, logging_level=svc.settings.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
