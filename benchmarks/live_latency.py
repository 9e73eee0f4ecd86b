"""Live-path latency and capacity benchmark (a script, not a test).

Starts the real stack (Daphne + Celery worker + Redis + PostgreSQL, tiny real-format models) or
connects to a running one, opens N concurrent `/ws/translate` sessions and streams real speech
as 48 kHz stereo 20 ms frames at real-time pace with natural pauses and no flush. For every
utterance it records where the time went and prints median / p95 / max per component.

    .venv/bin/python benchmarks/live_latency.py --sessions 1,5,20,50 --json var/bench.json
    .venv/bin/python benchmarks/live_latency.py --scenario overload --sessions 64 --arrival-s 32

See docs/PERFORMANCE.md for what each column means and the figures measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.speech import LIBRIVOX, continuous_read_speech, speech_16k  # noqa: E402
from tests.wsclient import LiveClient, to_pcm16  # noqa: E402
from translation.audio.pcm import resample_float32  # noqa: E402

FRAME_MS = 20
SENTENCES = [
    ("en", "The weather is lovely today, so we will walk to the river."),
    ("ru", "Сегодня хорошая погода, поэтому мы пойдём гулять к реке."),
    ("en", "Could you tell me where the nearest train station is?"),
    ("ru", "Я думаю, что эта встреча займёт не больше часа."),
    ("en", "Thank you very much for your help yesterday."),
    ("ru", "Пожалуйста, закройте окно, на улице холодно."),
]
PAUSES_S = (1.4, 1.8, 1.6, 2.0)
STAGGER_S = 2.0


@dataclass
class Utterance:
    lang: str
    speech_end_s: float  # offset of the true end of speech in the session's stream


@dataclass
class SessionTrace:
    utterances: list[Utterance]
    warmup: int = 0  # the first utterances only warm the stack up: not measured
    frames_sent_at: list[float] = field(default_factory=list)
    t0: float = 0.0
    client: LiveClient | None = None


def corpus() -> list[tuple[str, np.ndarray]]:
    """Speech clips at 16 kHz: espeak-ng en/ru plus real read English when installed."""
    clips = [(lang, speech_16k(text, lang)) for lang, text in SENTENCES]
    for wav in sorted(LIBRIVOX.glob("*.wav"))[:5] if LIBRIVOX.exists() else []:
        audio, sr = sf.read(wav, dtype="float32")
        clips.append(("en", resample_float32(audio, sr, 16_000)))
    return clips


def build_stream(
    clips, count: int, offset: int, lead_s: float = 0.5
) -> tuple[bytes, list[Utterance]]:
    """`count` clips separated by natural pauses, after `lead_s` of silence, as 48 kHz stereo
    int16."""
    parts = [np.zeros(int(lead_s * 16_000), dtype=np.float32)]
    utterances = []
    position = len(parts[0])
    for i in range(count):
        lang, clip = clips[(offset + i) % len(clips)]
        parts.append(clip)
        position += len(clip)
        utterances.append(Utterance(lang, position / 16_000))
        pause = np.zeros(int(PAUSES_S[(offset + i) % len(PAUSES_S)] * 16_000), dtype=np.float32)
        parts.append(pause)
        position += len(pause)
    parts.append(np.zeros(16_000, dtype=np.float32))  # time for the last result
    return to_pcm16(np.concatenate(parts), 16_000), utterances


class FirstAudioLog:
    """Wraps a client's WebSocket: when the first binary frame after each `result` arrived
    (a result is followed by one or more audio frames: the first is when playback can start)."""

    def __init__(self, ws) -> None:
        self._ws = ws
        self._last_result: int | None = None
        self.first_audio_at: dict[int, float] = {}

    def __getattr__(self, name: str):
        return getattr(self._ws, name)

    async def __aiter__(self):
        async for message in self._ws:
            if isinstance(message, bytes):
                seq = self._last_result
                if seq is not None and seq not in self.first_audio_at:
                    self.first_audio_at[seq] = time.monotonic()
            elif '"result"' in message:
                data = json.loads(message)
                if data.get("type") == "result":
                    self._last_result = data["seq"]
            yield message


async def connect(ws_url: str, control: dict) -> LiveClient:
    """LiveClient.connect, with the first-audio log between the client and its socket."""
    import websockets

    origin = ws_url.replace("ws://", "http://")
    ws = await websockets.connect(ws_url + "/ws/translate", origin=origin, max_size=2**24)
    ready = json.loads(await ws.recv())
    assert ready["type"] == "status" and ready["state"] == "ready", ready
    client = LiveClient(FirstAudioLog(ws))
    await client.send_json(control)
    await client.wait_for(lambda m: m.get("state") == "configured", 5)
    return client


async def stream_all(
    ws_url: str,
    streams: list[bytes],
    traces: list[SessionTrace],
    *,
    control: dict | None = None,
    settle_s: float = 0.0,
) -> None:
    """Connect every session (with `control`, default auto mode), then send frame i of every
    stream at t0 + i × 20 ms from ONE pacing loop: the load generator shares the machine, and
    50 sessions' worth of per-frame timers would take CPU from the server being measured.
    `settle_s`: wait this long after the last result before closing (late status messages)."""
    control = control or {"mode": "auto"}
    clients = await asyncio.gather(*(connect(ws_url, control) for _ in streams))
    frame = 48_000 * FRAME_MS // 1000 * 4
    views = [memoryview(pcm) for pcm in streams]
    longest = max(len(pcm) for pcm in streams)
    t0 = time.monotonic()
    for trace, client in zip(traces, clients, strict=True):
        trace.client, trace.t0 = client, t0
    for i, start in enumerate(range(0, longest, frame)):
        delay = t0 + i * FRAME_MS / 1000 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        for view, trace, client in zip(views, traces, clients, strict=True):
            if start < len(view):
                await client.ws.send(bytes(view[start : start + frame]))
                trace.frames_sent_at.append(time.monotonic())

    async def finish(trace: SessionTrace, client: LiveClient) -> None:
        try:
            await client.wait_results(len(trace.utterances), 30)
        except TimeoutError:
            pass
        if settle_s:
            await asyncio.sleep(settle_s)
        await client.close()

    await asyncio.gather(*(finish(t, c) for t, c in zip(traces, clients, strict=True)))


def sent_time(trace: SessionTrace, offset_s: float) -> float:
    index = min(int(offset_s * 1000 / FRAME_MS), len(trace.frames_sent_at) - 1)
    return trace.frames_sent_at[index]


def measure(traces: list[SessionTrace]) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Per-utterance stage times. The server's cut, in the client's clock, is when its
    "queued" status arrived minus the time the server spent storing the utterance."""
    names = (
        "endpointing",
        "submit",
        "queue",
        "lid",
        "ast",
        "tts",
        "push",
        "overhead",
        "end_to_end",
        "loop_lag",
    )
    columns: dict[str, list[float]] = {name: [] for name in names}
    counts = {"spoken": 0, "answered": 0, "errors": 0, "out_of_order": 0}
    for trace in traces:
        client = trace.client
        assert client is not None
        counts["spoken"] += len(trace.utterances) - trace.warmup
        counts["errors"] += len(client.received.errors)
        seqs = [m["seq"] for m, _, _ in client.received.results]
        counts["answered"] += len([seq for seq in seqs if seq >= trace.warmup])
        counts["out_of_order"] += int(seqs != sorted(seqs) or len(set(seqs)) != len(seqs))
        queued = {m["seq"]: m for m in client.received.messages if m.get("state") == "queued"}
        for message, _, received_at in client.received.results:
            seq = message["seq"]
            if seq < trace.warmup or seq >= len(trace.utterances) or seq not in queued:
                continue
            speech_end = sent_time(trace, trace.utterances[seq].speech_end_s)
            t = message["timings"]
            cut_at = queued[seq]["_received_at"] - queued[seq]["submit_ms"] / 1000
            model = t.get("lid_ms", 0.0) + t.get("ast_ms", 0.0) + t.get("tts_ms", 0.0)
            columns["endpointing"].append((cut_at - speech_end) * 1000)
            columns["submit"].append(queued[seq]["submit_ms"])
            for name in ("queue", "lid", "ast", "tts", "push", "loop_lag"):
                columns[name].append(t.get(f"{name}_ms", 0.0))
            columns["overhead"].append((received_at - cut_at) * 1000 - model)
            columns["end_to_end"].append((received_at - speech_end) * 1000)
    return columns, counts


