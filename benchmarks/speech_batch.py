"""The speech stage's figures on this CPU: Piper's batch curve, and what the worker's speech
stage (workers/speech_stage.py) carries in talkers.

    .venv/bin/python benchmarks/speech_batch.py [--threads 2] [--sizes 1,2,4,8,16]
        [--repeats 1] [--sentences 8] [--speech-threads 1,2] [--work-dir DIR]

The voice is the full-size random-weight VITS of a medium Piper voice's shape
(benchmarks/piper_vits.py, ~15.4 M parameters), exported with a batch axis
(`dynamic_batch=True`) and loaded by the production loader (PiperSynthesizer, onnxruntime
with `--threads` intra-op threads).

1. Batch curve: the sentences of benchmarks/tts_engines.py (Russian, 2-13 words, ~4 s of
   audio each), phonemised once by Piper's espeak-ng bridge; B of them padded to one
   `[B, n]` call of the model (the model only: no espeak, no resampling), every size over
   the same mix (at least one pass over the sentences). Per batch size: the mean time of a
   call, sentences per second, and audio seconds per second (each row's own
   audio, as a B = 1 call gives it, not the padding).
2. The speech stage: `--sentences` first sentences of as many utterances submitted at once
   to a Batcher's `speak` (the production path: normalisation, espeak-ng, the model,
   resampling to 24 kHz) with SPEECH_THREADS = each of `--speech-threads`; the wall time
   per sentence and the talkers it carries, assuming a continuous talker needs one sentence
   per ~4 s of speech (SPEECH_S_PER_SENTENCE: the sentences here average ~4 s; a talker whose
   sentences are shorter needs them more often, in proportion).

Random weights make noise, not speech, but the graph and the audio length per phoneme are a
real voice's, so the time is. Only ratios within one run compare well on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.tts_engines import DENIS, SENTENCES

KEY = "ru_RU-denis-medium"
SPEECH_S_PER_SENTENCE = 4.0


def build_voice(work: Path) -> Path:
    from benchmarks.piper_vits import build_medium_voice
    from tests.models_fixtures import piper_voice_config

    voice_dir = work / "piper-medium-batch"
    model = voice_dir / f"{KEY}.onnx"
    if not model.is_file():
        voice_dir.mkdir(parents=True, exist_ok=True)
        build_medium_voice(model, dynamic_batch=True)
        config = json.dumps(piper_voice_config("ru"), ensure_ascii=False)
        (voice_dir / f"{KEY}.onnx.json").write_text(config)
    return voice_dir


def batch_curve(voice, sizes: list[int], repeats: int) -> list[dict[str, float]]:
    import numpy as np

    from workers.engines.textnorm import normalize_for_speech

    rows = []
    for sentence in SENTENCES:
        phonemes = [
            p for part in voice.phonemize(normalize_for_speech(sentence, "ru")) for p in part
        ]
        rows.append(voice.phonemes_to_ids(phonemes))
    scales = np.array([0.667, 1.0, 0.8], dtype=np.float32)
    rate = voice.config.sample_rate

    def run(batch: list[list[int]]) -> np.ndarray:
        width = max(len(r) for r in batch)
        ids = np.zeros((len(batch), width), dtype=np.int64)  # 0: Piper's pad id
        for i, r in enumerate(batch):
            ids[i, : len(r)] = r
        lengths = np.array([len(r) for r in batch], dtype=np.int64)
        return voice.session.run(None, {"input": ids, "input_lengths": lengths, "scales": scales})[
            0
        ]

    solo_s = [run([r]).shape[-1] / rate for r in rows]  # also the warm-up
    plans = {}
    for size in sizes:
        # Every size sees the same mix: batches of `size` consecutive sentences (cycling), at
        # least one pass over all of them.
        count = max(size, len(rows))
        order = [i % len(rows) for i in range(-(-count // size) * size)]
        plans[size] = (order, [order[i : i + size] for i in range(0, len(order), size)])
        run([rows[i] for i in plans[size][1][0]])  # warm-up at this shape (not timed)
    times: dict[int, list[float]] = {size: [] for size in sizes}
    padded = dict.fromkeys(sizes, 0.0)
    loads = []
    for _ in range(repeats):  # the sizes take turns, so a shared machine's load hits all alike
        for size in sizes:
            for batch in plans[size][1]:
                started = time.perf_counter()
                out = run([rows[i] for i in batch])
                times[size].append(time.perf_counter() - started)
                padded[size] += out.shape[0] * out.shape[-1] / rate
        loads.append(os.getloadavg()[0])
    results = []
    for size in sizes:
        order = plans[size][0]
        audio_s = repeats * sum(solo_s[i] for i in order)
        spent = sum(times[size])
        results.append(
            {
                "batch": size,
                "ms": round(1000.0 * spent / len(times[size]), 1),
                "sentences_per_s": round(repeats * len(order) / spent, 3),
                "audio_s_per_s": round(audio_s / spent, 3),
                "padded_share": round(1 - audio_s / padded[size], 3),
            }
        )
        print(json.dumps(results[-1]), flush=True)
    print(f"load average during the curve: {min(loads):.1f}-{max(loads):.1f}", flush=True)
    base = results[0]["sentences_per_s"]
    for r in results:
        r["x_batch_1"] = round(r["sentences_per_s"] / base, 2)
    return results


def stage(synthesizer, sentences: int, threads: int) -> dict[str, float]:
    from workers.batch_jobs import BatchLimits
    from workers.batcher import Batcher

    reports = []
    batcher = Batcher(
        translator=lambda: None,  # type: ignore[arg-type,return-value]  # no translation here
        synthesizer=lambda: synthesizer,
        limits=BatchLimits(max_items=8, wait_s=0.0, max_audio_s=120.0),
        on_batch=reports.append,
        speech_threads=threads,
    )
    batcher.speak(SENTENCES[1], lang="ru", voice=DENIS)  # warm-up
    reports.clear()
    texts = [SENTENCES[i % len(SENTENCES)] for i in range(sentences)]
    started = time.perf_counter()
    with ThreadPoolExecutor(sentences) as pool:  # each the first sentence of its utterance
        spoken = list(pool.map(lambda t: batcher.speak(t, lang="ru", voice=DENIS), texts))
    wall = time.perf_counter() - started
    per_sentence = wall / sentences
    audio = sum(len(s.audio) / s.sample_rate for s in spoken) / sentences
    return {
        "speech_threads": threads,
        "sentences": sentences,
        "wall_s": round(wall, 2),
        "s_per_sentence": round(per_sentence, 3),
        "call_s_median": round(statistics.median(r.busy_s for r in reports), 3),
        "audio_s_per_sentence": round(audio, 2),
        "talkers": round(SPEECH_S_PER_SENTENCE / per_sentence, 1),
        "load": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    parser.add_argument("--sizes", default="1,2,4,8,16")
    parser.add_argument("--repeats", type=int, default=1, help="calls per batch size")
    parser.add_argument("--sentences", type=int, default=8, help="sentences for the stage")
    parser.add_argument("--speech-threads", default="1,2")
    parser.add_argument("--work-dir", help="keep the built voice here (reused when present)")
    args = parser.parse_args()

    from workers.engines.piper import PiperSynthesizer, piper_key

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="speech-batch-"))
    synthesizer = PiperSynthesizer(build_voice(work), threads=args.threads, device="cpu")
    voice = synthesizer._voice(piper_key(DENIS))
    print(f"cpu cores {os.cpu_count()}, onnxruntime threads {args.threads}", flush=True)
    curve = batch_curve(voice, [int(s) for s in args.sizes.split(",")], args.repeats)
    stages = [stage(synthesizer, args.sentences, int(t)) for t in args.speech_threads.split(",")]
    print(f"{'batch':>5} {'ms':>9} {'sent/s':>8} {'audio s/s':>9} {'x b1':>5} {'padding':>7}")
    for r in curve:
        print(
            f"{r['batch']:>5} {r['ms']:>9.1f} {r['sentences_per_s']:>8.3f} "
            f"{r['audio_s_per_s']:>9.2f} {r['x_batch_1']:>5.2f} {r['padded_share']:>7.1%}"
        )
    print(f"speech stage ({SPEECH_S_PER_SENTENCE:.0f} s of speech per sentence per talker):")
    for s in stages:
        print(
            f"  SPEECH_THREADS={s['speech_threads']}: {s['s_per_sentence']:.2f} s per sentence "
            f"(one call {s['call_s_median']:.2f} s, {s['audio_s_per_sentence']:.2f} s of audio) "
            f"-> {s['talkers']:.1f} talkers"
        )
    print(json.dumps({"threads": args.threads, "curve": curve, "stage": stages}))


if __name__ == "__main__":
    main()
