"""NVIDIA Canary (`nvidia/canary-1b-v2`, NeMo `EncDecMultiTaskModel`, `canary2` prompt):
speech in one language → text in another, plus the recognised source text.

The translation and the source transcript come from ONE encoder pass: the audio is encoded
once (`model.forward`), and NeMo's decoding (`decode_predictions_tensor`, which takes encoder
states) runs one batch of two rows over that same encoder output, each row with its own prompt
(`target_lang=tgt` and `target_lang=src`). Long inputs are cut at pauses into pieces of at
most 30 s.

What the real `.nemo` needs beyond what a small model shows:
- its timestamps aligner (`timestamps_asr_model`, a second model inside canary-1b-v2) is not
  loaded (`restore_timestamps_model: False`): we never ask for timestamps, and NeMo would put
  it on CUDA even with MODEL_DEVICE=cpu;
- decoding is bounded relative to the audio length (`max_generation_delta`), so a
  hallucination loop stops early instead of at the decoder's maximum length;
- special tokens (`<|nodiarize|>`, `<|nospeech|>` …) never reach the text; an output with
  nothing else is "no speech".
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from workers.engines import nemo_loading
from workers.engines.base import (
    LANGS,
    MODEL_SAMPLE_RATE,
    EngineError,
    EngineUnavailable,
    Lang,
    SpeechTranslation,
    TranslationRequest,
    is_out_of_memory,
)
from workers.engines.pieces import split_at_pauses

logger = logging.getLogger(__name__)

MIN_INPUT_S = 1.0  # shorter input is padded with silence (as NeMo's own array path does)
DEFAULT_MAX_GENERATION_DELTA = 50
"""Generated tokens are at most (encoder frames + this) − prompt length; the encoder gives 12.5
frames per second of audio (8× subsampling of 10 ms features), above any real speech rate."""
SPECIAL_TOKEN = re.compile(r"<\|[^<>|]*\|>")
# Config keys set before the model is built: the timestamps aligner stays in the file.
CONFIG_OVERRIDES = {"restore_timestamps_model": False}

_cache_lock = threading.Lock()
_loaded: dict[tuple[str, str, int], CanaryTranslator] = {}


def strip_special_tokens(text: str) -> str:
    """The hypothesis without any `<|…|>` token, whitespace collapsed ("" when nothing else)."""
    return " ".join(SPECIAL_TOKEN.sub(" ", text).split())


def bound_decoding(model: Any, max_generation_delta: int) -> str:
    """Set `max_generation_delta` on the model's greedy and beam decoding (NeMo's default of -1
    runs to the decoder's maximum length); returns a description of the strategy for the log."""
    from omegaconf import DictConfig, OmegaConf, open_dict

    if max_generation_delta < 0:
        raise EngineUnavailable(
            f"CANARY_MAX_GENERATION_DELTA={max_generation_delta}: must be 0 or more "
            "(a negative value leaves decoding unbounded)"
        )
    config = OmegaConf.create(OmegaConf.to_container(model.cfg.decoding))
    assert isinstance(config, DictConfig)
    with open_dict(config):
        for strategy in ("greedy", "beam"):
            if strategy not in config or config[strategy] is None:
                config[strategy] = {}
            config[strategy]["max_generation_delta"] = max_generation_delta
    model.change_decoding_strategy(config)
    decoding = model.cfg.decoding
    beam = f", beam size {decoding.beam.beam_size}" if "beam" in decoding.strategy else ""
    max_length = model.transf_decoder.max_sequence_length
    return (
        f"{decoding.strategy}{beam}, at most encoder frames + {max_generation_delta} tokens "
        f"(decoder maximum {max_length})"
    )


def _check_lang(value: str, name: str) -> Lang:
    if value not in LANGS:
        raise EngineError(f"unsupported {name} language {value!r}: expected one of {list(LANGS)}")
    return value