def summarise(values: list[float]) -> dict[str, float]:
    if not values:
        return {"median": float("nan"), "p95": float("nan"), "max": float("nan")}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"median": statistics.median(ordered), "p95": p95, "max": ordered[-1]}


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    import os

    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def build_continuous_stream(
    clips, offset: int, lead_s: float = 0.5
) -> tuple[bytes, list[Utterance], list[float]]:
    """One warm-up sentence and a 1.5 s pause, then continuous speech: the LibriVox sentences
    back to back (their own 0.2-0.6 s gaps) when installed, else espeak-ng sentences with
    0.2-0.6 s gaps. Returns the PCM, the warm-up utterance, and each sentence's end (s)."""
    sr = 16_000
    lang, warm = clips[offset % len(clips)]
    parts = [np.zeros(int(lead_s * sr), np.float32), warm, np.zeros(int(1.5 * sr), np.float32)]
    start = sum(p.size for p in parts) / sr
    warmup = [Utterance(lang, (parts[0].size + warm.size) / sr)]
    if LIBRIVOX.exists():
        audio, bounds = continuous_read_speech()
        ends = [start + end for _, end in bounds]
        parts.append(audio)
    else:
        ends, t = [], start
        for i, (lang, text) in enumerate(SENTENCES):
            talk, gap = speech_16k(text, lang), GAPS_S[(offset + i) % len(GAPS_S)]
            parts += [talk, np.zeros(round(gap * sr), np.float32)]
            ends.append(t + talk.size / sr)
            t += talk.size / sr + gap
    parts.append(np.zeros(2 * sr, np.float32))  # the speaker stops: time for the last result
    return to_pcm16(np.concatenate(parts), sr), warmup, ends


