"""Speech synthesis per sentence through the production engines, on this CPU: the tiny Piper
test voice, a full-size random-weight VITS of a medium Piper voice's shape
(benchmarks/piper_vits.py, ~15.4 M parameters, 62 MB) and the tiny Silero double.

    .venv/bin/python benchmarks/tts_engines.py [--threads 2] [--repeats 3] [--work-dir DIR]

Each engine speaks the same Russian sentences through `synthesize` (text normalisation,
espeak-ng phonemes for Piper, the model, resampling to 24 kHz); per engine it prints the
median and worst time per sentence, espeak's share for Piper, and the real-time factor
(synthesis time / seconds of audio; below 1 is faster than real time), over all passes and
for the least disturbed pass. The random weights
make noise, not speech, but the graph and the audio length per phoneme are a real voice's, so
the time is. Only ratios within one run compare well on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SENTENCES = (
    "Добрый день.",
    "Поезд до музея отправляется в девять часов.",
    "Сегодня хорошая погода, поэтому мы пойдём гулять к реке.",
    "В 2024 году компания выпустила 3 новых продукта и открыла офис в Казани.",
    "Пожалуйста, говорите медленнее: я записываю каждое слово, чтобы ничего не пропустить.",
    "Если завтра будет дождь, встреча переносится на пятницу, а билеты останутся в силе.",
)
DENIS = "piper:ru_RU-denis-medium"


def time_engine(synthesizer, voice: str | None, repeats: int) -> dict[str, float]:
    synthesizer.synthesize(SENTENCES[0], lang="ru", voice=voice)  # load and warm up
    per_sentence: list[float] = []
    audio_s = synth_s = 0.0
    pass_rtfs = []
    for _ in range(repeats):
        pass_audio = pass_synth = 0.0
        for sentence in SENTENCES:
            started = time.perf_counter()
            speech = synthesizer.synthesize(sentence, lang="ru", voice=voice)
            elapsed = time.perf_counter() - started
            per_sentence.append(elapsed * 1000.0)
            pass_synth += elapsed
            pass_audio += len(speech.audio) / speech.sample_rate
        pass_rtfs.append(pass_synth / pass_audio)
        synth_s, audio_s = synth_s + pass_synth, audio_s + pass_audio
    return {
        "median_ms": round(statistics.median(per_sentence), 1),
        "max_ms": round(max(per_sentence), 1),
        "audio_s_per_sentence": round(audio_s / len(per_sentence), 2),
        "rtf": round(synth_s / audio_s, 4),
        "rtf_best_pass": round(min(pass_rtfs), 4),  # the least disturbed pass (shared CPU)
    }


def phonemize_ms(synthesizer, repeats: int) -> float:
    """espeak-ng's part of a Piper sentence (Piper's bridge, our normalisation first)."""
    from piper import PiperVoice  # noqa: F401 - the bridge loads with it

    from workers.engines.piper import piper_key
    from workers.engines.textnorm import normalize_for_speech

    voice = synthesizer._voice(piper_key(DENIS))
    started = time.perf_counter()
    for _ in range(repeats):
        for sentence in SENTENCES:
            voice.phonemize(normalize_for_speech(sentence, "ru"))
    return round((time.perf_counter() - started) * 1000.0 / (repeats * len(SENTENCES)), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="CPU threads per engine")
    parser.add_argument("--repeats", type=int, default=3, help="passes over the sentences")
    parser.add_argument("--work-dir", help="keep the built voices here (reused when present)")
    args = parser.parse_args()

    import torch

    from benchmarks.piper_vits import build_medium_voice
    from tests.models_fixtures import build_tiny_piper_voice, build_tiny_silero, piper_voice_config
    from workers.engines.piper import PiperSynthesizer
    from workers.engines.silero import SileroSynthesizer

    torch.set_num_threads(args.threads)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="tts-bench-"))
    tiny_dir, full_dir, silero_dir = work / "piper-tiny", work / "piper-medium", work / "silero"
    build_tiny_piper_voice(tiny_dir, "ru_RU-denis-medium")
    model = full_dir / "ru_RU-denis-medium.onnx"
    params = None
    if not model.is_file():
        full_dir.mkdir(parents=True, exist_ok=True)
        _, params = build_medium_voice(model)
        config = json.dumps(piper_voice_config("ru"), ensure_ascii=False)
        (full_dir / "ru_RU-denis-medium.onnx.json").write_text(config)
    build_tiny_silero(silero_dir, "ru")

    engines = {
        "piper tiny test voice": (PiperSynthesizer(tiny_dir, threads=args.threads), DENIS),
        "piper medium-shaped VITS (random weights)": (
            PiperSynthesizer(full_dir, threads=args.threads),
            DENIS,
        ),
        "silero tiny double": (SileroSynthesizer(silero_dir, device="cpu"), "xenia"),
    }
    results = {}
    for name, (synthesizer, voice) in engines.items():
        results[name] = time_engine(synthesizer, voice, args.repeats)
        if isinstance(synthesizer, PiperSynthesizer):
            results[name]["espeak_ms"] = phonemize_ms(synthesizer, args.repeats)
    size_mb = model.stat().st_size / 1e6
    print(f"{len(SENTENCES)} Russian sentences × {args.repeats}, {args.threads} threads")
    print(f"medium-shaped voice: {size_mb:.1f} MB" + (f", {params:,} parameters" if params else ""))
    header = f"{'engine':<44} {'median ms':>9} {'max ms':>8} {'audio s':>8} {'RTF':>7}"
    print(f"{header} {'best':>7} {'espeak':>7}")
    for name, r in results.items():
        espeak = f"{r['espeak_ms']:.2f}" if "espeak_ms" in r else "-"
        print(
            f"{name:<44} {r['median_ms']:>9.1f} {r['max_ms']:>8.1f} "
            f"{r['audio_s_per_sentence']:>8.2f} {r['rtf']:>7.4f} {r['rtf_best_pass']:>7.4f} "
            f"{espeak:>7}"
        )
    print(json.dumps({"threads": args.threads, "repeats": args.repeats, "results": results}))


if __name__ == "__main__":
    main()
