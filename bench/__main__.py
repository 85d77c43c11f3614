"""`python -m bench [NAME ...]`: run the benchmarks, print a table, write var/bench.json."""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import time

from bot.infra.config import ROOT

BENCHMARKS = ["bench.webhook", "bench.outbox", "bench.rules", "bench.images", "bench.pushes", "bench.load"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", help="benchmark modules (default: all)")
    args = parser.parse_args(argv)
    names = [n if n.startswith("bench.") else f"bench.{n}" for n in args.names] or BENCHMARKS
    out = ROOT / "var" / "bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    figures = json.loads(out.read_text()) if out.exists() else {}
    rows = []
    for name in names:
        started = time.monotonic()
        module = importlib.import_module(name)
        results = module.run()
        for key, value, target, ok in results:
            figures[key] = value
            rows.append((key, value, target, ok))
        print(f"# {name} took {time.monotonic() - started:.1f} s", file=sys.stderr)
    out.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    if not rows:
        print("no benchmark produced figures")
        return 1
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':{width}}  {'value':>12}  {'target':>12}  verdict")
    for key, value, target, ok in rows:
        verdict = "-" if ok is None else ("ok" if ok else "MISSED")
        print(f"{key:{width}}  {value:>12}  {target or '':>12}  {verdict}")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