def sentence_lags(trace: SessionTrace, sentence_ends: list[float]) -> list[float]:
    """Per sentence: its end (client clock, when that frame was sent) → the first audio of the
    result holding it (the first result whose end_s reaches the sentence's end)."""
    client = trace.client
    assert client is not None
    log = client.ws
    results = sorted(
        (m for m in client.received.messages if m.get("type") == "result"),
        key=lambda m: m["seq"],
    )
    lags = []
    for end in sentence_ends:
        holder = next((m for m in results if m["end_s"] >= end - 0.05), None)
        if holder is None or holder["seq"] not in log.first_audio_at:
            lags.append(float("inf"))  # never answered
            continue
        lags.append((log.first_audio_at[holder["seq"]] - sent_time(trace, end)) * 1000)
    return lags


async def run_continuous(ws_url: str, n: int, clips, web_pid: int | None) -> dict:
    """N sessions of continuous speech: per-sentence lag and the web tier's CPU."""
    streams = [
        build_continuous_stream(clips, offset=i, lead_s=0.5 + STAGGER_S * i / n) for i in range(n)
    ]
    traces = [
        SessionTrace(utterances=warm + [Utterance("en", e) for e in ends], warmup=1)
        for _, warm, ends in streams
    ]
    cpu_before = proc_cpu_s(web_pid) if web_pid else None
    started = time.monotonic()
    await stream_all(ws_url, [pcm for pcm, _, _ in streams], traces)
    wall = time.monotonic() - started
    lags = [
        lag
        for trace, (_, _, ends) in zip(traces, streams, strict=True)
        for lag in sentence_lags(trace, ends)
    ]
    answered = [lag for lag in lags if lag != float("inf")]
    stream_seconds = sum(len(pcm) / (48_000 * 4) for pcm, _, _ in streams)
    report = {
        "scenario": "continuous",
        "sessions": n,
        "sentences": len(lags),
        "unanswered": len(lags) - len(answered),
        "wall_s": round(wall, 2),
        "errors": sum(len(t.client.received.errors) for t in traces if t.client),
        "sentence_lag_ms": summarise(answered),
        "results_per_session": statistics.mean(
            len([m for m in t.client.received.messages if m.get("type") == "result"])
            for t in traces
            if t.client
        ),
    }
    if web_pid:
        report["web_cpu_s_per_stream_s"] = (proc_cpu_s(web_pid) - cpu_before) / stream_seconds
        report["web_peak_rss_mb"] = proc_peak_rss_mb(web_pid)
    return report


def print_continuous(report: dict) -> None:
    lag = report["sentence_lag_ms"]
    cpu = report.get("web_cpu_s_per_stream_s")
    print(
        f"\ncontinuous speech, N={report['sessions']}: {report['sentences']} sentences, "
        f"{report['unanswered']} unanswered, {report['errors']} errors, "
        f"{report['results_per_session']:.1f} results per session; per-sentence lag (sentence "
        f"end → first audio) median {lag['median']:.0f} / p95 {lag['p95']:.0f} / max "
        f"{lag['max']:.0f} ms"
        + (f"; web CPU {cpu * 1000:.1f} ms per stream-second" if cpu is not None else "")
    )


# --- Overload as clients see it (translation/jobs/capacity.py) ------------------------------


@dataclass
class ArrivingSession:
    """One continuous talker that arrives at `arrives_at` (s after t0): admitted (its trace) or
    refused (the status and the close frame it got)."""

    pcm: bytes
    trace: SessionTrace
    ends: list[float]
    arrives_at: float
    start_frame: int | None = None  # the pacing loop's tick when it began streaming
    refused: dict | None = None
    close: tuple[int, str] | None = None
    failed: str = ""  # the connection itself failed (not a refusal): why
    server: str = ""  # behind the proxy: the web process that took it (X-Served-By)


async def arrive(ws_url: str, session: ArrivingSession, control: dict) -> None:
    """Connect; a `refused` status (then close 1013 and its reason) ends the session."""
    import websockets

    origin = ws_url.replace("ws://", "http://")
    try:
        ws = await websockets.connect(ws_url + "/ws/translate", origin=origin, max_size=2**24)
        first = json.loads(await ws.recv())
    except (OSError, websockets.WebSocketException) as exc:  # counted apart from refusals
        session.failed = f"{type(exc).__name__}: {exc}"
        return
    session.server = ws.response.headers.get("X-Served-By", "") if ws.response else ""
    if first.get("state") == "refused":
        session.refused = first
        try:
            await ws.recv()
        except websockets.ConnectionClosed as closed:
            if closed.rcvd is not None:
                session.close = (closed.rcvd.code, closed.rcvd.reason)
        return
    assert first.get("state") == "ready", first
    client = LiveClient(FirstAudioLog(ws))
    await client.send_json(control)
    await client.wait_for(lambda m: m.get("state") == "configured", 10)
    session.trace.client = client


