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
)

logger = logging.getLogger(__name__)

MAX_CHUNK_S = 30.0  # Canary handles ~40 s; stay well inside
MIN_CHUNK_S = 10.0  # cut points are looked for in the last part of a 30 s window
FRAME_S = 0.1  # energy frames for choosing cut points
MIN_INPUT_S = 1.0  # shorter input is padded with silence (as NeMo's own array path does)
DEFAULT_MAX_GENERATION_DELTA = 50
"""Generated tokens are at most (encoder frames + this) − prompt length; the encoder gives 12.5
frames per second of audio (8× subsampling of 10 ms features), above any real speech rate."""
SPECIAL_TOKEN = re.compile(r"<\|[^<>|]*\|>")
# Config keys set before the model is built: the timestamps aligner stays in the file.
CONFIG_OVERRIDES = {"restore_timestamps_model": False}

_cache_lock = threading.Lock()
_loaded: dict[tuple[str, str, int], CanaryTranslator] = {}


def split_at_pauses(
    audio: np.ndarray,
    sample_rate: int = MODEL_SAMPLE_RATE,
    max_s: float = MAX_CHUNK_S,
    min_s: float = MIN_CHUNK_S,
) -> list[np.ndarray]:
    """Cut audio into pieces of at most max_s, each cut at the quietest 100 ms frame found
    between min_s and max_s after the previous cut."""
    max_len = int(max_s * sample_rate)
    if len(audio) <= max_len:
        return [audio]
    frame = max(1, int(FRAME_S * sample_rate))
    pieces = []
    start = 0
    while len(audio) - start > max_len:
        lo = start + int(min_s * sample_rate)
        frames = (max_len - int(min_s * sample_rate)) // frame
        window = audio[lo : lo + frames * frame].astype(np.float64)
        energy = (window.reshape(frames, frame) ** 2).mean(axis=1)
        quietest = int(np.argmin(energy))
        cut = lo + quietest * frame + frame // 2
        pieces.append(audio[start:cut])
        start = cut
    pieces.append(audio[start:])
    return pieces


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
        if len(audio) < MIN_INPUT_S * MODEL_SAMPLE_RATE:
            missing = int(MIN_INPUT_S * MODEL_SAMPLE_RATE) - len(audio)
            audio = np.pad(audio, (missing // 2, missing - missing // 2))
        rows = len(tasks)
        device = torch.device(self.device)
        signal = torch.tensor(audio, dtype=torch.float32, device=device)
        prompts = torch.stack([self.prompt_ids(src, tgt) for src, tgt in tasks]).to(device)
        with self._lock, nemo_loading.inference(self.device, self.dtype):
            _, _, encoded, mask = self.model.forward(
                input_signal=signal.unsqueeze(0),
                input_signal_length=torch.tensor([signal.shape[0]], device=device),
            )
            hypotheses = self.model.decoding.decode_predictions_tensor(
                encoder_hidden_states=encoded.repeat(rows, 1, 1),
                encoder_input_mask=mask.repeat(rows, 1),
                decoder_input_ids=prompts,
                return_hypotheses=False,
            )
        return [getattr(h, "text", h) for h in hypotheses]

    def translate(
        self, audio: np.ndarray, *, src: Lang, tgt: Lang, with_source_text: bool = True
    ) -> SpeechTranslation:
        """`audio`: 16 kHz mono float32. Text in `tgt`, and (optionally) the `src` transcript."""
        source = _check_lang(src, "source")
        target = _check_lang(tgt, "target")
        audio = np.asarray(audio)
        if audio.ndim != 1:
            raise EngineError(f"expected mono audio (1-D), got shape {audio.shape}")
        if audio.size == 0:
            raise EngineError("the utterance is empty")
        audio = audio.astype(np.float32, copy=False)
        tasks: list[tuple[Lang, Lang]] = [(source, target)]
        if with_source_text and source != target:
            tasks.append((source, source))

        started = time.perf_counter()
        pieces = split_at_pauses(audio)
        texts: list[list[str]] = [[] for _ in tasks]
        try:
            for piece in pieces:
                for i, text in enumerate(self.decode(piece, tasks)):
                    if cleaned := strip_special_tokens(text):
                        texts[i].append(cleaned)
        except torch.cuda.OutOfMemoryError as exc:
            torch.cuda.empty_cache()
            raise EngineError(
                f"out of GPU memory translating {len(audio) / MODEL_SAMPLE_RATE:.1f} s of audio"
            ) from exc
        inference_ms = (time.perf_counter() - started) * 1000.0

        translation = " ".join(texts[0])
        if not with_source_text:
            source_text = None
        elif source == target:
            source_text = translation
        else:
            source_text = " ".join(texts[1])
        if not translation:
            logger.info("no speech: Canary gave no text for %d piece(s)", len(pieces))
        return SpeechTranslation(
            text=translation,
            source_text=source_text,
            no_speech=not translation,
            meta={
                "load_ms": round(self.load_ms, 2),
                "warmup_ms": round(self.warmup_ms, 2),
                "inference_ms": round(inference_ms, 2),
                "audio_s": round(len(audio) / MODEL_SAMPLE_RATE, 3),
                "chunks": float(len(pieces)),
            },
        )
