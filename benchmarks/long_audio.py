"""Long translations: time to first audio, and message sizes, as the utterance grows (a script,
not a test).

Starts Daphne + a Celery worker on Redis + PostgreSQL (tests/stack.py) at TTS_SAMPLE_RATE
(default 48000). For each utterance length it streams that much continuous espeak speech, flushes,
and times, from the flush and from the text (`result`): the first WAV piece and the `audio_end`
(all of the audio: what a single WAV at the end would have cost); the number of pieces and the
largest message. (Flush → text grows with the length because the frames are sent faster than
real time and the web tier is still ingesting them at the flush.) The voice is the real Silero
engine on the tiny test model (40 ms per character) made to take --tts-delay-s per sentence like
a real model; the translator is a double whose Russian text grows with the audio
(--chars-per-s), since the tiny Canary's random output is short.

    .venv/bin/python benchmarks/long_audio.py --lengths 5 15 30 60 --json var/long_audio.json
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.speech import speech_16k  # noqa: E402
from tests.wsclient import LiveClient, to_pcm16  # noqa: E402

MONOLOGUE = (
    "and so we walked along the river for a long time looking at the boats and talking about "
    "the books we had read during the winter and the people we had met in the city "
)


def continuous_speech(seconds: float) -> np.ndarray:
    once = speech_16k(MONOLOGUE * 3, "en")
    audio = np.tile(once, int(np.ceil(seconds * 16_000 / len(once))))
    return np.ascontiguousarray(audio[: int(seconds * 16_000)])


async def measure(ws_url: str, seconds: float) -> dict:
    client = await LiveClient.connect(ws_url, {"mode": "en->ru"})
    await client.stream(to_pcm16(continuous_speech(seconds), 16_000), realtime=False)
    await client.flush()
    flushed = time.monotonic()
    [(result, _, first_audio_at)] = await client.wait_results(1, 60 + 4 * seconds)
    end = client.received.ends[result["seq"]]
    pieces = client.received.pieces[result["seq"]]
    await client.close()
    return {
        "utterance_s": round(result["timings"]["audio_s"], 1),
        "flush_to_text_ms": round((result["_received_at"] - flushed) * 1000),
        "flush_to_first_audio_ms": round((first_audio_at - flushed) * 1000),
        "flush_to_audio_end_ms": round((end["_received_at"] - flushed) * 1000),
        # From the text to the audio: one sentence's synthesis, whatever the length, versus
        # all of them (what one WAV at the end would wait for).
        "text_to_first_audio_ms": round((first_audio_at - result["_received_at"]) * 1000),
        "text_to_audio_end_ms": round((end["_received_at"] - result["_received_at"]) * 1000),
        "pieces": len(pieces),
        "speech_s": round(sum(sf.info(io.BytesIO(f)).duration for f, _ in pieces), 1),
        "largest_message_bytes": client.received.max_message_bytes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lengths", type=float, nargs="+", default=[5, 15, 30, 60])
    parser.add_argument("--tts-rate", type=int, default=48_000)
    parser.add_argument("--tts-delay-s", type=float, default=0.3)
    parser.add_argument("--chars-per-s", type=float, default=20.0)
    parser.add_argument("--redis-db", type=int, default=11)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from tests.models_fixtures import prepare_model_env
    from tests.stack import NO_CLIENT_LIMITS, real_stack

    env = {
        **prepare_model_env(ROOT / "var" / "bench-models"),
        "RUTRANS_TRANSLATOR": "tests.doubles.ProportionalTranslator",
        "RUTRANS_SYNTHESIZER": "tests.doubles.PacedSynthesizer",
        "RUTRANS_TEST_TTS_DELAY_S": str(args.tts_delay_s),
        "RUTRANS_TEST_CHARS_PER_S": str(args.chars_per_s),
        "TTS_SAMPLE_RATE": str(args.tts_rate),
        "UTTERANCE_MAX_S": str(max(args.lengths) + 30),
    }
    rows = []
    with tempfile.TemporaryDirectory() as data_dir:
        with real_stack(
            Path(data_dir),
            name="rutrans_bench_long",
            redis_db=args.redis_db,
            extra_env={**NO_CLIENT_LIMITS, **env},
        ) as stack:
            asyncio.run(measure(stack.ws_url, 3.0))  # warm-up
            for seconds in args.lengths:
                row = asyncio.run(measure(stack.ws_url, seconds))
                rows.append(row)
                print(json.dumps(row))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        report = {"args": {**vars(args), "json": str(args.json)}, "rows": rows}
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
