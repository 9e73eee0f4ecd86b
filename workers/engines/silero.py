"""Silero TTS: text → speech, Russian (`v5_ru`: aidar, baya, kseniya, xenia, eugene) and
English (`v3_en`: en_0 … en_117; no longer maintained by its authors).

The models are `torch.package` files in SILERO_CACHE_DIR, put there once by
`manage.py fetch_models` (nothing is fetched, and no code comes from GitHub, at run time).
Weights licence: CC BY-NC-SA 4.0 (non-commercial).
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from translation.constants import DEFAULT_VOICES, SILERO_VOICES, VOICE_CATALOGUE
from workers.engines.base import LANGS, EngineError, EngineUnavailable, Lang, Speech
from workers.engines.textnorm import normalize_for_speech, split_sentences

logger = logging.getLogger(__name__)

# Silero's published model files, relative to SILERO_BASE_URL. v5_ru is the current Russian
# model (2025); v3_en is the last English one.
SILERO_BASE_URL = "https://models.silero.ai/models/tts"
SAMPLE_RATES = (8000, 24000, 48000)
MAX_CHUNK_CHARS = 500
PAUSE_S = 0.2  # between synthesised chunks


@dataclass(frozen=True)
class SileroModel:
    lang: Lang
    filename: str
    url_path: str  # below SILERO_BASE_URL
    # apply_tts flags of this model family, passed where the loaded model accepts them.
    flags: tuple[tuple[str, bool], ...] = ()

    def url(self, base_url: str = SILERO_BASE_URL) -> str:
        return f"{base_url.rstrip('/')}/{self.url_path}"


SILERO_MODELS: dict[str, SileroModel] = {
    "ru": SileroModel(
        lang="ru",
        filename="v5_ru.pt",
        url_path="ru/v5_ru.pt",
        # Silero's v5 examples: stress marks and ё, also for homographs.
        flags=(
            ("put_accent", True),
            ("put_yo", True),
            ("put_stress_homo", True),
            ("put_yo_homo", True),
        ),
    ),
    "en": SileroModel(
        lang="en",
        filename="v3_en.pt",
        url_path="en/v3_en.pt",
    ),
}


def check_voices(lang: Lang, speakers: list[str] | None, source: str) -> list[str]:
    """Compare a loaded model's speakers with the voices the product offers
    (`translation.constants.SILERO_VOICES`, which the UI and the API list): each difference is
    logged as an error at load and returned (for `manage.py doctor`)."""
    if speakers is None:
        return []
    offered, installed = set(SILERO_VOICES[lang]), set(speakers) - {"random"}
    problems = []
    if missing := sorted(offered - installed):
        problems.append(f"{source} lacks the {lang} voices {', '.join(missing)} that are offered")
    if extra := sorted(installed - offered):
        problems.append(f"{source} has {lang} voices not offered: {', '.join(extra)}")
    for problem in problems:
        logger.error("Silero voice list mismatch: %s (translation/constants.py)", problem)
    return problems


def _describe_voices(voices: tuple[str, ...]) -> str:
    if len(voices) > 8:
        return f"{voices[0]} … {voices[-1]}"
    return ", ".join(voices)


class SileroSynthesizer:
    """`synthesize(text, lang=, voice=)` → `Speech`. A model file is loaded once per language
    (on first use, or by `preload`) and serves all that language's voices."""

    def __init__(
        self,
        cache_dir: Path | str,
        *,
        sample_rate: int = 24000,
        default_voices: dict[str, str] | None = None,
        device: str = "auto",
    ) -> None:
        if sample_rate not in SAMPLE_RATES:
            raise EngineUnavailable(
                f"TTS_SAMPLE_RATE={sample_rate} is not supported by Silero: use one of "
                f"{', '.join(map(str, SAMPLE_RATES))}"
            )
        self.cache_dir = Path(cache_dir)
        self.sample_rate = sample_rate
        self.default_voices: dict[Lang, str] = dict(DEFAULT_VOICES)
        for lang in LANGS:
            voice = (default_voices or {}).get(lang)
            if not voice:
                continue
            try:
                self.default_voices[lang] = self._check_voice(lang, voice)
            except EngineError as exc:
                raise EngineUnavailable(f"TTS_VOICE_{lang.upper()}: {exc}") from exc
        self.device_setting = device
        self._models: dict[str, Any] = {}
        self._load_ms: dict[str, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any) -> SileroSynthesizer:
        synthesizer = cls(
            settings.SILERO_CACHE_DIR,
            sample_rate=int(settings.TTS_SAMPLE_RATE),
            default_voices={
                lang: voice
                for lang, voice in (("ru", settings.TTS_VOICE_RU), ("en", settings.TTS_VOICE_EN))
                # another engine's voice (workers/engines/voices.py routes it): Silero keeps its own
                if voice not in VOICE_CATALOGUE or VOICE_CATALOGUE[voice].engine == "silero"
            },
            device=getattr(settings, "MODEL_DEVICE", "auto"),
        )
        synthesizer.preload()
        return synthesizer

    def model_path(self, lang: Lang) -> Path:
        return self.cache_dir / SILERO_MODELS[lang].filename

    def preload(self) -> None:
        """Load every language whose file is present; a missing one is logged and reported
        (EngineUnavailable) when it is first asked for."""
        for lang in LANGS:
            if self.model_path(lang).is_file():
                self._model(lang)
            else:
                logger.warning(
                    "Silero %s model missing at %s: run `python manage.py fetch_models`",
                    lang,
                    self.model_path(lang),
                )

    def _check_voice(self, lang: Lang, voice: str) -> str:
        voices = SILERO_VOICES[lang]
        if voice not in voices:
            raise EngineError(
                f"unknown {lang} voice {voice!r}: choose one of {_describe_voices(voices)}"
            )
        return voice

    def _device(self) -> str:
        import torch

        setting = (self.device_setting or "auto").lower()
        if setting == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return setting

    def _model(self, lang: Lang) -> Any:
        with self._lock:
            if lang in self._models:
                return self._models[lang]
            path = self.model_path(lang)
            if not path.is_file():
                raise EngineUnavailable(
                    f"the Silero {lang} voice model is missing ({path}): run "
                    "`python manage.py fetch_models` with internet access (or copy "
                    f"{SILERO_MODELS[lang].filename} into SILERO_CACHE_DIR)"
                )
            import torch
            import torch.package

            started = time.perf_counter()
            try:
                model = torch.package.PackageImporter(str(path)).load_pickle("tts_models", "model")
                model.to(torch.device(self._device()))
            except Exception as exc:
                raise EngineUnavailable(
                    f"could not load the Silero {lang} model from {path} "
                    f"({type(exc).__name__}: {exc}): delete the file and run "
                    "`python manage.py fetch_models` again"
                ) from exc
            self._load_ms[lang] = (time.perf_counter() - started) * 1000.0
            logger.info("loaded Silero %s in %.0f ms", path.name, self._load_ms[lang])
            check_voices(lang, getattr(model, "speakers", None), path.name)
            self._models[lang] = model
            return model

    def _flags(self, lang: Lang, model: Any) -> dict[str, bool]:
        """The language's `apply_tts` flags that this model's `apply_tts` accepts (v3 English
        is called with its own defaults)."""
        try:
            parameters = inspect.signature(model.apply_tts).parameters
        except (TypeError, ValueError):  # a compiled method without a signature
            return {}
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        return {
            name: value
            for name, value in SILERO_MODELS[lang].flags
            if takes_any or name in parameters
        }

    def synthesize(self, text: str, *, lang: Lang, voice: str | None = None) -> Speech:
        if lang not in LANGS:
            raise EngineError(f"unsupported TTS language {lang!r}: expected one of {list(LANGS)}")
        speaker = self._check_voice(lang, voice) if voice else self.default_voices[lang]
        spoken = normalize_for_speech(text, lang)
        chunks = [
            c for c in split_sentences(spoken, MAX_CHUNK_CHARS) if any(ch.isalpha() for ch in c)
        ]
        if not chunks:
            raise EngineError("nothing to speak: the text has no words")
        model = self._model(lang)
        flags = self._flags(lang, model)
        loaded_speakers = getattr(model, "speakers", None)
        if loaded_speakers is not None and speaker not in loaded_speakers:
            raise EngineError(
                f"voice {speaker!r} is not in the installed {SILERO_MODELS[lang].filename}: "
                f"choose one of {', '.join(s for s in loaded_speakers if s != 'random')}"
            )

        import torch

        started = time.perf_counter()
        pause = np.zeros(int(PAUSE_S * self.sample_rate), dtype=np.float32)
        parts: list[np.ndarray] = []
        with torch.inference_mode(), self._lock:
            for chunk in chunks:
                try:
                    wave = model.apply_tts(
                        text=chunk, speaker=speaker, sample_rate=self.sample_rate, **flags
                    )
                except Exception as exc:
                    raise EngineError(f"Silero could not say {chunk[:60]!r}: {exc}") from exc
                if parts:
                    parts.append(pause)
                samples = torch.as_tensor(wave).detach().float().cpu().numpy()
                parts.append(samples.reshape(-1).astype(np.float32, copy=False))
        audio = np.clip(np.concatenate(parts), -1.0, 1.0).astype(np.float32, copy=False)
        return Speech(
            audio=audio,
            sample_rate=self.sample_rate,
            meta={
                "tts_ms": round((time.perf_counter() - started) * 1000.0, 2),
                "load_ms": round(self._load_ms.get(lang, 0.0), 2),
                "chunks": float(len(chunks)),
                "chars": float(len(spoken)),
                "audio_s": round(len(audio) / self.sample_rate, 3),
            },
        )
