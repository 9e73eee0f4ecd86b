"""Soak test: talkers come and go for a long time against the real stack (a script, not a test).

Starts Daphne + a Celery worker on a redis-server of its own + PostgreSQL (tests/stack.py) and
keeps N talkers busy for M minutes. A talker opens a `/ws/translate` session and speaks like a
person in a call: a sentence streamed as 48 kHz stereo 20 ms frames at real-time pace,
`"__flush__"`, a pause; the mode switches with the sentence's language. With `--churn 3-12` a
session lives a random 3..12 sentences, then closes (a share of them hang up right after their
last sentence, before its answer) and the talker opens a new one, so hundreds of sessions open
and close. Every ~10 s it samples RSS, open descriptors and threads of both processes, Redis
`used_memory` and the PostgreSQL connections (benchmarks/soak_samples.py); every answer's lag is
kept; `--plot` draws them (benchmarks/soak_plot.py). Checks, exit status 1 when one fails:

- every utterance the server queued is answered exactly once (but a hung-up session's last);
- no error reached a client, none is in the web or worker log;
- from the end of the warm-up to the end: RSS grows < 10 %, descriptors and threads stay within
  a few of the warm-up's, PostgreSQL connections and Redis memory stay bounded; with no session
  left open the processes hold no more descriptors than at the start.

    .venv/bin/python benchmarks/soak.py --sessions 16 --minutes 30 --churn 3-12 \\
        --json var/soak-30.json --plot var/soak-30.png          # --hours 2: the long mode

A short version runs in CI: tests/reliability/test_soak_short.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.soak_samples import (  # noqa: E402
    Sampler,
    lag_summary,
    lags_as_dicts,
    metric_failures,
    rss_mb,
    summarize,
)
from benchmarks.soak_talkers import clips, talker  # noqa: E402

__all__ = ["failures", "print_summary", "rss_mb", "run_against_new_stack"]

LOG_ERROR_MARKERS = (" ERROR ", " CRITICAL ", "Traceback (most recent call last)")
IDLE_PAUSE_S = 6.0  # after the warm-up and at the end: no session open
PROCESSES = {"web": "daphne", "worker": "worker"}  # sample name -> the stack's process name


def log_errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(m in line for m in LOG_ERROR_MARKERS)]


async def soak(
    ws_url: str,
    *,
    sessions: int,
    duration_s: float,
    warmup_s: float,
    sampler: Sampler,
    churn: tuple[int, int] | None,
    hangup_share: float = 0.25,
    period_s: float = 10.0,
    drain_s: float = 60.0,
) -> dict:
    pcm_clips = clips()
    sampler.t0 = t0 = time.monotonic()
    await asyncio.to_thread(sampler.sample, "start")
    sampling = asyncio.create_task(sampler.run(period_s))
    stats = []
    # Two phases: the warm-up, a pause with no session open (the warm idle baseline), the rest.
    for phase_end, idle in ((t0 + warmup_s, "warm"), (t0 + duration_s, "end")):
        per_talker = await asyncio.gather(
            *(
                talker(
                    ws_url,
                    i,
                    phase_end,
                    pcm_clips,
                    churn=churn,
                    hangup_share=hangup_share,
                    sampler=sampler,
                    drain_s=drain_s,
                )
                for i in range(sessions)
            )
        )
        stats += [s for talker_stats in per_talker for s in talker_stats]
        await asyncio.sleep(IDLE_PAUSE_S)  # every session closed: what is left is for nobody
        await asyncio.to_thread(sampler.sample, idle)
    elapsed = time.monotonic() - t0
    sampling.cancel()
    window = min(120.0, max(period_s * 3, (duration_s - warmup_s) / 5))
    names = list(sampler.pids)
    return {
        "sessions": sessions,
        "churn": list(churn) if churn else None,
        "hangup_share": hangup_share if churn else 0.0,
        "duration_s": round(duration_s, 1),
        "elapsed_s": round(elapsed, 1),
        "warmup_s": warmup_s,
        "window_s": window,
        "sessions_opened": sampler.sessions_opened,
        "utterances_sent": sum(s.flushes for s in stats),
        "utterances_queued": sum(s.queued for s in stats),
        "utterances_answered": sum(s.answered for s in stats),
        "abandoned": sum(s.abandoned for s in stats),
        "duplicates": sum(len(s.duplicates) for s in stats),
        "unanswered": sum(len(s.unanswered) for s in stats),
        "client_errors": [e for s in stats for e in s.errors],
        "processes": names,
        "metrics": summarize(
            sampler.rows, names, warmup_s=warmup_s, window_s=window, end_s=duration_s
        ),
        "lag": lag_summary(sampler.lags, warmup_s=warmup_s),
        "samples": sampler.rows,
        "lags": lags_as_dicts(sampler.lags),
        "per_session": [asdict(s) for s in stats if s.errors or s.unanswered or s.duplicates],
    }


def failures(report: dict) -> list[str]:
    """What broke the soak's promises (empty: all held)."""
    problems = []
    if report["utterances_sent"] == 0:
        problems.append("no utterance was sent")
    if report["utterances_queued"] != report["utterances_sent"]:
        problems.append(
            f"{report['utterances_sent']} utterances flushed but "
            f"{report['utterances_queued']} queued"
        )
    if report["unanswered"] or report["duplicates"]:
        problems.append(
            f"{report['unanswered']} utterances unanswered, {report['duplicates']} answered twice"
        )
    if report["client_errors"]:
        problems.append(f"errors sent to clients: {report['client_errors'][:5]}")
    problems += metric_failures(report["metrics"], report["processes"])
    for name, lines in report.get("log_errors", {}).items():
        if lines:
            problems.append(f"{len(lines)} error lines in the {name} log: {lines[:3]}")
    return problems


