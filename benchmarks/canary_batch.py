"""Canary batch curve: throughput (audio seconds per wall second) and per-item latency of
`CanaryTranslator.translate_batch` at batch 1, 2, 4, 8, 16, 32 (a script, not a test).

Each batch mixes directions (en->ru / ru->en, translation + transcript each) and lengths
(2-5 s, as live utterances are), so the encoder pads as it does in the worker. Random weights
never emit end-of-text, so every row generates exactly `--tokens` tokens (a translation of a
3-5 s utterance is ~15-30 tokens). Every item of a batch waits for the whole batch: its
latency is the batch's wall time.

    .venv/bin/python benchmarks/canary_batch.py --model tiny                     # ~1 min
    .venv/bin/python benchmarks/canary_batch.py --model full --sizes 1,2,4,8 --repeats 1

`--model full` builds canary-1b-v2's architecture with random weights (about 1 B parameters,
4 GB of RAM; `benchmarks/canary_full_size.py`). Also imported by `gpu_smoke.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from canary_full_size import SAMPLE_RATE, build_translator, synchronize  # noqa: E402

DIRECTIONS = [("en", "ru"), ("ru", "en")]
LENGTHS_S = (3.0, 2.0, 4.5, 2.5, 5.0, 3.5)  # cycled through a batch


def utterances(batch: int):
    """`batch` requests of speech-like noise, mixed lengths and directions."""
    from workers.engines.base import TranslationRequest

    rng = np.random.default_rng(batch)
    requests = []
    for i in range(batch):
        seconds = LENGTHS_S[i % len(LENGTHS_S)]
        audio = (0.1 * rng.standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)
        src, tgt = DIRECTIONS[i % len(DIRECTIONS)]
        requests.append(TranslationRequest(audio, src, tgt))
    return requests


def time_batch(translator, requests, repeats: int) -> float:
    """Median seconds of `translate_batch(requests)` over `repeats` runs (after a warm-up)."""
    translator.translate_batch(requests)
    samples = []
    for _ in range(repeats):
        synchronize(translator.device)
        started = time.perf_counter()
        translator.translate_batch(requests)
        synchronize(translator.device)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def batch_curve(translator, sizes: list[int], repeats: int) -> list[dict]:
    """One row per batch size: wall s, audio s per wall s, per-item latency, speed-up over
    batch 1 (throughput ratio)."""
    rows = []
    for size in sizes:
        requests = utterances(size)
        audio_s = sum(r.audio_s for r in requests)
        wall_s = time_batch(translator, requests, repeats)
        rows.append(
            {
                "batch": size,
                "audio_s": round(audio_s, 2),
                "wall_s": round(wall_s, 4),
                "audio_s_per_s": round(audio_s / wall_s, 2),
                "latency_ms": round(wall_s * 1000, 1),
                "load": os.getloadavg()[0],
            }
        )
        base = rows[0]["audio_s_per_s"]
        rows[-1]["speedup"] = round(rows[-1]["audio_s_per_s"] / base, 2)
        print_row(rows[-1])
    return rows


def print_header() -> None:
    print(
        f"{'batch':>5} {'audio s':>8} {'wall s':>8} {'audio s/s':>10} {'latency ms':>11} "
        f"{'x batch 1':>10} {'load':>5}"
    )


def print_row(row: dict) -> None:
    print(
        f"{row['batch']:>5} {row['audio_s']:>8.1f} {row['wall_s']:>8.3f} "
        f"{row['audio_s_per_s']:>10.1f} {row['latency_ms']:>11.0f} {row['speedup']:>10.2f} "
        f"{row['load']:>5.1f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("tiny", "full"), default="tiny")
    parser.add_argument("--sizes", default="1,2,4,8,16,32")
    parser.add_argument("--tokens", type=int, default=20, help="generated tokens per row")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    translator = build_translator(args.tokens, device=args.device, full_size=args.model == "full")
    params = sum(p.numel() for p in translator.model.parameters()) / 1e6
    print(
        f"{args.model} random Canary ({params:.1f} M parameters) on {args.device}, torch "
        f"{torch.get_num_threads()} threads; {args.tokens} tokens per row, translation + "
        f"transcript per utterance, median of {args.repeats}; load {os.getloadavg()[0]:.1f}"
    )
    print_header()
    rows = batch_curve(translator, [int(s) for s in args.sizes.split(",")], args.repeats)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"model": args.model, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
