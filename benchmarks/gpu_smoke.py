"""GPU smoke benchmark: the full-size random-weight Canary (and the tiny Silero) on one GPU.

Builds canary-1b-v2's architecture with random weights (no download; see
`benchmarks/canary_full_size.py`), then for fp32 and the half precision the worker would use
on this GPU (bf16 where native, else fp16) runs 5 s utterances, translation + transcript each
(one encoder pass, two decoder rows per utterance), at batch 1 and at the largest batch that
fits (doubling until out of memory, up to --max-batch). Prints encoder ms, per-token ms,
end-to-end ms, utterances/s and peak GPU memory; then, per dtype, the worker's own batch path
(`CanaryTranslator.translate_batch`, mixed lengths and directions) at batch 1, 2, 4, ... 32
(`benchmarks/canary_batch.py`: audio seconds per wall second, per-item latency); then the
tiny Silero's load and synthesis.

    .venv/bin/python benchmarks/gpu_smoke.py                      # on a GPU host
    .venv/bin/python benchmarks/gpu_smoke.py --device cpu --tiny --max-batch 4   # sanity run

Random weights never emit end-of-text, so every row generates exactly --tokens tokens.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from canary_batch import batch_curve, print_header  # noqa: E402
from canary_full_size import (  # noqa: E402
    SAMPLE_RATE,
    TASKS,
    build_translator,
    speech_like,
    synchronize,
)


def decode_batch(translator, audio: np.ndarray, batch: int) -> tuple[float, float]:
    """`batch` utterances of `audio`, each decoded as translation + transcript from one
    encoder pass. Returns (encoder ms, total ms)."""
    import torch

    from workers.engines import nemo_loading

    device = torch.device(translator.device)
    rows = len(TASKS)
    signal = torch.tensor(audio, device=device).unsqueeze(0).repeat(batch, 1)
    lengths = torch.full((batch,), signal.shape[1], device=device)
    prompts = torch.stack([translator.prompt_ids(s, t) for s, t in TASKS]).to(device)
    with nemo_loading.inference(translator.device, translator.dtype):
        synchronize(translator.device)
        started = time.perf_counter()
        _, _, encoded, mask = translator.model.forward(
            input_signal=signal, input_signal_length=lengths
        )
        synchronize(translator.device)
        encoder_ms = (time.perf_counter() - started) * 1000.0
        translator.model.decoding.decode_predictions_tensor(
            encoder_hidden_states=encoded.repeat_interleave(rows, dim=0),
            encoder_input_mask=mask.repeat_interleave(rows, dim=0),
            decoder_input_ids=prompts.repeat(batch, 1),
            return_hypotheses=False,
        )
        synchronize(translator.device)
    return encoder_ms, (time.perf_counter() - started) * 1000.0


def measure(translator, audio: np.ndarray, batch: int, tokens: int, repeats: int) -> dict:
    import torch

    on_cuda = translator.device.startswith("cuda")
    decode_batch(translator, audio, batch)  # warm-up (kernels, allocator)
    if on_cuda:
        torch.cuda.reset_peak_memory_stats()
    runs = [decode_batch(translator, audio, batch) for _ in range(repeats)]
    encoder_ms = float(np.median([r[0] for r in runs]))
    total_ms = float(np.median([r[1] for r in runs]))
    return {
        "batch": batch,
        "encoder_ms": encoder_ms,
        "per_token_ms": (total_ms - encoder_ms) / tokens,
        "total_ms": total_ms,
        "utterances_per_s": batch / (total_ms / 1000.0),
        "peak_mib": torch.cuda.max_memory_allocated() / 2**20 if on_cuda else float("nan"),
    }


def largest_batch(translator, audio: np.ndarray, limit: int) -> int:
    """The largest power of two up to `limit` that runs without running out of memory."""
    import torch

    batch, fits = 1, 1
    while batch <= limit:
        try:
            decode_batch(translator, audio, batch)
            fits = batch
            batch *= 2
        except torch.OutOfMemoryError:
            break
        finally:
            if translator.device.startswith("cuda"):
                torch.cuda.empty_cache()
    return fits


def silero_smoke(device: str) -> str:
    from tests.models_fixtures import build_tiny_silero
    from workers.engines.silero import SileroSynthesizer

    with tempfile.TemporaryDirectory() as tmp:
        for lang in ("ru", "en"):
            build_tiny_silero(tmp, lang)
        synthesizer = SileroSynthesizer(tmp, sample_rate=24000, device=device)
        synthesizer.preload()
        started = time.perf_counter()
        speech = synthesizer.synthesize("Поезд отправляется в девять часов.", lang="ru")
        tts_ms = (time.perf_counter() - started) * 1000.0
    return f"tiny Silero on {device}: {speech.meta['audio_s']:.2f} s of speech in {tts_ms:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--tokens", type=int, default=20, help="generated tokens per row")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-batch", type=int, default=256)
    parser.add_argument("--tiny", action="store_true", help="the tiny model (a sanity run)")
    parser.add_argument("--curve", default="1,2,4,8,16,32", help="batch sizes of the curve")
    args = parser.parse_args()

    import torch

    from workers.engines import nemo_loading

    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            sys.exit("no CUDA device visible: run on a GPU host, or --device cpu --tiny")
        props = torch.cuda.get_device_properties(torch.device(args.device))
        print(
            f"{props.name}, {props.total_memory / 2**30:.0f} GiB, compute "
            f"{props.major}.{props.minor}; torch {torch.__version__}, CUDA {torch.version.cuda}"
        )
    translator = build_translator(args.tokens, device=args.device, full_size=not args.tiny)
    params = sum(p.numel() for p in translator.model.parameters()) / 1e6
    audio = speech_like(args.seconds)
    print(
        f"{'tiny' if args.tiny else 'full-size'} random Canary, {params:.1f} M parameters, "
        f"on {args.device}; {args.seconds:g} s utterances ({len(audio) / SAMPLE_RATE:g} s), "
        f"translation + transcript, {args.tokens} tokens per row, median of {args.repeats}"
    )
    half = nemo_loading.autocast_dtype(args.device)
    dtypes = [None] + ([half] if half is not None else [])
    header = (
        f"{'dtype':>5} {'batch':>5} {'encoder ms':>10} {'ms/token':>9} {'total ms':>9} "
        f"{'utt/s':>7} {'peak MiB':>9}"
    )
    print(header)
    for dtype in dtypes:
        translator.dtype = dtype
        batches = sorted({1, largest_batch(translator, audio, args.max_batch)})
        for batch in batches:
            row = measure(translator, audio, batch, args.tokens, args.repeats)
            print(
                f"{nemo_loading.describe_dtype(dtype):>5} {row['batch']:>5} "
                f"{row['encoder_ms']:>10.1f} "
                f"{row['per_token_ms']:>9.2f} {row['total_ms']:>9.1f} "
                f"{row['utterances_per_s']:>7.2f} {row['peak_mib']:>9.0f}"
            )
    sizes = [int(x) for x in args.curve.split(",")]
    for dtype in dtypes:
        translator.dtype = dtype
        print(f"\nbatch curve, {nemo_loading.describe_dtype(dtype)} (translate_batch):")
        print_header()
        batch_curve(translator, sizes, args.repeats)
    print(silero_smoke(args.device))


if __name__ == "__main__":
    main()