async def run_overload(
    ws_url: str, n: int, clips, web_pid: int | None, arrival_s: float, drain_s: float
) -> dict:
    """N continuous talkers arriving one by one over `arrival_s` seconds, each streaming at
    real-time pace from ONE pacing loop once admitted. Per session: admitted or refused (status
    and close reason), the capacity statuses it was told, its utterances queued vs answered,
    and (admitted) the per-sentence lag."""
    sessions = []
    for i in range(n):
        pcm, warm, ends = build_continuous_stream(clips, offset=i)
        trace = SessionTrace(utterances=warm + [Utterance("en", e) for e in ends], warmup=1)
        sessions.append(ArrivingSession(pcm, trace, ends, arrives_at=arrival_s * i / n))
    frame = 48_000 * FRAME_MS // 1000 * 4
    load_before = os.getloadavg()
    cpu_before = proc_cpu_s(web_pid) if web_pid else None
    t0 = time.monotonic()
    arrivals: list[asyncio.Task] = []
    tick = 0
    behind_ms: list[float] = []  # how late the load generator itself sent each tick
    while True:
        delay = t0 + tick * FRAME_MS / 1000 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:  # late: let the connects and the readers run before catching up
            behind_ms.append(-delay * 1000)
            await asyncio.sleep(0)
        elapsed = tick * FRAME_MS / 1000
        while len(arrivals) < n and sessions[len(arrivals)].arrives_at <= elapsed:
            arriving = sessions[len(arrivals)]
            arrivals.append(asyncio.create_task(arrive(ws_url, arriving, {"mode": "auto"})))
        streaming = False
        for s in sessions:
            client = s.trace.client
            if client is None:
                continue
            if s.start_frame is None:
                s.start_frame, s.trace.t0 = tick, time.monotonic()
            start = (tick - s.start_frame) * frame
            if start < len(s.pcm):
                streaming = True
                await client.ws.send(s.pcm[start : start + frame])
                s.trace.frames_sent_at.append(time.monotonic())
        tick += 1
        if len(arrivals) == n and all(t.done() for t in arrivals) and not streaming:
            break
    for task in arrivals:
        task.result()  # anything but a refusal or a failed connection fails the run
    streamed = time.monotonic()

    def settled(s: ArrivingSession) -> bool:
        client = s.trace.client
        if client is None:
            return True
        queued = {m["seq"] for m in client.received.messages if m.get("state") == "queued"}
        told = {m["seq"] for m, _, _ in client.received.results}
        told |= {e["seq"] for e in client.received.errors if "seq" in e}
        return queued <= told

    while not all(settled(s) for s in sessions) and time.monotonic() - streamed < drain_s:
        await asyncio.sleep(0.2)
    drained_s = time.monotonic() - streamed
    await asyncio.sleep(1.5)  # the `clear` status after the last answer
    report = overload_report(sessions, n, arrival_s)
    report["drain_s"] = round(drained_s, 1)
    report["client_behind_ms"] = {
        "ticks_late": len(behind_ms),
        "ticks": tick,
        **summarise(behind_ms),
    }
    report["load_average"] = {"before": load_before, "after": os.getloadavg()}
    if web_pid and cpu_before is not None:
        report["web_cpu_s"] = round(proc_cpu_s(web_pid) - cpu_before, 1)
    for s in sessions:
        if s.trace.client is not None:
            await s.trace.client.close()
    return report


