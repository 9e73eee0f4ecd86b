"""Full-size Canary on the CPU: one encoder pass (now) against two (before), 5 s of audio.

A random-weight `EncDecMultiTaskModel` with canary-1b-v2's architecture (32 FastConformer
layers, d_model 1024; 8 decoder layers; see `tests.models_fixtures.FULL_SIZE`) is built in
memory (about 1 B parameters, 4 GB of RAM in fp32; no download). Random weights never emit
end-of-text, so every run generates exactly `--tokens` tokens per row: the figures are the
cost of a translation + transcript of that length.

    .venv/bin/python benchmarks/canary_full_size.py --tokens 20 --repeats 3

Prints encoder ms (batch 1 and batch 2), per-token ms (2 rows), and end to end for both
ways: `before` is the previous code (NeMo `transcribe()` on a 2-row batch: the encoder runs
on both rows), `after` is `CanaryTranslator.decode` (encoder once, both prompts decoded from
its output). Also imported by `gpu_smoke.py`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLE_RATE = 16_000
PROMPT_TOKENS = 9  # canary2 prompt with an empty decoder context
TASKS = [("en", "ru"), ("en", "en")]  # translation + transcript


def build_translator(tokens: int, *, device: str = "cpu", full_size: bool = True):
    """A `CanaryTranslator` over a random-weight model that generates exactly `tokens` tokens
    per row (the decoder's length bound is set to prompt + tokens)."""
    import torch

    from tests.models_fixtures import make_canary
    from workers.engines.canary import CanaryTranslator, bound_decoding

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        model = make_canary(Path(tmp) / "tokenizer", full_size=full_size)
    model = model.to(torch.device(device)).eval()
    model.preprocessor.featurizer.dither = 0.0
    bound_decoding(model, 0)
    # Random weights never stop: cap the generated length at `tokens` (benchmark only).
    model.decoding.decoding.greedy_search.max_seq_length = PROMPT_TOKENS + tokens
    build_ms = (time.perf_counter() - started) * 1000.0
    translator = CanaryTranslator(model, device=device, model_name="random", load_ms=build_ms)
    return translator


def two_pass_decode(translator, audio: np.ndarray, tasks=TASKS) -> list[str]:
    """The previous code path: `transcribe()` on a batch of one row per task, so the encoder
    runs once per row."""
    import torch
    from nemo.collections.asr.models.aed_multitask_models import MultiTaskTranscriptionConfig

    from workers.engines import nemo_loading

    rows = len(tasks)
    signal = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    prompts = torch.stack([translator.prompt_ids(src, tgt) for src, tgt in tasks])
    batch = (
        signal.unsqueeze(0).expand(rows, -1).contiguous(),
        torch.full((rows,), signal.shape[0], dtype=torch.long),
        None,
        None,
        prompts,
        torch.full((rows,), prompts.shape[1], dtype=torch.long),
    )
    config = MultiTaskTranscriptionConfig(
        batch_size=rows, enable_chunking=False, verbose=False, num_workers=0
    )
    loader = torch.utils.data.DataLoader([batch], batch_size=None)
    with nemo_loading.inference(translator.device, translator.dtype):
        hypotheses = translator.model.transcribe(loader, override_config=config)
    return [h.text for h in hypotheses]


def time_encoder(translator, audio: np.ndarray, rows: int) -> float:
    import torch

    from workers.engines import nemo_loading

    device = torch.device(translator.device)
    signal = torch.tensor(audio, device=device).unsqueeze(0).repeat(rows, 1)
    lengths = torch.full((rows,), signal.shape[1], device=device)
    with nemo_loading.inference(translator.device, translator.dtype):
        synchronize(translator.device)
        started = time.perf_counter()
        translator.model.forward(input_signal=signal, input_signal_length=lengths)
        synchronize(translator.device)
    return (time.perf_counter() - started) * 1000.0


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def timed(calls: dict, repeats: int, device: str = "cpu") -> dict[str, float]:
    """Median milliseconds of each call over `repeats` rounds (after one untimed round). The
    calls alternate within a round, so a busy machine slows them alike."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for round_ in range(repeats + 1):
        for name, call in calls.items():
            synchronize(device)
            started = time.perf_counter()
            call()
            synchronize(device)
            if round_:
                samples[name].append((time.perf_counter() - started) * 1000.0)
    return {name: statistics.median(values) for name, values in samples.items()}


def speech_like(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (0.1 * rng.standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--tokens", type=int, default=20, help="generated tokens per row")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    translator = build_translator(args.tokens)
    params = sum(p.numel() for p in translator.model.parameters()) / 1e6
    audio = speech_like(args.seconds)
    print(
        f"full-size random Canary: {params:.0f} M parameters, built in "
        f"{translator.load_ms / 1000:.1f} s; torch {torch.__version__}, "
        f"{torch.get_num_threads()} CPU threads; {args.seconds:g} s of audio, "
        f"{args.tokens} tokens per row, median of {args.repeats}"
    )
    with torch.inference_mode():
        encoder = timed(
            {
                1: lambda: time_encoder(translator, audio, 1),
                2: lambda: time_encoder(translator, audio, 2),
            },
            args.repeats,
        )
    encoder_1, encoder_2 = encoder[1], encoder[2]
    end_to_end = timed(
        {
            "before": lambda: two_pass_decode(translator, audio),
            "after": lambda: translator.decode(audio, TASKS),
        },
        args.repeats,
    )
    before, after = end_to_end["before"], end_to_end["after"]
    per_token = (after - encoder_1) / args.tokens
    print(f"encoder, batch 1 (after):  {encoder_1:8.0f} ms")
    print(f"encoder, batch 2 (before): {encoder_2:8.0f} ms")
    print(f"per token, 2 rows:         {per_token:8.1f} ms")
    print(f"end to end before (2 encoder rows): {before:8.0f} ms")
    print(f"end to end after  (1 encoder pass): {after:8.0f} ms  ({before - after:+.0f} ms saved)")


if __name__ == "__main__":
    main()
