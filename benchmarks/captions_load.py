"""Live-caption benchmark (a script, not a test): what captions cost and what they give.

Starts the real stack with LIVE_CAPTIONS=1 (Daphne + Celery workers consuming `gpu,captions`,
Redis, PostgreSQL, tiny real-format models), or measures a running one (--url), and runs:

- latency: one session speaks a ~6 s sentence at real-time pace, --runs times with captions
  and --runs times without (`"captions": false` in the control), alternating. Reports caption
  latency (speech start → first partial shown; audio sent → its partial shown), partials per
  utterance, and the final's latency (end of speech → result) with and without captions.
- load: N concurrent sessions (benchmarks/live_latency.py's streams: real speech with natural
  pauses), once without and once with captions, alternating --repeat times. Reports the
  finals' end-to-end latency (median / p95) both ways and the share of partials skipped
  (due ticks that never showed a partial: 1 - shown / due).

    .venv/bin/python benchmarks/captions_load.py --mode latency,load --runs 20 --sessions 20 \\
        --workers 2 --torch-threads 1 --json var/captions-bench.json

See docs/PERFORMANCE.md for the figures measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.live_latency import (  # noqa: E402
    STAGGER_S,
    SessionTrace,
    build_stream,
    corpus,
    measure,
    start_own_stack,
    stream_all,
    summarise,
)
from tests.speech import speech_16k  # noqa: E402
from tests.wsclient import LiveClient, silence_pcm, to_pcm16  # noqa: E402

SENTENCE = (
    "The weather is lovely today, so we will walk along the river, look at the boats and "
    "talk about the long summer."
)
LEAD_S = 0.5
PAUSE_S = 1.6


# --- latency: one session, one sentence at a time ------------------------------------------------


async def one_sentence(ws_url: str, captions: bool) -> dict:
    client = await LiveClient.connect(ws_url, {"mode": "en->ru", "captions": captions})
    audio = speech_16k(SENTENCE, "en")
    await client.stream(silence_pcm(LEAD_S))
    speech_started = await client.stream(to_pcm16(audio[:320], 16_000))
    speech_ended = await client.stream(to_pcm16(audio[320:], 16_000))
    await client.stream(silence_pcm(PAUSE_S))
    results = await client.wait_results(1, 30)
    await client.close()
    final_at = results[0][2]
    final_json_at = results[0][0]["_received_at"]
    partials = [
        m
        for m in client.received.messages
        if m["type"] == "partial" and m["_received_at"] <= final_json_at
    ]
    return {
        "speech_s": len(audio) / 16_000,
        "final_ms": (final_json_at - speech_ended) * 1000,
        "final_wav_ms": (final_at - speech_ended) * 1000,
        "partials": len(partials),
        "first_partial_ms": (
            (partials[0]["_received_at"] - speech_started) * 1000 if partials else None
        ),
        # The audio a partial covers ends at end_s (stream time); the client sent that frame
        # at speech_started + (end_s - LEAD_S).
        "partial_lag_ms": [
            (p["_received_at"] - (speech_started + p["end_s"] - LEAD_S)) * 1000 for p in partials
        ],
        "partial_ast_ms": [p["timings"].get("ast_ms", 0.0) for p in partials],
        "partial_audio_s": [p["end_s"] - p["start_s"] for p in partials],
        "final_ast_ms": results[0][0]["timings"].get("ast_ms", 0.0),
        "final_audio_s": results[0][0]["timings"].get("audio_s", 0.0),
    }


async def run_latency(ws_url: str, runs: int) -> dict:
    on, off = [], []
    for _ in range(runs):
        off.append(await one_sentence(ws_url, captions=False))
        on.append(await one_sentence(ws_url, captions=True))
    firsts = [r["first_partial_ms"] for r in on if r["first_partial_ms"] is not None]
    lags = [lag for r in on for lag in r["partial_lag_ms"]]
    partial_audio = sum(sum(r["partial_audio_s"]) for r in on)
    final_audio = sum(r["final_audio_s"] for r in on)
    return {
        "runs": runs,
        "speech_s": on[0]["speech_s"],
        "partials_per_utterance": summarise([r["partials"] for r in on]),
        "first_partial_ms": summarise(firsts),
        "partial_lag_ms": summarise(lags),
        "final_ms_with_captions": summarise([r["final_ms"] for r in on]),
        "final_ms_without_captions": summarise([r["final_ms"] for r in off]),
        "final_wav_ms_with_captions": summarise([r["final_wav_ms"] for r in on]),
        "final_wav_ms_without_captions": summarise([r["final_wav_ms"] for r in off]),
        "partial_ast_ms": summarise([a for r in on for a in r["partial_ast_ms"]]),
        "final_ast_ms": summarise([r["final_ast_ms"] for r in on + off]),
        # Audio the model re-reads for captions, per second of audio in finals.
        "partial_audio_per_final_audio": partial_audio / final_audio if final_audio else None,
    }


def print_latency(report: dict) -> None:
    print(f"\nlatency, {report['runs']} runs each way, a {report['speech_s']:.1f} s sentence:")
    for name in (
        "partials_per_utterance",
        "first_partial_ms",
        "partial_lag_ms",
        "final_ms_without_captions",
        "final_ms_with_captions",
        "final_wav_ms_without_captions",
        "final_wav_ms_with_captions",
        "partial_ast_ms",
        "final_ast_ms",
    ):
        s = report[name]
        print(f"  {name:<32}{s['median']:>9.1f}{s['p95']:>9.1f}{s['max']:>9.1f}")
    print(f"  partial audio per final audio   {report['partial_audio_per_final_audio']:.2f}")


# --- load: N sessions at once --------------------------------------------------------------------


def caption_counts(traces: list[SessionTrace]) -> dict[str, int]:
    due = shown = 0
    for trace in traces:
        assert trace.client is not None
        measured = [m for m in trace.client.received.messages if m.get("seq", -1) >= trace.warmup]
        due += sum(m["due"] for m in measured if m.get("state") == "captions")
        shown += sum(1 for m in measured if m["type"] == "partial")
    return {"due": due, "shown": shown, "skipped": max(0, due - shown)}


async def run_load(ws_url: str, n: int, clips, utterances: int, warmup: int, captions: bool):
    streams = [
        build_stream(clips, utterances + warmup, offset=i, lead_s=0.5 + STAGGER_S * i / n)
        for i in range(n)
    ]
    traces = [SessionTrace(utterances=u, warmup=warmup) for _, u in streams]
    await stream_all(
        ws_url,
        [pcm for pcm, _ in streams],
        traces,
        control={"mode": "auto", "captions": captions},
        settle_s=0.3,  # the last utterance's caption counters
    )
    columns, counts = measure(traces)
    return {
        "captions": captions,
        "sessions": n,
        "counts": counts,
        "end_to_end_ms": columns["end_to_end"],
        "queue_ms": columns["queue"],
        "columns": {name: summarise(values) for name, values in columns.items()},
        "caption_counts": caption_counts(traces) if captions else None,
    }


def combine(runs: list[dict]) -> dict:
    ends = [v for r in runs for v in r["end_to_end_ms"]]
    queue = [v for r in runs for v in r["queue_ms"]]
    report = {
        "runs": len(runs),
        "answered": sum(r["counts"]["answered"] for r in runs),
        "spoken": sum(r["counts"]["spoken"] for r in runs),
        "errors": sum(r["counts"]["errors"] for r in runs),
        "out_of_order": sum(r["counts"]["out_of_order"] for r in runs),
        "end_to_end_ms": summarise(ends),
        "queue_ms": summarise(queue),
        "columns_per_run": [r["columns"] for r in runs],
    }
    if runs[0]["caption_counts"] is not None:
        due = sum(r["caption_counts"]["due"] for r in runs)
        shown = sum(r["caption_counts"]["shown"] for r in runs)
        report.update(due=due, shown=shown, skipped_share=(1 - shown / due) if due else None)
    return report


async def run_load_pair(ws_url, n, clips, utterances, warmup, repeat) -> dict:
    off, on = [], []
    for _ in range(repeat):
        off.append(await run_load(ws_url, n, clips, utterances, warmup, captions=False))
        on.append(await run_load(ws_url, n, clips, utterances, warmup, captions=True))
    without, with_ = combine(off), combine(on)
    return {
        "sessions": n,
        "without_captions": without,
        "with_captions": with_,
        "p95_ratio": with_["end_to_end_ms"]["p95"] / without["end_to_end_ms"]["p95"],
    }


def print_load(report: dict) -> None:
    print(f"\nload, N={report['sessions']}:")
    for name in ("without_captions", "with_captions"):
        r = report[name]
        e, q = r["end_to_end_ms"], r["queue_ms"]
        line = (
            f"  {name:<18} {r['answered']}/{r['spoken']} answered, {r['errors']} errors, "
            f"end to end median {e['median']:.0f} p95 {e['p95']:.0f} ms, "
            f"queue p95 {q['p95']:.0f} ms"
        )
        if "skipped_share" in r:
            line += f"; partials due {r['due']}, shown {r['shown']}, "
            line += f"skipped {100 * (r['skipped_share'] or 0):.1f} %"
        print(line)
    print(f"  p95 with / without: {report['p95_ratio']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", default="latency,load", help="latency, load or both")
    parser.add_argument("--runs", type=int, default=20, help="latency: sentences each way")
    parser.add_argument("--sessions", type=int, default=20, help="load: concurrent sessions")
    parser.add_argument("--utterances", type=int, default=4, help="load: measured per session")
    parser.add_argument("--warmup", type=int, default=1, help="load: unmeasured first utterances")
    parser.add_argument("--repeat", type=int, default=2, help="load: alternating runs each way")
    parser.add_argument("--url", help="ws://host:port of a running stack with LIVE_CAPTIONS=1")
    parser.add_argument("--engines", choices=("tiny", "doubles"), default="tiny")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers to start")
    parser.add_argument("--torch-threads", type=int, default=1, help="TORCH_NUM_THREADS")
    parser.add_argument("--json", type=Path, help="write the reports here")
    args = parser.parse_args()
    modes = set(args.mode.split(","))

    stack = None
    ws_url = args.url
    if ws_url is None:
        stack = start_own_stack(
            args.engines, args.workers, args.torch_threads, {"LIVE_CAPTIONS": "1"}
        )
        ws_url = stack.ws_url
    reports: dict[str, dict] = {}
    try:
        if "latency" in modes:
            reports["latency"] = asyncio.run(run_latency(ws_url, args.runs))
            print_latency(reports["latency"])
        if "load" in modes:
            clips = corpus()
            reports["load"] = asyncio.run(
                run_load_pair(
                    ws_url, args.sessions, clips, args.utterances, args.warmup, args.repeat
                )
            )
            print_load(reports["load"])
    finally:
        if stack is not None:
            stack.stop_all()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(reports, indent=2, default=float))


if __name__ == "__main__":
    main()