def overload_report(sessions: list[ArrivingSession], n: int, arrival_s: float) -> dict:
    """What the clients saw: admitted vs refused (and why), statuses, answered vs not (yet):
    an utterance queued but not answered when the run ends is `unanswered`, and
    `unanswered_untold` if its session was never told `busy` (a silent loss)."""
    admitted = [s for s in sessions if s.trace.client is not None]
    refused = [s for s in sessions if s.refused is not None]
    lags: list[float] = []
    queued_total = answered = errors = lost = lost_untold = told_busy = 0
    per_session = []
    max_lag_told = 0.0
    for s in admitted:
        client = s.trace.client
        assert client is not None
        messages = client.received.messages
        busy = [m for m in messages if m.get("state") == "busy"]
        told_busy += bool(busy)
        max_lag_told = max([max_lag_told, *(m["lag_s"] for m in busy)])
        queued = {m["seq"] for m in messages if m.get("state") == "queued"}
        results = {m["seq"] for m, _, _ in client.received.results}
        failed = {e["seq"] for e in client.received.errors if "seq" in e}
        missing = queued - results - failed
        queued_total += len(queued)
        answered += len(queued & results)
        errors += len(failed)
        lost += len(missing)
        lost_untold += len(missing) if not busy else 0
        lags += [lag for lag in sentence_lags(s.trace, s.ends)]
        per_session.append(
            {
                "arrives_at_s": round(s.arrives_at, 2),
                "admitted": True,
                "busy_statuses": len(busy),
                "max_lag_told_s": max((m["lag_s"] for m in busy), default=None),
                "clear_statuses": sum(m.get("state") == "clear" for m in messages),
                "queued": len(queued),
                "answered": len(queued & results),
                "errors": len(failed),
            }
        )
    answered_lags = [lag for lag in lags if lag != float("inf")]
    reasons: dict[str, int] = {}
    for s in refused:
        assert s.refused is not None
        key = f"{s.close[0] if s.close else 'no close'}: {s.refused['message']}"
        key = re.sub(r"\d+ s behind", "N s behind", key)
        reasons[key] = reasons.get(key, 0) + 1
        per_session.append(
            {
                "arrives_at_s": round(s.arrives_at, 2),
                "admitted": False,
                "close_code": s.close[0] if s.close else None,
                "close_reason": s.close[1] if s.close else None,
                "retry_after_s": s.refused.get("retry_after_s"),
                "lag_s": s.refused.get("lag_s"),
            }
        )
    first_refused = min((s.arrives_at for s in refused), default=None)
    servers: dict[str, int] = {}
    for s in admitted:
        servers[s.server or "direct"] = servers.get(s.server or "direct", 0) + 1
    return {
        "scenario": "overload",
        "admitted_per_server": servers,
        "sessions": n,
        "arrival_s": arrival_s,
        "admitted": len(admitted),
        "refused": len(refused),
        "connect_failed": [s.failed for s in sessions if s.failed],
        "first_refused_at_s": first_refused,
        "refusals": reasons,
        "sessions_told_busy": told_busy,
        "max_lag_told_s": max_lag_told,
        "utterances_queued": queued_total,
        "utterances_answered": answered,
        "utterances_errors": errors,
        "utterances_unanswered": lost,
        "utterances_unanswered_untold": lost_untold,
        "sentences": len(lags),
        "sentences_unanswered": len(lags) - len(answered_lags),
        "sentence_lag_ms": summarise(answered_lags),
        "per_session": sorted(per_session, key=lambda p: p["arrives_at_s"]),
    }


def print_overload(report: dict) -> None:
    lag = report["sentence_lag_ms"]
    load = report["load_average"]
    print(
        f"\noverload, N={report['sessions']} continuous talkers arriving over "
        f"{report['arrival_s']:.0f} s: {report['admitted']} admitted, {report['refused']} "
        f"refused (first at {report['first_refused_at_s']} s), "
        f"{len(report['connect_failed'])} failed to connect; {report['sessions_told_busy']} "
        f"admitted sessions told busy (max lag told {report['max_lag_told_s']} s)\n"
        f"  utterances: {report['utterances_queued']} queued, {report['utterances_answered']} "
        f"answered, {report['utterances_errors']} errors, {report['utterances_unanswered']} "
        f"unanswered when the run ended ({report['utterances_unanswered_untold']} in sessions "
        f"never told busy); waited {report['drain_s']} s after the last frame\n"
        f"  admitted sessions' per-sentence lag (end → first audio): median "
        f"{lag['median']:.0f} / p95 {lag['p95']:.0f} / max {lag['max']:.0f} ms, "
        f"{report['sentences_unanswered']} of {report['sentences']} sentences unanswered\n"
        f"  load average before {load['before'][0]:.1f}, after {load['after'][0]:.1f}; the "
        f"load generator was late on {report['client_behind_ms']['ticks_late']} of "
        f"{report['client_behind_ms']['ticks']} ticks (max "
        f"{report['client_behind_ms']['max']:.0f} ms)"
    )
    for reason, count in report["refusals"].items():
        print(f"  refused ×{count}: {reason}")
    print(f"  admitted per web process: {report['admitted_per_server']}")


async def run_level(
    ws_url: str, n: int, clips, utterances: int, warmup: int, web_pid: int | None
) -> dict:
    # Sessions start speaking at staggered moments over STAGGER_S, as people do; the same
    # moment for all would be a synchronised burst no real audience produces.
    streams = [
        build_stream(clips, utterances + warmup, offset=i, lead_s=0.5 + STAGGER_S * i / n)
        for i in range(n)
    ]
    traces = [SessionTrace(utterances=u, warmup=warmup) for _, u in streams]
    cpu_before = proc_cpu_s(web_pid) if web_pid else None
    started = time.monotonic()
    await stream_all(ws_url, [pcm for pcm, _ in streams], traces)
    wall = time.monotonic() - started
    columns, counts = measure(traces)
    stream_seconds = sum(len(pcm) / (48_000 * 4) for pcm, _ in streams)
    report = {
        "sessions": n,
        "utterances_per_session": utterances,
        "warmup_per_session": warmup,
        "wall_s": round(wall, 2),
        "counts": counts,
        "ms": {name: summarise(values) for name, values in columns.items()},
    }
    if web_pid:
        report["web_cpu_s_per_stream_s"] = (proc_cpu_s(web_pid) - cpu_before) / stream_seconds
        report["web_peak_rss_mb"] = proc_peak_rss_mb(web_pid)
    return report