def engine_env(engines: str) -> dict[str, str]:
    import os

    from tests.doubles import DOUBLES_ENV

    if engines == "tiny":
        from tests.models_fixtures import prepare_model_env

        root = os.environ.get("RUTRANS_TINY_MODELS_DIR") or ROOT / "var" / "bench-models"
        return prepare_model_env(root)
    return dict(DOUBLES_ENV)


def run_against_new_stack(
    *,
    sessions: int,
    duration_s: float,
    warmup_s: float,
    env: dict[str, str],
    database_name: str,
    data_dir: Path,
    churn: tuple[int, int] | None = None,
    period_s: float = 10.0,
) -> dict:
    """Start the real stack (its own redis-server, so Redis memory is the stack's alone), soak
    it, stop it; the report includes the log errors."""
    from tests.services import (
        POSTGRES_ADMIN_URL,
        PrivateRedis,
        drop_postgres_database,
        fresh_postgres_database,
    )
    from tests.stack import NO_CLIENT_LIMITS, free_port, start_stack

    redis_server = PrivateRedis().start()
    database_url = fresh_postgres_database(database_name)
    try:
        stack = start_stack(
            data_dir,
            database_url=database_url,
            redis_url=redis_server.url,
            # Its worker's metrics on a port of its own (another stack's worker may hold 9808).
            extra_env={**NO_CLIENT_LIMITS, "WORKER_METRICS_PORT": str(free_port()), **env},
        )
        try:
            pids = {name: stack.procs[proc].pid for name, proc in PROCESSES.items()}
            sampler = Sampler(
                pids=pids,
                redis_url=redis_server.url,
                database_name=database_url.rsplit("/", 1)[1],
                admin_url=POSTGRES_ADMIN_URL,
            )
            # Errors logged during the soak count; start-up (model loading) is not under test.
            offsets = {name: len(stack.log_text(name)) for name in PROCESSES.values()}
            report = asyncio.run(
                soak(
                    stack.ws_url,
                    sessions=sessions,
                    duration_s=duration_s,
                    warmup_s=warmup_s,
                    sampler=sampler,
                    churn=churn,
                    period_s=period_s,
                )
            )
            report["log_errors"] = {
                name: log_errors(stack.log_text(name)[offset:]) for name, offset in offsets.items()
            }
        finally:
            stack.stop_all()
    finally:
        redis_server.stop()
        drop_postgres_database(database_name)
    return report