class CanaryTranslator:
    """`translate(audio, src=, tgt=)` with a loaded Canary model (see `load`)."""

    def __init__(self, model: Any, *, device: str, model_name: str, load_ms: float) -> None:
        self.model = model
        self.device = device
        self.dtype = nemo_loading.autocast_dtype(device)
        self.model_name = model_name
        self.load_ms = load_ms
        self.warmup_ms = 0.0
        self._lock = threading.Lock()  # one inference at a time per model

    @classmethod
    def from_settings(cls, settings: Any) -> CanaryTranslator:
        return cls.load(
            settings.CANARY_MODEL,
            device=getattr(settings, "MODEL_DEVICE", "auto"),
            max_generation_delta=getattr(
                settings, "CANARY_MAX_GENERATION_DELTA", DEFAULT_MAX_GENERATION_DELTA
            ),
        )

    @classmethod
    def load(
        cls,
        model_name: str,
        *,
        device: str = "auto",
        max_generation_delta: int = DEFAULT_MAX_GENERATION_DELTA,
    ) -> CanaryTranslator:
        """The model `model_name` (HF repo id or local .nemo), loaded once per process."""
        resolved = nemo_loading.resolve_device(device)
        with _cache_lock:
            key = (model_name, resolved, max_generation_delta)
            if key not in _loaded:
                from nemo.collections.asr.models import ASRModel

                model, load_ms = nemo_loading.load_nemo_model(
                    ASRModel,
                    model_name,
                    device=resolved,
                    setting="CANARY_MODEL",
                    config_overrides=CONFIG_OVERRIDES,
                )
                if not hasattr(model, "prompt") or not hasattr(model, "decoding"):
                    raise EngineUnavailable(
                        f"CANARY_MODEL={model_name!r} is a {type(model).__name__}, not a Canary "
                        "multi-task (AED) model: use nvidia/canary-1b-v2 or a Canary .nemo"
                    )
                strategy = bound_decoding(model, max_generation_delta)
                translator = cls(model, device=resolved, model_name=model_name, load_ms=load_ms)
                logger.info(
                    "Canary %s on %s, %s; decoding: %s",
                    model_name,
                    resolved,
                    nemo_loading.describe_dtype(translator.dtype),
                    strategy,
                )
                translator.warm_up()
                _loaded[key] = translator
            return _loaded[key]

    def warm_up(self) -> None:
        """One short silent utterance through the model (first-call allocations, kernels)."""
        started = time.perf_counter()
        silence = np.zeros(MODEL_SAMPLE_RATE, dtype=np.float32)
        self.decode(silence, [("en", "en")])
        self.warmup_ms = (time.perf_counter() - started) * 1000.0
        logger.info("warmed up %s in %.0f ms", self.model_name, self.warmup_ms)

    def prompt_ids(self, src: Lang, tgt: Lang) -> torch.Tensor:
        """The decoder prompt (canary2) for recognising `src` speech as `tgt` text."""
        turns = [
            {
                "role": "user",
                "slots": {
                    "decodercontext": "",
                    "emotion": "<|emo:undefined|>",
                    "source_lang": src,
                    "target_lang": tgt,
                    "pnc": "yes",
                    "itn": "no",
                    "timestamp": "no",
                    "diarize": "no",
                },
            }
        ]
        return self.model.prompt.encode_dialog(turns=turns)["context_ids"]

    def decode(self, audio: np.ndarray, tasks: list[tuple[Lang, Lang]]) -> list[str]:
        """One encoder pass over `audio`, then one decoding batch with a row per (src, tgt)
        task over that same encoder output. Returns one raw hypothesis text per task."""
        return self.decode_batch([audio], [DecodingRow(0, src, tgt) for src, tgt in tasks])

    def decode_batch(self, pieces: Sequence[np.ndarray], rows: Sequence[DecodingRow]) -> list[str]:
        """One encoder pass over all `pieces` (padded to the longest), then greedy decoding of
        every row over its piece's encoder output with the row's own prompt; rows whose
        prompts have one length decode together. Each row keeps its own bound (its own encoder
        frames + `max_generation_delta`), so its text is the one a batch of one would give.
        Returns one raw hypothesis text per row, in order."""
        padded = [_padded_to_minimum(piece) for piece in pieces]
        device = torch.device(self.device)
        batch = np.zeros((len(padded), max(len(p) for p in padded)), dtype=np.float32)
        for i, piece in enumerate(padded):
            batch[i, : len(piece)] = piece
        signal = torch.from_numpy(batch).to(device)
        lengths = torch.tensor([len(p) for p in padded], device=device)
        prompts = [self.prompt_ids(row.src, row.tgt) for row in rows]
        texts: list[str] = [""] * len(rows)
        with self._lock, nemo_loading.inference(self.device, self.dtype):
            _, encoded_len, encoded, mask = self.model.forward(
                input_signal=signal, input_signal_length=lengths
            )
            by_prompt_length: dict[int, list[int]] = {}
            for i, prompt in enumerate(prompts):
                by_prompt_length.setdefault(int(prompt.shape[0]), []).append(i)
            for prompt_length, members in by_prompt_length.items():
                index = torch.tensor([rows[i].piece for i in members], device=device)
                hypotheses = self.model.decoding.decode_predictions_tensor(
                    encoder_hidden_states=encoded.index_select(0, index),
                    encoder_input_mask=mask.index_select(0, index),
                    decoder_input_ids=torch.stack([prompts[i] for i in members]).to(device),
                    return_hypotheses=True,
                )
                for i, hypothesis in zip(members, hypotheses, strict=True):
                    frames = int(encoded_len[rows[i].piece])
                    texts[i] = self._bounded_text(hypothesis, frames, prompt_length)
        return texts

    def _bounded_text(self, hypothesis: Any, frames: int, prompt_length: int) -> str:
        """The hypothesis cut to what this row alone may generate: NeMo bounds a batch by its
        longest row (padded frames + delta), a batch of one by the row's own frames."""
        if isinstance(hypothesis, list):  # beam search: the n-best list, best first
            hypothesis = hypothesis[0]
        max_length = self.model.transf_decoder.max_sequence_length
        delta = int(self.model.cfg.decoding.greedy.get("max_generation_delta", -1))
        if "beam" in self.model.cfg.decoding.strategy:
            delta = int(self.model.cfg.decoding.beam.get("max_generation_delta", -1))
        limit = max_length if delta < 0 else min(max_length, frames + delta)
        own_bound = limit - prompt_length
        ids = torch.as_tensor(hypothesis.y_sequence)
        if ids.shape[0] <= own_bound:
            return str(hypothesis.text)
        ids = ids[:own_bound]
        ending = (self.model.tokenizer.eos, self.model.tokenizer.pad)
        while ids.shape[0] and int(ids[-1]) in ending:
            ids = ids[:-1]
        hypothesis.y_sequence = ids
        return str(self.model.decoding.decode_hypothesis([hypothesis])[0].text)

    def translate(
        self, audio: np.ndarray, *, src: Lang, tgt: Lang, with_source_text: bool = True
    ) -> SpeechTranslation:
        """`audio`: 16 kHz mono float32. Text in `tgt`, and (optionally) the `src` transcript."""
        request = TranslationRequest(audio, src, tgt, with_source_text)
        try:
            (result,) = self.translate_batch([request])
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            raise EngineError(
                f"out of GPU memory translating {len(audio) / MODEL_SAMPLE_RATE:.1f} s of audio"
            ) from exc
        if isinstance(result, EngineError):
            raise result
        return result

    def translate_batch(
        self, requests: Sequence[TranslationRequest]
    ) -> list[SpeechTranslation | EngineError]:
        """Several utterances (any lengths, any directions) through ONE encoder pass and one
        batched greedy decoding; each answer is what `translate` alone would give. A request
        that is not valid gets its EngineError in its place; the others are translated. Out of
        memory is raised as it is (torch's error), for the caller to split the batch."""
        plans: list[_Plan | EngineError] = []
        pieces: list[np.ndarray] = []
        rows: list[DecodingRow] = []
        for request in requests:
            try:
                plan = _Plan.of(request, first_piece=len(pieces), first_row=len(rows))
            except EngineError as exc:
                plans.append(exc)
                continue
            plans.append(plan)
            for offset, piece in enumerate(plan.pieces):
                pieces.append(piece)
                rows += [DecodingRow(plan.first_piece + offset, s, t) for s, t in plan.tasks]
        started = time.perf_counter()
        try:
            texts = self.decode_batch(pieces, rows) if rows else []
        except Exception as exc:
            if is_out_of_memory(exc) and torch.cuda.is_available():
                torch.cuda.empty_cache()  # what the failed batch held, for the smaller retry
            raise
        inference_ms = (time.perf_counter() - started) * 1000.0
        return [
            plan if isinstance(plan, EngineError) else self._answer(plan, texts, inference_ms)
            for plan in plans
        ]

    def _answer(self, plan: _Plan, texts: list[str], inference_ms: float) -> SpeechTranslation:
        by_task: list[list[str]] = [[] for _ in plan.tasks]
        for offset in range(len(plan.pieces)):
            for task in range(len(plan.tasks)):
                row = plan.first_row + offset * len(plan.tasks) + task
                if cleaned := strip_special_tokens(texts[row]):
                    by_task[task].append(cleaned)
        request = plan.request
        translation = " ".join(by_task[0])
        if not request.with_source_text:
            source_text = None
        elif request.src == request.tgt:
            source_text = translation
        else:
            source_text = " ".join(by_task[1])
        if not translation:
            logger.info("no speech: Canary gave no text for %d piece(s)", len(plan.pieces))
        return SpeechTranslation(
            text=translation,
            source_text=source_text,
            no_speech=not translation,
            meta={
                "load_ms": round(self.load_ms, 2),
                "warmup_ms": round(self.warmup_ms, 2),
                "inference_ms": round(inference_ms, 2),
                "audio_s": round(len(request.audio) / MODEL_SAMPLE_RATE, 3),
                "chunks": float(len(plan.pieces)),
            },
        )