def print_table(report: dict) -> None:
    c = report["counts"]
    print(
        f"\nN={report['sessions']}: {c['answered']}/{c['spoken']} answered, "
        f"{c['errors']} errors, {c['out_of_order']} sessions out of order, "
        f"wall {report['wall_s']} s"
        + (
            f", web CPU {report['web_cpu_s_per_stream_s'] * 1000:.1f} ms per stream-second, "
            f"peak RSS {report['web_peak_rss_mb']:.0f} MB"
            if "web_cpu_s_per_stream_s" in report
            else ""
        )
    )
    print(f"{'component (ms)':<16}{'median':>10}{'p95':>10}{'max':>10}")
    for name, stats in report["ms"].items():
        print(f"{name:<16}{stats['median']:>10.1f}{stats['p95']:>10.1f}{stats['max']:>10.1f}")


def start_own_stack(engines: str, workers: int, torch_threads: int, extra_env: dict):
    from tests.doubles import DOUBLES_ENV
    from tests.services import fresh_postgres_database, fresh_redis_database
    from tests.stack import NO_CLIENT_LIMITS, start_stack

    if engines == "tiny":
        from tests.models_fixtures import prepare_model_env

        env = prepare_model_env(ROOT / "var" / "bench-models")
    else:
        env = dict(DOUBLES_ENV)
    env.update(NO_CLIENT_LIMITS)
    if torch_threads:
        env["TORCH_NUM_THREADS"] = str(torch_threads)
    env.update(extra_env)
    redis_url = fresh_redis_database(11)
    stack = start_stack(
        Path(tempfile.mkdtemp(prefix="rutrans-bench-")),
        database_url=fresh_postgres_database("rutrans_bench"),
        redis_url=redis_url,
        extra_env=env,
        functional=False,
    )
    for i in range(1, workers):
        stack.start_worker(f"worker{i}")
    return stack


# --- Endpointing on continuous speech (offline: the segmenter alone, no stack) ------------------

# Sentences with a clause pause inside (inserted at the comma): (lang, before, after).
CLAUSES = [
    ("en", "When the rain finally stopped,", "we walked home through the old park."),
    ("ru", "Когда дождь наконец закончился,", "мы пошли домой через старый парк."),
    ("en", "If you have any questions about the project,", "please write to me tomorrow."),
    ("ru", "Если у вас есть вопросы по проекту,", "пожалуйста, напишите мне завтра."),
    ("en", "The train was late again this morning,", "so I missed the first meeting."),
    ("ru", "Поезд сегодня утром снова опоздал,", "поэтому я пропустил первую встречу."),
]
MID_PAUSES_S = (0.25, 0.3, 0.35, 0.4, 0.45)
GAPS_S = (0.2, 0.3, 0.4, 0.5, 0.6)
CUT_WITHIN_S = 0.4


@dataclass
class Script:
    """A continuous stream (16 kHz) and where its sentence ends and mid-sentence pauses lie."""

    name: str
    audio: np.ndarray
    sentence_ends: list[float]
    mid_pauses: list[tuple[float, float]]


