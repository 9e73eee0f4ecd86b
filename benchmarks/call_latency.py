"""Call-mode latency: both lanes of one call at once (a script, not a test).

Starts the real stack (Daphne + Celery worker + Redis + PostgreSQL; tiny real-format models or
the test doubles) or connects to a running one, opens the two lanes of one call as the call
page does (`me`: en->ru, `them`: ru->en; each its own /ws/translate connection naming the call)
and streams real speech on both at the same time, at real-time pace from one loop, the lanes
offset by `--offset` seconds so their utterances overlap. Prints each lane's end-to-end
latency (true end of speech → the result on the client) and first audio, median / p95 / max,
and checks that the call's transcript holds both lanes in time order.

    .venv/bin/python benchmarks/call_latency.py --engines tiny --utterances 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from live_latency import (  # noqa: E402
    FRAME_MS,
    SessionTrace,
    build_stream,
    connect,
    corpus,
    measure,
    sent_time,
    start_own_stack,
    summarise,
)

LANES = {"me": "en->ru", "them": "ru->en"}


async def run_call(
    ws_url: str, utterances: int, offset_s: float
) -> tuple[str, dict[str, SessionTrace]]:
    clips = corpus()
    by_lang = {lang: [c for c in clips if c[0] == lang] for lang in ("en", "ru")}
    call = uuid.uuid4().hex
    traces, streams, clients = {}, {}, {}
    for i, (speaker, mode) in enumerate(LANES.items()):
        pcm, spoken = build_stream(by_lang[mode[:2]], utterances, 0, lead_s=0.5 + i * offset_s)
        streams[speaker], traces[speaker] = pcm, SessionTrace(spoken)
        control = {"mode": mode, "sample_rate": 48_000, "channels": 2, "captions": False}
        clients[speaker] = await connect(ws_url, {**control, "call": call, "speaker": speaker})
    frame = 48_000 * FRAME_MS // 1000 * 4
    longest = max(len(pcm) for pcm in streams.values())
    t0 = time.monotonic()
    for speaker, trace in traces.items():
        trace.client, trace.t0 = clients[speaker], t0
    for i, start in enumerate(range(0, longest, frame)):
        delay = t0 + i * FRAME_MS / 1000 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        for speaker, pcm in streams.items():
            if start < len(pcm):
                await clients[speaker].ws.send(pcm[start : start + frame])
                traces[speaker].frames_sent_at.append(time.monotonic())

    async def finish(speaker: str) -> None:
        try:
            await clients[speaker].wait_results(len(traces[speaker].utterances), 60)
        except TimeoutError:
            pass
        await clients[speaker].close()

    await asyncio.gather(*(finish(s) for s in LANES))
    return call, traces


def first_audio_ms(trace: SessionTrace) -> list[float]:
    client = trace.client
    assert client is not None
    log = client.ws  # live_latency.FirstAudioLog
    return [
        (at - sent_time(trace, trace.utterances[seq].speech_end_s)) * 1000
        for seq, at in log.first_audio_at.items()
        if seq < len(trace.utterances)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running stack's http URL (default: start one)")
    parser.add_argument("--engines", choices=("tiny", "doubles"), default="tiny")
    parser.add_argument("--utterances", type=int, default=4, help="per lane")
    parser.add_argument("--offset", type=float, default=1.0, help="the them lane starts later")
    args = parser.parse_args()
    stack = None
    if args.url:
        http_url = args.url.rstrip("/")
    else:
        stack = start_own_stack(args.engines, 1, 0, {})
        http_url = stack.http_url
    ws_url = http_url.replace("http://", "ws://")
    try:
        call, traces = asyncio.run(run_call(ws_url, args.utterances, args.offset))
        report = {}
        for speaker, trace in traces.items():
            columns, counts = measure([trace])
            report[speaker] = {
                "counts": counts,
                "end_to_end_ms": summarise(columns["end_to_end"]),
                "first_audio_ms": summarise(first_audio_ms(trace)),
                "ast_ms": summarise(columns["ast"]),
                "queue_ms": summarise(columns["queue"]),
            }
        with urllib.request.urlopen(f"{http_url}/api/calls/{call}/transcript?format=json") as r:
            cues = json.load(r)["utterances"]
        report["transcript"] = {
            "cues": len(cues),
            "speakers": [c["speaker"] for c in cues],
            "in_time_order": [c["start_s"] for c in cues] == sorted(c["start_s"] for c in cues),
        }
    finally:
        if stack is not None:
            stack.stop_all()
    for speaker in LANES:
        lane = report[speaker]
        e2e, first = lane["end_to_end_ms"], lane["first_audio_ms"]
        print(
            f"{speaker:>4} ({LANES[speaker]}): {lane['counts']['answered']}/"
            f"{lane['counts']['spoken']} answered · end-to-end median {e2e['median']:.0f} ms, "
            f"p95 {e2e['p95']:.0f}, max {e2e['max']:.0f} · first audio median "
            f"{first['median']:.0f} ms · queue median {lane['queue_ms']['median']:.0f} ms"
        )
    print(json.dumps(report["transcript"]))


if __name__ == "__main__":
    main()
