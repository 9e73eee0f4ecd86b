"""Spoken language ID with NeMo's AmberNet (`langid_ambernet`, `EncDecSpeakerLabelModel`),
restricted to English and Russian: softmax over the logits of the "en" and "ru" labels only.

Runs on the array directly (NeMo's `get_label` wants a file path).
"""

from __future__ import annotations

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
    LanguageGuess,
)

MAX_LID_S = 20.0  # the language is clear long before this; bound the cost of long uploads
MIN_LID_S = 0.5

_cache_lock = threading.Lock()
_loaded: dict[tuple[str, str], AmberNetIdentifier] = {}


def model_labels(model: Any) -> list[str]:
    """The class labels of a NeMo label model, in logit order."""
    cfg = model.cfg
    labels = cfg.get("labels") or (cfg.get("train_ds") or {}).get("labels")
    if not labels:
        raise EngineUnavailable("the language-ID model has no labels in its config")
    return [str(label) for label in labels]


class AmberNetIdentifier:
    """`identify(audio)` → `LanguageGuess` (en or ru) with a loaded label model."""

    def __init__(self, model: Any, *, device: str, model_name: str, load_ms: float) -> None:
        labels = model_labels(model)
        missing = [lang for lang in LANGS if lang not in labels]
        if missing:
            raise EngineUnavailable(
                f"the language-ID model {model_name!r} has no label(s) {missing}: "
                "use langid_ambernet or another model with 'en' and 'ru' labels"
            )
        self.model = model
        self.device = device
        self.dtype = nemo_loading.autocast_dtype(device)
        self.model_name = model_name
        self.load_ms = load_ms
        self.label_index = [labels.index(lang) for lang in LANGS]
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any) -> AmberNetIdentifier:
        return cls.load(settings.LID_MODEL, device=getattr(settings, "MODEL_DEVICE", "auto"))

    @classmethod
    def load(cls, model_name: str, *, device: str = "auto") -> AmberNetIdentifier:
        resolved = nemo_loading.resolve_device(device)
        with _cache_lock:
            key = (model_name, resolved)
            if key not in _loaded:
                from nemo.collections.asr.models import EncDecSpeakerLabelModel

                model, load_ms = nemo_loading.load_nemo_model(
                    EncDecSpeakerLabelModel, model_name, device=resolved, setting="LID_MODEL"
                )
                _loaded[key] = cls(model, device=resolved, model_name=model_name, load_ms=load_ms)
            return _loaded[key]

    def identify(self, audio: np.ndarray) -> LanguageGuess:
        audio = np.asarray(audio)
        if audio.ndim != 1 or audio.size == 0:
            raise EngineError(f"expected non-empty mono audio (1-D), got shape {audio.shape}")
        audio = audio[: int(MAX_LID_S * MODEL_SAMPLE_RATE)].astype(np.float32, copy=False)
        if audio.size < MIN_LID_S * MODEL_SAMPLE_RATE:
            audio = np.pad(audio, (0, int(MIN_LID_S * MODEL_SAMPLE_RATE) - audio.size))
        started = time.perf_counter()
        signal = torch.from_numpy(np.ascontiguousarray(audio)).unsqueeze(0).to(self.device)
        length = torch.tensor([signal.shape[1]], device=self.device)
        with self._lock, nemo_loading.inference(self.device, self.dtype):
            logits, _ = self.model.forward(input_signal=signal, input_signal_length=length)
        pair = logits[0, self.label_index].float().cpu()
        probs = torch.softmax(pair, dim=0)
        best = int(torch.argmax(probs))
        return LanguageGuess(
            lang=LANGS[best],
            confidence=float(probs[best]),
            meta={
                "lid_ms": round((time.perf_counter() - started) * 1000.0, 2),
                "load_ms": round(self.load_ms, 2),
                "p_en": round(float(probs[0]), 4),
                "p_ru": round(float(probs[1]), 4),
            },
        )
