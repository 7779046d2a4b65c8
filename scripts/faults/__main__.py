"""Every fault script against one production stack (one start-up instead of four).

    python scripts/faults [--workers 2] [--examples 300] [--conversations 20]

Runs, in this order: hostile requests, the action server stopping, PostgreSQL restarting under
load, one database refusing connections for longer than the retry budget, Redis stopping.
PostgreSQL and Redis are throwaway servers of its own (faults/local_services.py), removed at the end.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from faults import action_server, hostile_requests, postgres_restart, redis_stop
from faults.production_stack import ProductionStack, local_services


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--examples", type=int, default=300, help="random hostile requests")
    parser.add_argument("--conversations", type=int, default=20, help="conversations during the PostgreSQL restart")
    args = parser.parse_args()
    started = time.monotonic()
    results = []
    with local_services(), ProductionStack(workers=args.workers, extra_env=hostile_requests.CHANNELS_ON) as stack:
        print(f"production stack up ({args.workers} workers) in {time.monotonic() - started:.0f} s", flush=True)
        for run in (
            lambda: hostile_requests.check(stack, args.examples),
            lambda: action_server.check(stack),
            lambda: postgres_restart.check(stack, args.conversations),
            lambda: postgres_restart.check_long_outage(stack),
            lambda: redis_stop.check(stack),
        ):
            result = run()
            results.append(result)
            print(result.summary(), flush=True)
    print(f"{sum(r.ok for r in results)}/{len(results)} fault checks passed in {time.monotonic() - started:.0f} s")
    return 0 if results and all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
