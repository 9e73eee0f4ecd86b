"""Caption flicker and audio re-read (a script, not a test): what local agreement and cheaper
partials do to the words a reader sees. No stack: the partials of each utterance are computed
where the live path would ask for them, by one of two engines:

- scripted: hypotheses chosen here (a listener that hears words at 2.5 words/s, says the last
  word heard half-cut, mishears some recent words and corrects them later, revises an early
  word until more context came, and reorders the translation's tail);
- tiny: the tiny real-format Canary (tests/models_fixtures.py, random weights) on real read
  speech (the five LibriVox sentences of pocketsphinx-testdata), en→ru.

Figures, per configuration:
- flicker: the share of displayed words (each partial's words, summed over partials) that a
  later partial of the utterance changes or removes (by position; the last partial's words
  count as kept: the final replaces everything anyway). `before` = each partial shown
  wholesale (the old page); `shown` = with local agreement (translation/streaming/captions.py);
  `committed` = of the committed words only (0 by construction);
- final_contradicts: share of utterances with committed words whose final changed some;
- reread: seconds of audio the partials decode per second of utterance (the final's own pass
  not counted);
- tiny only: partial decode ms (sum) and tokens generated.

Schedules (when a partial is due, in seconds of speech): `fixed` = after each CAPTION_INTERVAL_S
of new speech (today's rule); `growing` = after max(interval, GROWTH × the speech already
decoded) of new speech. Decoding variants (tiny): `plain`; `context` = the committed source
text in canary2's `decodercontext` slot (a bias: the model still transcribes everything);
`prefix` = the committed text forced as the start of each row's output (canary2's
`user_prefix` turn: the decoder resumes after it).

    .venv/bin/python benchmarks/captions_flicker.py --engine scripted,tiny --json var/flicker.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from translation.streaming.captions import UtteranceAgreement  # noqa: E402

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
INTERVAL_S = 1.0

# --- when partials are due -----------------------------------------------------------------------


def schedule(duration_s: float, *, interval_s: float, growth: float) -> list[float]:
    """Speech seconds at which partials are decoded (before the utterance ends): the first
    after `interval_s`, then after max(interval_s, growth × decoded so far) of new speech."""
    times, t = [], interval_s
    while t < duration_s:
        times.append(round(t, 3))
        t += max(interval_s, growth * t)
    return times


# --- flicker -------------------------------------------------------------------------------------


def changed_words(shown: list[str], following: list[str]) -> int:
    """Words of a displayed line that some later display (before the final) changes or
    removes, by position."""
    laters = [text.split() for text in following]
    return sum(
        1
        for i, word in enumerate(shown)
        if any(i >= len(later) or later[i] != word for later in laters)
    )


@dataclass
class Flicker:
    shown_words: int = 0
    shown_changed: int = 0
    raw_words: int = 0
    raw_changed: int = 0
    committed_words: int = 0
    committed_changed: int = 0
    utterances_with_commits: int = 0
    finals_contradicting: int = 0

    def add_line(self, raw: list[str], shown: list[tuple[str, int]]) -> None:
        for i, text in enumerate(raw):
            words = text.split()
            self.raw_words += len(words)
            self.raw_changed += changed_words(words, raw[i + 1 :])
        for i, (text, stable) in enumerate(shown):
            words, committed = text.split(), text[:stable].split()
            self.shown_words += len(words)
            self.committed_words += len(committed)
            later = [text for text, _ in shown[i + 1 :]]
            self.shown_changed += changed_words(words, later)
            self.committed_changed += changed_words(committed, later)

    def report(self) -> dict[str, float]:
        def share(part: int, whole: int) -> float:
            return round(part / whole, 4) if whole else 0.0

        return {
            "flicker_before": share(self.raw_changed, self.raw_words),
            "flicker_shown": share(self.shown_changed, self.shown_words),
            "flicker_committed": share(self.committed_changed, self.committed_words),
            "committed_share_of_shown": share(self.committed_words, self.shown_words),
            "final_contradicts": share(self.finals_contradicting, self.utterances_with_commits),
        }


# --- engines -------------------------------------------------------------------------------------


@dataclass
class Hypothesis:
    source_text: str
    text: str
    ms: float = 0.0
    tokens: int = 0


@dataclass(frozen=True)
class Utterance:
    name: str
    duration_s: float
    source: str  # the final's transcript
    translation: str  # the final's translation
    audio: object = None  # 16 kHz float32 (tiny engine)


SCRIPTED = [
    (
        "the weather is lovely today so we will walk along the river and look at the old "
        "boats and talk about the long warm summer",
        "погода сегодня чудесная поэтому мы пройдёмся вдоль реки посмотрим на старые лодки и "
        "поговорим о долгом тёплом лете",
    ),
    (
        "he was not an ill disposed young man unless to be rather cold hearted and rather "
        "selfish is to be ill disposed",
        "он не был дурным молодым человеком если только быть довольно холодным и довольно "
        "эгоистичным не значит быть дурным",
    ),
    (
        "had he married a more amiable woman he might have been made still more respectable "
        "than he was",
        "женись он на более милой женщине он мог бы стать ещё более почтенным чем был",
    ),
]
MISHEARD = {"weather": "whether", "walk": "work", "boats": "votes", "ill": "all", "he": "the"}


def scripted_utterances() -> list[Utterance]:
    return [
        Utterance(f"scripted-{i}", len(src.split()) / 2.5, src, tgt)
        for i, (src, tgt) in enumerate(SCRIPTED)
    ]


class ScriptedEngine:
    """Hypotheses chosen here, seeded: the errors a streaming recogniser makes, scaled down to
    what a reader sees of them (see the module docstring)."""

    def __init__(self, seed: int = 7) -> None:
        self.seed = seed

    def hypothesis(
        self, utterance: Utterance, speech_s: float, committed: tuple[str, str]
    ) -> Hypothesis:
        rng = random.Random(f"{self.seed}:{utterance.name}:{speech_s}")
        share = min(1.0, speech_s / utterance.duration_s)
        return Hypothesis(
            source_text=self._line(utterance.source.split(), share, rng, reorder=False),
            text=self._line(utterance.translation.split(), share, rng, reorder=True),
        )

    @staticmethod
    def _line(words: list[str], share: float, rng: random.Random, *, reorder: bool) -> str:
        heard = max(1, int(len(words) * share))
        line = list(words[:heard])
        if heard < len(words) and rng.random() < 0.6:
            line[-1] = line[-1][: max(1, len(line[-1]) // 2)]  # the last word, half heard
        for i in range(max(0, heard - 3), heard - 1):  # recent words: sometimes misheard
            if rng.random() < 0.25:
                line[i] = MISHEARD.get(line[i], line[i] + "s")
        if share < 0.4 and len(line) > 2 and rng.random() < 0.5:
            line[1] = MISHEARD.get(line[1], line[1][::-1])  # an early word, until context came
        if reorder and len(line) > 3 and rng.random() < 0.3:
            line[-3:] = [line[-2], line[-3], line[-1]]  # the translation's word order settles
        return " ".join(line)


class TinyCanaryEngine:
    """The tiny Canary, one encoder pass per partial, the two rows (translation, transcript)
    decoded over it with the chosen variant's prompt."""

    def __init__(self, variant: str, model_dir: Path) -> None:
        from tests.models_fixtures import build_tiny_canary
        from workers.engines.canary import CanaryTranslator

        path = model_dir / "tiny-canary.nemo"
        if not path.exists():
            build_tiny_canary(model_dir)
        # The e2e tests' bound: the random-weight model then says as much as the audio allows.
        self.translator = CanaryTranslator.load(str(path), device="cpu", max_generation_delta=2)
        self.variant = variant

        self.cache: dict[tuple, Hypothesis] = {}  # the same decode in another schedule

    def hypothesis(
        self, utterance: Utterance, speech_s: float, committed: tuple[str, str]
    ) -> Hypothesis:
        import numpy as np

        key = (utterance.name, speech_s, committed if self.variant != "plain" else "")
        if key not in self.cache:
            audio = np.asarray(utterance.audio)[: int(speech_s * 16_000)]
            self.cache[key] = self._decode(audio, committed)
        return self.cache[key]

    def final(self, utterance: Utterance) -> Hypothesis:
        key = (utterance.name, "final")
        if key not in self.cache:
            self.cache[key] = self._decode(utterance.audio, ("", ""), variant="plain")
        return self.cache[key]

    def _decode(self, audio, committed, variant: str | None = None) -> Hypothesis:
        import torch

        from workers.engines.canary import strip_special_tokens

        variant = variant or self.variant
        model = self.translator.model
        started = time.perf_counter()
        signal = torch.tensor(audio, dtype=torch.float32)
        texts, tokens = [], 0
        with torch.inference_mode():
            _, _, encoded, mask = model.forward(
                input_signal=signal.unsqueeze(0),
                input_signal_length=torch.tensor([signal.shape[0]]),
            )
            for tgt, kept in (("ru", committed[1]), ("en", committed[0])):
                turn = {
                    "role": "user",
                    "slots": {
                        "decodercontext": committed[0] if variant == "context" else "",
                        "emotion": "<|emo:undefined|>",
                        "source_lang": "en",
                        "target_lang": tgt,
                        "pnc": "yes",
                        "itn": "no",
                        "timestamp": "no",
                        "diarize": "no",
                    },
                }
                turns = [turn]
                if variant == "prefix" and kept:
                    turns.append({"role": "user_prefix", "slots": {"prefix": kept}})
                prompt = model.prompt.encode_dialog(turns=[turn])["context_ids"]
                ids = model.prompt.encode_dialog(turns=turns)["context_ids"]
                forced = [int(t) for t in ids[len(prompt) :]]
                try:
                    (hyp,) = model.decoding.decode_predictions_tensor(
                        encoder_hidden_states=encoded,
                        encoder_input_mask=mask,
                        decoder_input_ids=ids.unsqueeze(0),
                        return_hypotheses=True,
                    )
                    generated, said = [int(t) for t in hyp.y_sequence], hyp.text
                except IndexError:
                    # NeMo 3.0.0's greedy AED fails when the generation bound (encoder frames
                    # + max_generation_delta − prompt, the forced prefix included) leaves no
                    # step: nothing generated beyond the prefix.
                    generated, said = [], ""
                tokens += len(generated)
                text = model.tokenizer.ids_to_text(forced + generated) if forced else said
                texts.append(strip_special_tokens(text))
        ms = (time.perf_counter() - started) * 1000.0
        return Hypothesis(source_text=texts[1], text=texts[0], ms=ms, tokens=tokens)


