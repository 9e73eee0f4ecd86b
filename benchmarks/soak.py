"""Soak test: many live sessions for a long time against the real stack (a script, not a test).

Starts Daphne + a Celery worker on Redis + PostgreSQL (tests/stack.py), opens N concurrent
`/ws/translate` sessions and has each one speak for M minutes like a person in a call: a sentence
streamed as 48 kHz stereo 20 ms frames at real-time pace, `"__flush__"`, a pause of silence; the
mode switches with the sentence's language (a control message between utterances). Checks:

- every utterance the server queued is answered exactly once (a result or an error with its seq)
  and every flush of speech was queued;
- no error reached a client, none is in the web or worker log;
- the RSS of Daphne and of the worker grows by less than 10 % from the end of the warm-up to the
  end of the run.

    .venv/bin/python benchmarks/soak.py --sessions 20 --minutes 10 --json var/soak.json

A short version runs in CI: tests/reliability/test_soak_short.py.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.speech import speech_16k  # noqa: E402
from tests.wsclient import LiveClient, silence_pcm, to_pcm16  # noqa: E402

SENTENCES = [
    ("en", "Good morning, everyone."),
    ("ru", "Добрый день, как ваши дела?"),
    ("en", "Could you tell me where the station is?"),
    ("ru", "Я думаю, что встреча займёт час."),
    ("en", "Thank you very much for your help."),
]
MODES = {"en": "en->ru", "ru": "ru->en"}
PAUSE_S = 1.5
RSS_GROWTH_LIMIT = 0.10
LOG_ERROR_MARKERS = (" ERROR ", " CRITICAL ", "Traceback (most recent call last)")


@dataclass
class SessionStats:
    flushes: int = 0
    queued: list[int] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unanswered: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def clips() -> list[tuple[str, bytes]]:
    """(language, 48 kHz stereo PCM of the trimmed sentence)."""
    return [(lang, to_pcm16(speech_16k(text, lang), 16_000)) for lang, text in SENTENCES]


async def run_session(ws_url: str, index: int, stop_at: float, pcm_clips, drain_s: float):
    stats = SessionStats()
    client = await LiveClient.connect(ws_url, None)
    lang = None
    i = index
    while time.monotonic() < stop_at:
        clip_lang, pcm = pcm_clips[i % len(pcm_clips)]
        i += 1
        if clip_lang != lang:  # a mode change between utterances
            lang = clip_lang
            await client.send_json({"mode": MODES[lang]})
        await client.stream(pcm)
        await client.flush()
        stats.flushes += 1
        await client.stream(silence_pcm(PAUSE_S))
    # Everything queued must come back.
    deadline = time.monotonic() + drain_s
    while time.monotonic() < deadline:
        queued = {m["seq"] for m in client.received.messages if m.get("state") == "queued"}
        answered = {m["seq"] for m, _, _ in client.received.results} | {
            e["seq"] for e in client.received.errors if "seq" in e
        }
        if len(queued) >= stats.flushes and queued <= answered:
            break
        await asyncio.sleep(0.2)
    await client.close()
    stats.queued = [m["seq"] for m in client.received.messages if m.get("state") == "queued"]
    stats.answered = [m["seq"] for m, _, _ in client.received.results] + [
        e["seq"] for e in client.received.errors if "seq" in e
    ]
    stats.errors = [e["error"] for e in client.received.errors]
    counts = collections.Counter(stats.answered)
    stats.duplicates = sorted(seq for seq, n in counts.items() if n > 1)
    stats.unanswered = sorted(set(stats.queued) - set(counts))
    return stats


async def sample_rss(pids: dict[str, int], samples: dict[str, list], t0: float, period: float):
    while True:
        now = time.monotonic() - t0
        for name, pid in pids.items():
            value = rss_mb(pid)
            if value is not None:
                samples[name].append((round(now, 1), round(value, 1)))
        await asyncio.sleep(period)


def window_median(samples: list[tuple[float, float]], start: float, end: float) -> float | None:
    values = [v for t, v in samples if start <= t <= end]
    return statistics.median(values) if values else None


def log_errors(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(m in line for m in LOG_ERROR_MARKERS)]


async def soak(
    ws_url: str,
    *,
    sessions: int,
    duration_s: float,
    warmup_s: float,
    pids: dict[str, int],
    drain_s: float = 60.0,
) -> dict:
    pcm_clips = clips()
    samples: dict[str, list] = {name: [] for name in pids}
    t0 = time.monotonic()
    sampler = asyncio.create_task(sample_rss(pids, samples, t0, 2.0))
    stop_at = t0 + duration_s
    stats = await asyncio.gather(
        *(run_session(ws_url, i, stop_at, pcm_clips, drain_s) for i in range(sessions))
    )
    elapsed = time.monotonic() - t0
    await asyncio.sleep(2.5)  # one more sample after the drain
    sampler.cancel()
    window = min(15.0, max(4.0, (duration_s - warmup_s) / 4))
    rss = {}
    for name, series in samples.items():
        after_warmup = window_median(series, warmup_s, warmup_s + window)
        end = window_median(series, duration_s - window, elapsed + 5)
        growth = (end - after_warmup) / after_warmup if after_warmup and end else None
        rss[name] = {
            "start_mb": series[0][1] if series else None,
            "after_warmup_mb": after_warmup,
            "end_mb": end,
            "peak_mb": max((v for _, v in series), default=None),
            "growth": round(growth, 4) if growth is not None else None,
        }
    flushes = sum(s.flushes for s in stats)
    queued = sum(len(s.queued) for s in stats)
    answered = sum(len(set(s.answered)) for s in stats)
    return {
        "sessions": sessions,
        "duration_s": round(duration_s, 1),
        "elapsed_s": round(elapsed, 1),
        "warmup_s": warmup_s,
        "utterances_sent": flushes,
        "utterances_queued": queued,
        "utterances_answered": answered,
        "duplicates": sum(len(s.duplicates) for s in stats),
        "unanswered": sum(len(s.unanswered) for s in stats),
        "client_errors": [e for s in stats for e in s.errors],
        "rss": rss,
        "rss_samples": samples,
        "per_session": [asdict(s) | {"queued": len(s.queued)} for s in stats],
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
    for name, figures in report["rss"].items():
        growth = figures["growth"]
        if growth is None or growth >= RSS_GROWTH_LIMIT:
            problems.append(f"{name} RSS grew by {growth} after warm-up ({figures})")
    for name, lines in report.get("log_errors", {}).items():
        if lines:
            problems.append(f"{len(lines)} error lines in the {name} log: {lines[:3]}")
    return problems


def engine_env(engines: str) -> dict[str, str]:
    from tests.doubles import DOUBLES_ENV

    if engines == "tiny":
        from tests.models_fixtures import prepare_model_env

        return prepare_model_env(ROOT / "var" / "bench-models")
    return dict(DOUBLES_ENV)


def run_against_new_stack(
    *,
    sessions: int,
    duration_s: float,
    warmup_s: float,
    env: dict[str, str],
    redis_url: str,
    database_name: str,
    data_dir: Path,
) -> dict:
    """Start the real stack, soak it, stop it; the report includes the log errors."""
    from tests.services import drop_postgres_database, fresh_postgres_database
    from tests.stack import NO_CLIENT_LIMITS, start_stack

    stack = start_stack(
        data_dir,
        database_url=fresh_postgres_database(database_name),
        redis_url=redis_url,
        extra_env={**NO_CLIENT_LIMITS, **env},
    )
    try:
        pids = {"web": stack.procs["daphne"].pid, "worker": stack.procs["worker"].pid}
        # Errors logged during the soak count; start-up (model loading) is not under test.
        offsets = {name: len(stack.log_text(name)) for name in ("daphne", "worker")}
        report = asyncio.run(
            soak(
                stack.ws_url, sessions=sessions, duration_s=duration_s, warmup_s=warmup_s, pids=pids
            )
        )
        report["log_errors"] = {
            name: log_errors(stack.log_text(name)[offset:]) for name, offset in offsets.items()
        }
    finally:
        stack.stop_all()
        drop_postgres_database(database_name)
    return report


def print_summary(report: dict) -> None:
    print(
        f"{report['sessions']} sessions for {report['duration_s']:.0f} s "
        f"(elapsed {report['elapsed_s']:.0f} s, warm-up {report['warmup_s']:.0f} s)"
    )
    print(
        f"utterances: sent {report['utterances_sent']}, queued {report['utterances_queued']}, "
        f"answered {report['utterances_answered']}, unanswered {report['unanswered']}, "
        f"duplicates {report['duplicates']}, client errors {len(report['client_errors'])}"
    )
    for name, f in report["rss"].items():
        print(
            f"{name:6} RSS MB: start {f['start_mb']}, after warm-up {f['after_warmup_mb']}, "
            f"end {f['end_mb']}, peak {f['peak_mb']}, growth {f['growth']}"
        )
    for name, lines in report.get("log_errors", {}).items():
        print(f"{name} log: {len(lines)} error lines")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument(
        "--warmup-s", type=float, help="RSS baseline is taken after this (default 10 %%, ≥ 30 s)"
    )
    parser.add_argument("--engines", choices=("tiny", "doubles"), default="tiny")
    parser.add_argument(
        "--redis-url", help="a Redis database of its own (default: the test Redis, database 10)"
    )
    parser.add_argument("--database", default="rutrans_rel_soak", help="PostgreSQL database")
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "soak.json")
    args = parser.parse_args()

    from tests.services import fresh_redis_database

    duration_s = args.minutes * 60.0
    warmup_s = args.warmup_s if args.warmup_s is not None else max(30.0, duration_s * 0.1)
    report = run_against_new_stack(
        sessions=args.sessions,
        duration_s=duration_s,
        warmup_s=warmup_s,
        env=engine_env(args.engines),
        redis_url=args.redis_url or fresh_redis_database(10),
        database_name=args.database,
        data_dir=Path(tempfile.mkdtemp(prefix="rutrans-soak-")),
    )
    report["engines"] = args.engines
    problems = failures(report)
    report["failures"] = problems
    print_summary(report)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    print(f"report: {args.json}")
    for problem in problems:
        print(f"FAILED: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