@dataclass(frozen=True)
class DecodingRow:
    """One decoder row of a batch: which piece's encoder output, and its prompt's languages."""

    piece: int
    src: Lang
    tgt: Lang


@dataclass(frozen=True)
class _Plan:
    """A checked request laid out in a batch: its pieces (cut at pauses) and, per piece, one
    decoder row per task (the translation, then the transcript when asked for)."""

    request: TranslationRequest
    pieces: list[np.ndarray]
    tasks: list[tuple[Lang, Lang]]
    first_piece: int
    first_row: int

    @classmethod
    def of(cls, request: TranslationRequest, *, first_piece: int, first_row: int) -> _Plan:
        source = _check_lang(request.src, "source")
        target = _check_lang(request.tgt, "target")
        audio = np.asarray(request.audio)
        if audio.ndim != 1:
            raise EngineError(f"expected mono audio (1-D), got shape {audio.shape}")
        if audio.size == 0:
            raise EngineError("the utterance is empty")
        audio = audio.astype(np.float32, copy=False)
        tasks: list[tuple[Lang, Lang]] = [(source, target)]
        if request.with_source_text and source != target:
            tasks.append((source, source))
        return cls(request, split_at_pauses(audio), tasks, first_piece, first_row)


def _padded_to_minimum(audio: np.ndarray) -> np.ndarray:
    """Input shorter than MIN_INPUT_S gets silence on both sides (as NeMo's array path)."""
    if len(audio) >= MIN_INPUT_S * MODEL_SAMPLE_RATE:
        return audio
    missing = int(MIN_INPUT_S * MODEL_SAMPLE_RATE) - len(audio)
    return np.pad(audio, (missing // 2, missing - missing // 2))