def librivox_utterances() -> list[Utterance]:
    import soundfile as sf

    lines = (LIBRIVOX / "transcription").read_text().splitlines()
    out = []
    for line in lines:
        text, name = line.rsplit("(", 1)
        name = name.rstrip(")").strip()
        audio, rate = sf.read(LIBRIVOX / f"{name}.wav", dtype="float32")
        assert rate == 16_000
        source = text.replace("<s>", "").replace("</s>", "").strip()
        out.append(Utterance(name, len(audio) / rate, source, "", audio))
    return out


# --- one configuration ---------------------------------------------------------------------------


@dataclass
class Run:
    flicker: Flicker = field(default_factory=Flicker)
    partial_audio_s: float = 0.0
    utterance_audio_s: float = 0.0
    partials: int = 0
    decode_ms: float = 0.0
    tokens: int = 0

    def report(self) -> dict[str, float]:
        return {
            **self.flicker.report(),
            "partials_per_utterance_s": round(self.partials / self.utterance_audio_s, 3),
            "reread": round(self.partial_audio_s / self.utterance_audio_s, 3),
            "partial_decode_ms": round(self.decode_ms, 1),
            "partial_tokens": self.tokens,
        }


def run(
    utterances: list[Utterance],
    hypothesis: Callable[[Utterance, float, tuple[str, str]], Hypothesis],
    final: Callable[[Utterance], Hypothesis],
    *,
    growth: float,
) -> Run:
    result = Run()
    for utterance in utterances:
        agreement = UtteranceAgreement()
        raw = {"source_text": [], "text": []}
        shown: dict[str, list[tuple[str, int]]] = {"source_text": [], "text": []}
        for speech_s in schedule(utterance.duration_s, interval_s=INTERVAL_S, growth=growth):
            committed = tuple(
                shown[key][-1][0][: shown[key][-1][1]] if shown[key] else ""
                for key in ("source_text", "text")
            )
            hyp = hypothesis(utterance, speech_s, committed)  # type: ignore[arg-type]
            message = agreement.apply({"source_text": hyp.source_text, "text": hyp.text})
            for key in ("source_text", "text"):
                raw[key].append(getattr(hyp, key))
                shown[key].append((message[key], message["stable"][key]))
            result.partials += 1
            result.partial_audio_s += speech_s
            result.decode_ms += hyp.ms
            result.tokens += hyp.tokens
        result.utterance_audio_s += utterance.duration_s
        for key in ("source_text", "text"):
            result.flicker.add_line(raw[key], shown[key])
        if agreement.committed_words:
            last = final(utterance)
            result.flicker.utterances_with_commits += 1
            result.flicker.finals_contradicting += agreement.contradicted_by(
                source_text=last.source_text, text=last.text
            )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", default="scripted,tiny", help="scripted, tiny or both")
    parser.add_argument("--growth", default="0,0.5", help="schedules: 0 = fixed, else GROWTH")
    parser.add_argument("--variants", default="plain,context,prefix", help="tiny: decoding")
    parser.add_argument("--seeds", type=int, default=20, help="scripted: seeds")
    parser.add_argument("--model-dir", type=Path, default=Path("/tmp/rutrans-tiny-flicker"))
    parser.add_argument("--json", type=Path, help="write the reports here")
    args = parser.parse_args()
    growths = [float(g) for g in args.growth.split(",")]
    reports: dict[str, dict] = {}
    engines = set(args.engine.split(","))
    if "scripted" in engines:
        utterances = scripted_utterances()
        for growth in growths:
            total = Run()
            for seed in range(args.seeds):
                engine = ScriptedEngine(seed)
                one = run(
                    utterances,
                    engine.hypothesis,
                    lambda u: Hypothesis(u.source, u.translation),
                    growth=growth,
                )
                merge(total, one)
            reports[f"scripted/{schedule_name(growth)}"] = total.report()
    if "tiny" in engines:
        utterances = librivox_utterances()
        for variant in args.variants.split(","):
            tiny = TinyCanaryEngine(variant, args.model_dir)
            tiny.final(utterances[0])  # warm
            for growth in growths:
                one = run(utterances, tiny.hypothesis, tiny.final, growth=growth)
                name = f"tiny/{variant}/{schedule_name(growth)}"
                reports[name] = one.report()
                print(name, reports[name], flush=True)
    width = max(len(name) for name in reports)
    columns = list(next(iter(reports.values())))
    print(f"{'':<{width}}  " + "  ".join(f"{c[:14]:>14}" for c in columns))
    for name, report in reports.items():
        print(f"{name:<{width}}  " + "  ".join(f"{report[c]:>14}" for c in columns))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(reports, indent=2))


def schedule_name(growth: float) -> str:
    return "fixed" if growth == 0 else f"growing{growth:g}"


def merge(total: Run, one: Run) -> None:
    for name in (
        "shown_words",
        "shown_changed",
        "raw_words",
        "raw_changed",
        "committed_words",
        "committed_changed",
        "utterances_with_commits",
        "finals_contradicting",
    ):
        setattr(total.flicker, name, getattr(total.flicker, name) + getattr(one.flicker, name))
    total.partial_audio_s += one.partial_audio_s
    total.utterance_audio_s += one.utterance_audio_s
    total.partials += one.partials
    total.decode_ms += one.decode_ms
    total.tokens += one.tokens


if __name__ == "__main__":
    main()
