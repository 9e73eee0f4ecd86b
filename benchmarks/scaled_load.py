"""One web process against two behind the proxy, in the same sitting: continuous talkers
arriving over time (benchmarks/live_latency.py's overload scenario), first straight to one
Daphne process, then through HAProxy (docker/haproxy/haproxy.cfg) to it and a second one,
both with the same one Celery worker (tiny models by default).

    .venv/bin/python benchmarks/scaled_load.py [--sessions 48] [--arrival-s 18] [--loop-cpu 0.2]
        [--json F]

Prints, for each layout, admitted / refused (and why), answered / unanswered and the p95
per-sentence lag, and behind the proxy how the admitted sessions spread over the processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from live_latency import corpus, print_overload, run_overload, start_own_stack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=48)
    parser.add_argument("--arrival-s", type=float, default=18.0)
    parser.add_argument("--drain-s", type=float, default=90.0)
    parser.add_argument("--engines", choices=("tiny", "doubles"), default="tiny")
    parser.add_argument(
        "--loop-cpu",
        type=float,
        help="ADMISSION_MAX_LOOP_CPU of each web process (on a small machine: a lower budget "
        "per process makes the web tier the limit before the machine itself is)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    clips = corpus()
    env = {"ADMISSION_MAX_LOOP_CPU": str(args.loop_cpu)} if args.loop_cpu else {}
    stack = start_own_stack(args.engines, 1, 0, env)
    reports = {}
    try:
        # Warm the worker (the first batches of a fresh stack are slow) and the rate it reports.
        asyncio.run(run_overload(stack.ws_url, 4, clips, None, 2.0, args.drain_s))
        one = asyncio.run(
            run_overload(stack.ws_url, args.sessions, clips, None, args.arrival_s, args.drain_s)
        )
        print("\n== one web process, no proxy")
        print_overload(one)
        second = stack.start_web("web2")
        proxy = stack.start_proxy([stack.port, second])
        two = asyncio.run(
            run_overload(
                f"ws://127.0.0.1:{proxy}", args.sessions, clips, None, args.arrival_s, args.drain_s
            )
        )
        print("\n== two web processes behind HAProxy")
        print_overload(two)
        reports = {"one_process": one, "two_processes_behind_the_proxy": two}
    finally:
        stack.stop_all()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(reports, indent=2))


if __name__ == "__main__":
    main()