def print_summary(report: dict) -> None:
    print(
        f"{report['sessions']} talkers for {report['duration_s']:.0f} s "
        f"(elapsed {report['elapsed_s']:.0f} s, warm-up {report['warmup_s']:.0f} s, churn "
        f"{report['churn']}), {report['sessions_opened']} sessions opened"
    )
    print(
        f"utterances: sent {report['utterances_sent']}, queued {report['utterances_queued']}, "
        f"answered {report['utterances_answered']}, last ones left by a hang-up "
        f"{report['abandoned']}, unanswered {report['unanswered']}, duplicates "
        f"{report['duplicates']}, client errors {len(report['client_errors'])}"
    )
    for key, f in report["metrics"].items():
        if not isinstance(f, dict):
            continue
        print(
            f"{key:18} idle start {f['idle_start']}, idle warm {f['idle_warm']}, "
            f"after warm-up {f['after_warmup']}, end "
            f"{f['end']}, idle end {f['idle_end']}, peak {f['peak']}, growth {f['growth']}"
            + (f" ({f['growth_pct']} %)" if f["growth_pct"] is not None else "")
        )
    for key, f in report["lag"].items():
        if isinstance(f, dict):
            print(f"lag {key:12} {f}")
    for name, lines in report.get("log_errors", {}).items():
        print(f"{name} log: {len(lines)} error lines")


def _churn(text: str) -> tuple[int, int] | None:
    if text in ("", "0", "off"):
        return None
    low, _, high = text.partition("-")
    return int(low), int(high or low)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=16, help="talkers at once")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--hours", type=float, help="the long mode (--hours 2), over --minutes")
    parser.add_argument(
        "--churn", default="3-12", help="sentences per session, LOW-HIGH (off: one session each)"
    )
    parser.add_argument(
        "--warmup-s", type=float, help="baselines are taken after this (default 10 %%, ≥ 30 s)"
    )
    parser.add_argument("--period-s", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--engines", choices=("tiny", "doubles"), default="tiny")
    parser.add_argument("--database", default="rutrans_rel_soak", help="PostgreSQL database")
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "soak.json")
    parser.add_argument("--plot", type=Path, help="PNG of the samples (default: beside --json)")
    args = parser.parse_args()

    duration_s = (args.hours * 60 if args.hours else args.minutes) * 60.0
    warmup_s = args.warmup_s if args.warmup_s is not None else max(30.0, duration_s * 0.1)
    report = run_against_new_stack(
        sessions=args.sessions,
        duration_s=duration_s,
        warmup_s=warmup_s,
        env=engine_env(args.engines),
        database_name=args.database,
        data_dir=Path(tempfile.mkdtemp(prefix="rutrans-soak-")),
        churn=_churn(args.churn),
        period_s=args.period_s,
    )
    report["engines"] = args.engines
    problems = failures(report)
    report["failures"] = problems
    print_summary(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    csv_path = args.json.with_suffix(".csv")
    _write_csv(report["samples"], csv_path)
    from benchmarks.soak_plot import plot

    png = plot(report, args.plot or args.json.with_suffix(".png"))
    print(f"report: {args.json}, samples: {csv_path}, plot: {png}")
    for problem in problems:
        print(f"FAILED: {problem}")
    return 1 if problems else 0


def _write_csv(rows: list[dict], path: Path) -> None:
    import csv

    if rows:
        with path.open("w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    sys.exit(main())