def continuous_scripts() -> list[Script]:
    """espeak en and ru sentences, each with a 0.25-0.45 s clause pause, 0.2-0.6 s gaps; the
    LibriVox clips back to back (their own gaps) as read, and again with a 0.3 s pause
    inserted at each sentence's quietest word boundary mid-sentence."""
    sr = 16_000
    scripts = []
    for language in ("en", "ru"):
        parts, ends, mids, t = [np.zeros(sr // 2, np.float32)], [], [], 0.5
        sentences = [c for c in CLAUSES if c[0] == language] * 3
        for i, (lang, before, after) in enumerate(sentences):
            head, tail = speech_16k(before, lang), speech_16k(after, lang)
            pause, gap = MID_PAUSES_S[i % len(MID_PAUSES_S)], GAPS_S[i % len(GAPS_S)]
            mids.append((t + head.size / sr, t + head.size / sr + pause))
            t += (head.size + tail.size) / sr + pause
            ends.append(t)
            parts += [head, np.zeros(round(pause * sr), np.float32), tail]
            parts.append(np.zeros(round(gap * sr), np.float32))
            t += gap
        parts.append(np.zeros(2 * sr, np.float32))
        scripts.append(Script(f"espeak {language}", np.concatenate(parts), ends, mids))

    if LIBRIVOX.exists():
        audio, bounds = continuous_read_speech()
        parts, ends, mids, position, inserted = [], [], [], 0, 0.0
        for start, end in bounds:
            a, b = round(start * sr), round(end * sr)
            # The quietest 40 ms in the sentence's middle third: a word boundary.
            third = (b - a) // 3
            rms = np.sqrt(
                np.convolve(audio[a + third : b - third] ** 2, np.ones(640) / 640, "valid")
            )
            split = a + third + int(np.argmin(rms)) + 320
            parts += [audio[position:split], np.zeros(round(0.3 * sr), np.float32)]
            mids.append((split / sr + inserted, split / sr + inserted + 0.3))
            inserted += 0.3
            ends.append(end + inserted)
            position = split
        parts += [audio[position:], np.zeros(2 * sr, np.float32)]
        scripts.append(Script("LibriVox read", np.concatenate(parts), ends, mids))
        scripts.append(
            Script(
                "LibriVox as read",
                np.concatenate([audio, np.zeros(2 * sr)]).astype(np.float32),
                [e for _, e in bounds],
                [],
            )
        )
    return scripts


class _StreamFuture(Future):
    """A finished answer that the segmenter sees only once the stream has advanced by the
    call's duration, as with the threaded judge in a live session."""

    def __init__(self, value: float, ready_at: float, clock) -> None:
        super().__init__()
        self.set_result(value)
        self._ready_at, self._clock = ready_at, clock

    def done(self) -> bool:
        return self._clock() >= self._ready_at


class MeasuredJudge:
    """Asks the real model synchronously, timing each call (CPU of this thread, wall)."""

    def __init__(self, model) -> None:
        self.model = model
        self.clock = lambda: 0.0
        self.cpu_s: list[float] = []
        self.wall_s: list[float] = []

    def ask(self, audio16k: np.ndarray) -> Future:
        cpu, wall = time.thread_time(), time.perf_counter()
        probability = self.model.completion_probability(audio16k)
        self.cpu_s.append(time.thread_time() - cpu)
        self.wall_s.append(time.perf_counter() - wall)
        return _StreamFuture(probability, self.clock() + self.wall_s[-1], self.clock)


def evaluate_endpointing(script: Script, segmenter, judge: MeasuredJudge | None) -> dict:
    """Feed the script in 20 ms chunks; score the cuts against the sentence ends and pauses."""
    if judge is not None:
        judge.clock = lambda: segmenter.stream_time_s
    chunk = 320
    cuts: list[tuple[float, float]] = []  # (when cut, utterance end) in stream seconds
    vad_s = 0.0
    for i in range(0, script.audio.size, chunk):
        started = time.thread_time()
        done = segmenter.feed(script.audio[i : i + chunk])
        vad_s += time.thread_time() - started
        cuts += [(segmenter.stream_time_s, u.end_s) for u in done]
    lags = []
    for end in script.sentence_ends:
        after = [cut_at for cut_at, u_end in cuts if u_end >= end - 0.05]
        lags.append((after[0] - end) if after else float("inf"))
    wrong = sum(
        any(a - 0.05 <= u_end <= b + 0.15 for _, u_end in cuts) for a, b in script.mid_pauses
    )
    seconds = script.audio.size / 16_000
    finite = [lag for lag in lags if lag != float("inf")]
    report = {
        "sentences": len(lags),
        "ends_cut_within_400ms": sum(lag <= CUT_WITHIN_S for lag in lags) / len(lags),
        "lag_ms": {
            "p50": 1000 * float(np.percentile(finite, 50)) if finite else None,
            "p95": 1000 * float(np.percentile(finite, 95)) if finite else None,
        },
        "mid_pauses": len(script.mid_pauses),
        "mid_pauses_cut": wrong / len(script.mid_pauses) if script.mid_pauses else None,
        "utterances": len(cuts),
        "segmenter_cpu_ms_per_stream_s": 1000 * vad_s / seconds,
    }
    if judge is not None:
        cpu = sum(judge.cpu_s)
        report["turn_calls"] = len(judge.cpu_s)
        report["turn_cpu_ms_per_call"] = 1000 * cpu / max(1, len(judge.cpu_s))
        report["turn_cpu_ms_per_stream_s"] = 1000 * cpu / seconds
        # The model's thread is inside the feed loop here: take it out of the segmenter's cost.
        report["segmenter_cpu_ms_per_stream_s"] = 1000 * (vad_s - cpu) / seconds
    return report


def endpointing_reports(model_path: Path, thresholds: list[float]) -> list[dict]:
    """The plain 900 ms rule, the shrinking-pause rule (the default), and that rule plus the
    end-of-turn model at each threshold, on every continuous script."""
    from translation.audio.segmenter import UtteranceSegmenter
    from translation.audio.turn import SmartTurn
    from translation.audio.vad import SileroVad

    model = SmartTurn(model_path) if model_path.is_file() else None
    if model is None:
        print(f"(no end-of-turn model at {model_path}: run `make turn-model`)")
    vad = SileroVad()
    configs: list[tuple[str, dict, float | None]] = [
        ("silence 900 ms", {"min_silence_ms": 900}, None),
        ("shrinking pause", {}, None),
    ]
    if model is not None:
        configs += [(f"+ turn model >= {t}", {}, t) for t in thresholds]
    reports = []
    for script in continuous_scripts():
        for name, options, threshold in configs:
            vad.reset()
            judge = MeasuredJudge(model) if threshold is not None else None
            segmenter = UtteranceSegmenter(
                vad=vad, turn=judge, turn_threshold=threshold or 0.5, **options
            )
            report = evaluate_endpointing(script, segmenter, judge)
            reports.append({"script": script.name, "rule": name, **report})
    return reports


def print_endpointing(reports: list[dict]) -> None:
    print(
        f"\n{'script':<18}{'rule':<22}{'ends<=400ms':>12}{'lag p50':>9}{'p95':>7}"
        f"{'mid cut':>9}{'utts':>6}{'turn ms/call':>14}{'turn ms/s':>11}{'seg ms/s':>10}"
    )
    for r in reports:
        mid = "-" if r["mid_pauses_cut"] is None else f"{r['mid_pauses_cut']:.0%}"
        p50, p95 = r["lag_ms"]["p50"], r["lag_ms"]["p95"]
        print(
            f"{r['script']:<18}{r['rule']:<22}{r['ends_cut_within_400ms']:>12.0%}"
            f"{p50:>9.0f}{p95:>7.0f}{mid:>9}{r['utterances']:>6}"
            f"{r.get('turn_cpu_ms_per_call', 0):>14.1f}"
            f"{r.get('turn_cpu_ms_per_stream_s', 0):>11.1f}"
            f"{r['segmenter_cpu_ms_per_stream_s']:>10.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", default="1,5,20,50", help="comma-separated N values")
    parser.add_argument("--utterances", type=int, default=4, help="measured per session")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured first utterances")
    parser.add_argument("--url", help="ws://host:port of a running stack (default: start one)")
    parser.add_argument("--web-pid", type=int, help="Daphne's pid, for CPU/RSS figures")
    parser.add_argument("--engines", choices=("tiny", "doubles"), default="tiny")
    parser.add_argument("--workers", type=int, default=1, help="Celery workers to start")
    parser.add_argument("--torch-threads", type=int, default=0, help="TORCH_NUM_THREADS")
    parser.add_argument("--json", type=Path, help="write the reports here")
    parser.add_argument(
        "--endpointing",
        action="store_true",
        help="only the offline endpointing figures (segmenter and end-of-turn model, no stack)",
    )
    parser.add_argument(
        "--turn-model", type=Path, default=ROOT / "var" / "models" / "smart-turn-v3.2-cpu.onnx"
    )
    parser.add_argument("--thresholds", default="0.5,0.8", help="turn model thresholds")
    parser.add_argument(
        "--scenario",
        choices=("pauses", "continuous", "overload"),
        default="pauses",
        help="pauses: sentences with 1.4-2.0 s pauses; continuous: no pause over 0.6 s "
        "(per-sentence lag), then the offline endpointing figures; overload: continuous "
        "talkers arriving over --arrival-s, admitted or refused (statuses, close reasons)",
    )
    parser.add_argument(
        "--arrival-s", type=float, default=32.0, help="overload: sessions arrive over this long"
    )
    parser.add_argument(
        "--drain-s",
        type=float,
        default=120.0,
        help="overload: wait at most this long after the last frame for the answers",
    )
    parser.add_argument(
        "--turn", action="store_true", help="the started stack uses the end-of-turn model"
    )
    args = parser.parse_args()

    if args.endpointing:
        thresholds = [float(x) for x in args.thresholds.split(",")]
        reports = endpointing_reports(args.turn_model, thresholds)
        print_endpointing(reports)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(reports, indent=2))
        return

    clips = corpus()
    stack = None
    ws_url, web_pid = args.url, args.web_pid
    if ws_url is None:
        turn_env = {}
        if args.turn:
            turn_env = {"TURN_DETECTION": "true", "TURN_MODEL_PATH": str(args.turn_model)}
        stack = start_own_stack(args.engines, args.workers, args.torch_threads, turn_env)
        ws_url, web_pid = stack.ws_url, stack.procs["daphne"].pid
    reports = []
    try:
        for n in (int(x) for x in args.sessions.split(",")):
            if args.scenario == "continuous":
                report = asyncio.run(run_continuous(ws_url, n, clips, web_pid))
                print_continuous(report)
            elif args.scenario == "overload":
                report = asyncio.run(
                    run_overload(ws_url, n, clips, web_pid, args.arrival_s, args.drain_s)
                )
                print_overload(report)
            else:
                report = asyncio.run(
                    run_level(ws_url, n, clips, args.utterances, args.warmup, web_pid)
                )
                print_table(report)
            reports.append(report)
    finally:
        if stack is not None:
            stack.stop_all()
    if args.scenario == "continuous":
        endpointing = endpointing_reports(
            args.turn_model, [float(x) for x in args.thresholds.split(",")]
        )
        print_endpointing(endpointing)
        reports.append({"endpointing": endpointing})
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(reports, indent=2))


if __name__ == "__main__":
    main()
