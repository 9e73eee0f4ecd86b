"""The web process's CPU per stream-second of live audio, on the real Daphne process: N
sessions stream speech with pauses at real-time pace for D seconds, in each frame format a
page can send, and the process's CPU time (utime + stime from /proc) over the run is divided
by N × D. The worker runs the test doubles, so what is measured is ingest: WebSocket frames,
validation and resampling, the VAD, cutting and queueing utterances, pushing results.

    .venv/bin/python benchmarks/web_ingest.py [--sessions 32] [--seconds 30]
        [--formats 48000x2@20,16000x1@20,16000x1@64] [--profile DIR]

A format is RATExCHANNELS@FRAME_MS: 48000x2@20 is what the page sent before (48 kHz stereo,
20 ms frames, 50 a second); 16000x1@64 is what it sends now (16 kHz mono, 64 ms frames: two
VAD windows each). With --profile, py-spy samples the process during each run (a flame graph
SVG per format, and the top functions printed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from live_latency import corpus, proc_cpu_s, start_own_stack  # noqa: E402

from tests.wsclient import LiveClient, to_pcm16  # noqa: E402

PAUSE_S = 0.9


@dataclass(frozen=True)
class Format:
    rate: int
    channels: int
    frame_ms: int

    @classmethod
    def parse(cls, text: str) -> Format:
        rate_channels, frame_ms = text.split("@")
        rate, channels = rate_channels.split("x")
        return cls(int(rate), int(channels), int(frame_ms))

    def __str__(self) -> str:
        return f"{self.rate}x{self.channels}@{self.frame_ms}"

    @property
    def frame_bytes(self) -> int:
        return self.rate * self.frame_ms // 1000 * 2 * self.channels


def talk(clips, seconds: float, offset: int, fmt: Format) -> bytes:
    """Speech clips with pauses between them, `seconds` long, as int16 PCM in `fmt`."""
    parts, total, i = [], 0, offset
    while total < seconds * 16_000:
        clip = clips[i % len(clips)][1]
        parts += [clip, np.zeros(int(PAUSE_S * 16_000), dtype=np.float32)]
        total += len(clip) + int(PAUSE_S * 16_000)
        i += 1
    audio = np.concatenate(parts)[: int(seconds * 16_000)]
    return to_pcm16(audio, 16_000, out_sr=fmt.rate, channels=fmt.channels)


async def run(ws_url: str, pid: int, n: int, seconds: float, fmt: Format, clips) -> dict:
    control = {"mode": "en->ru", "sample_rate": fmt.rate, "channels": fmt.channels}
    clients = [await LiveClient.connect(ws_url, control) for _ in range(n)]
    streams = [talk(clips, seconds, i, fmt) for i in range(n)]
    frames = len(streams[0]) // fmt.frame_bytes
    await asyncio.sleep(1.0)
    cpu_before, t0 = proc_cpu_s(pid), time.monotonic()
    late = 0
    for tick in range(frames):
        delay = t0 + tick * fmt.frame_ms / 1000 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            late += 1
        start = tick * fmt.frame_bytes
        for client, pcm in zip(clients, streams, strict=True):
            await client.ws.send(pcm[start : start + fmt.frame_bytes])
    streamed_s = time.monotonic() - t0
    cpu_s = proc_cpu_s(pid) - cpu_before
    results = sum(len(c.received.results) for c in clients)
    for client in clients:
        await client.close()
    stream_s = n * frames * fmt.frame_ms / 1000
    return {
        "format": str(fmt),
        "sessions": n,
        "frames_per_s_per_session": round(1000 / fmt.frame_ms, 1),
        "stream_s": round(stream_s, 1),
        "wall_s": round(streamed_s, 1),
        "web_cpu_s": round(cpu_s, 2),
        "ms_cpu_per_stream_s": round(cpu_s * 1000 / stream_s, 2),
        "web_cores": round(cpu_s / streamed_s, 3),
        "results": results,
        "generator_late_ticks": late,
        "ticks": frames,
    }


def profile(pid: int, seconds: float, out: Path) -> subprocess.Popen:
    """py-spy sampling the process's threads (collapsed stacks, for `where_it_goes`)."""
    py_spy = Path(sys.executable).parent / "py-spy"
    command = [str(py_spy), "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "100"]
    command += ["-f", "raw", "-o", str(out), "--nonblocking"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# Where a sample's time goes, by the first of these found in its stack (leaf first).
PARTS = [
    ("VAD (Silero, ONNX)", ("translation/audio/vad", "onnxruntime")),
    ("resample + validate (pcm)", ("translation/audio/pcm", "soxr")),
    ("segmenter", ("translation/audio/segmenter",)),
    ("session / consumer logic", ("translation/streaming",)),
    ("channel layer, Redis", ("channels_redis", "redis/")),
    ("Channels / asgiref dispatch", ("channels/", "asgiref/")),
    ("WebSocket framing (autobahn)", ("autobahn/",)),
    ("Twisted / asyncio loop", ("twisted/", "asyncio/", "selectors")),
]


def where_it_goes(raw: Path) -> dict[str, float]:
    """Share of the busy samples (%) in each part, from py-spy's collapsed stacks."""
    totals: dict[str, int] = {}
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")[::-1]  # leaf first
        if any(k in frames[0] for k in ("select", "epoll", "poll (", "wait (", "acquire")):
            part = "idle (waiting)"
        else:
            part = next(
                (n for frame in frames for n, keys in PARTS if any(k in frame for k in keys)),
                "other",
            )
        totals[part] = totals.get(part, 0) + int(count)
    busy = sum(v for k, v in totals.items() if k != "idle (waiting)") or 1
    return {
        k: round(100 * v / busy, 1)
        for k, v in sorted(totals.items(), key=lambda kv: -kv[1])
        if k != "idle (waiting)"
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--formats", default="48000x2@20,16000x1@20,16000x1@64")
    parser.add_argument("--profile", type=Path, help="py-spy flame graphs here")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    clips = corpus()
    stack = start_own_stack("doubles", 1, 0, {"ADMISSION_MAX_LOOP_CPU": "1000"})
    pid = stack.procs["daphne"].pid
    reports = []
    try:
        for fmt in (Format.parse(f) for f in args.formats.split(",")):
            spy = None
            if args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
                spy = profile(pid, args.seconds, args.profile / f"web-{fmt}.txt")
            report = asyncio.run(run(stack.ws_url, pid, args.sessions, args.seconds, fmt, clips))
            if spy is not None and args.profile:
                spy.wait(timeout=args.seconds + 60)
                report["cpu_share_pct"] = where_it_goes(args.profile / f"web-{fmt}.txt")
            reports.append(report)
            print(
                f"{report['format']:>12}: {report['ms_cpu_per_stream_s']:.2f} ms CPU per "
                f"stream-second ({report['web_cores']:.2f} of a core for {args.sessions} "
                f"sessions, {report['frames_per_s_per_session']:.0f} frames/s each; "
                f"{report['results']} results; load generator late on "
                f"{report['generator_late_ticks']} of {report['ticks']} ticks)",
                flush=True,
            )
            for part, pct in report.get("cpu_share_pct", {}).items():
                print(f"    {pct:5.1f} %  {part}")
    finally:
        stack.stop_all()
    print(f"load average: {os.getloadavg()}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(reports, indent=2))


if __name__ == "__main__":
    main()
