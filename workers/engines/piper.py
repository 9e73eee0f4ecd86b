"""Piper voices: text → speech with ONNX VITS models run by onnxruntime (CPU, or CUDA when
onnxruntime sees it), phonemes from espeak-ng through Piper's own bridge (`piper-tts`).

A voice is three files in PIPER_VOICES_DIR, put there once by `manage.py fetch_models` from
rhasspy/piper-voices: `<key>.onnx` (inputs `input` [1, n] int64 phoneme ids, `input_lengths`
[1] int64, `scales` [3] float32 = noise, length, noise_w; `sid` [1] int64 for multi-speaker
voices; output float32 audio at the voice's rate), `<key>.onnx.json` (Piper's config:
`audio.sample_rate`, `espeak.voice`, `phoneme_id_map`, `inference`, `num_speakers`, ...) and
`<key>.MODEL_CARD` (the voice's dataset and licence). Piper's library does the phonemes, the ids
(BOS "^", pad "_" after each phoneme, EOS "$") and the model call; this module adds our text
normalisation before it and the resampling to TTS_SAMPLE_RATE after it.

The code (piper-tts) is GPL-3.0-or-later, as espeak-ng is; each voice's weights have the
licence of its model card (translation/constants.py, README "Licences").
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from translation.audio.pcm import resample_float32
from translation.constants import PIPER_PREFIX, PIPER_VOICES
from workers.engines.base import LANGS, EngineError, EngineUnavailable, Lang, Speech
from workers.engines.textnorm import normalize_for_speech

if TYPE_CHECKING:
    from piper import PiperVoice

logger = logging.getLogger(__name__)

# A pinned tag of the voices' repository (the one Piper's own VOICES.md links to).
PIPER_BASE_URL = "https://huggingface.co/rhasspy/piper-voices/resolve/v1.0.0"
PAUSE_S = 0.2  # between the sentences of one call, as Silero's engine does
FETCH = "python manage.py fetch_models --only piper"


@dataclass(frozen=True)
class PiperVoiceFiles:
    """Where one voice lives upstream and what its model file must be (size and MD5 from
    Piper's voices.json), so a truncated or altered download is caught."""

    key: str  # Piper's name: <lang>_<REGION>-<dataset>-<quality>
    onnx_bytes: int
    onnx_md5: str

    @property
    def repo_dir(self) -> str:
        """`ru/ru_RU/denis/medium`: rhasspy/piper-voices' folder of this voice."""
        locale, dataset, quality = self.key.split("-")
        return f"{locale.split('_')[0]}/{locale}/{dataset}/{quality}"

    def url(self, suffix: str, base_url: str = PIPER_BASE_URL) -> str:
        name = "MODEL_CARD" if suffix == ".MODEL_CARD" else f"{self.key}{suffix}"
        return f"{base_url.rstrip('/')}/{self.repo_dir}/{name}"


PIPER_FILE_SUFFIXES = (".onnx.json", ".MODEL_CARD", ".onnx")
PIPER_VOICE_FILES: dict[str, PiperVoiceFiles] = {
    files.key: files
    for files in (
        PiperVoiceFiles("ru_RU-denis-medium", 63201294, "76c2f14e521fef3ed574f97ad492728e"),
        PiperVoiceFiles("ru_RU-dmitri-medium", 63201294, "589ccc91745a1e2353508ff62c5941b7"),
        PiperVoiceFiles("ru_RU-irina-medium", 63201294, "21fbe77fdc68bdc35d7adb6bf4f52199"),
        PiperVoiceFiles("ru_RU-ruslan-medium", 63201294, "731eb188e63b4c57320e38047ba2d850"),
        PiperVoiceFiles("en_US-lessac-medium", 63201294, "2fc642b535197b6305c7c8f92dc8b24f"),
        PiperVoiceFiles("en_US-amy-medium", 63201294, "778d28aeb95fcdf8a882344d9df142fc"),
        PiperVoiceFiles("en_US-ryan-medium", 63201294, "8f06d3aff8ded5a7f13f907e6bec32ac"),
        PiperVoiceFiles("en_GB-alan-medium", 63201294, "8f6b35eeb8ef6269021c6cb6d2414c9b"),
    )
}


def piper_key(voice: str) -> str:
    """`piper:ru_RU-denis-medium` → `ru_RU-denis-medium`."""
    return voice.removeprefix(PIPER_PREFIX)


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def voice_paths(voices_dir: Path | str, key: str) -> dict[str, Path]:
    """The files of voice `key` in the cache, by suffix (`.onnx`, `.onnx.json`, `.MODEL_CARD`)."""
    return {suffix: Path(voices_dir) / f"{key}{suffix}" for suffix in PIPER_FILE_SUFFIXES}


def onnx_providers(device: str) -> list[Any]:
    """onnxruntime's providers for MODEL_DEVICE: CUDA first where it is asked for or (auto)
    available (the `onnxruntime-gpu` build), always the CPU after it."""
    import onnxruntime

    setting = (device or "auto").lower()
    available = onnxruntime.get_available_providers()
    wants_cuda = setting.startswith("cuda") or setting == "auto"
    if wants_cuda and "CUDAExecutionProvider" in available:
        index = int(setting.split(":")[1]) if ":" in setting else 0
        cuda = {"device_id": index, "cudnn_conv_algo_search": "HEURISTIC"}
        return [("CUDAExecutionProvider", cuda), "CPUExecutionProvider"]
    if setting.startswith("cuda"):
        logger.warning(
            "MODEL_DEVICE=%s but onnxruntime offers no CUDA (%s): Piper runs on the CPU "
            "(install onnxruntime-gpu for the GPU)",
            device,
            ", ".join(available),
        )
    return ["CPUExecutionProvider"]


class PiperSynthesizer:
    """`synthesize(text, lang=, voice=)` → `Speech` at `sample_rate`. Each voice is loaded
    once (on first use, or by `preload`); a missing or broken voice raises EngineUnavailable
    with what to do, and is tried again on the next call (after `fetch_models`)."""

    def __init__(
        self,
        voices_dir: Path | str,
        *,
        sample_rate: int = 24000,
        default_voices: dict[str, str] | None = None,
        device: str = "auto",
        threads: int = 0,
    ) -> None:
        self.voices_dir = Path(voices_dir)
        self.sample_rate = int(sample_rate)
        self.default_voices: dict[Lang, str] = {}
        for lang in LANGS:
            if voice := (default_voices or {}).get(lang):
                try:
                    self.default_voices[lang] = self._check_voice(lang, voice)
                except EngineError as exc:
                    raise EngineUnavailable(f"TTS_VOICE_{lang.upper()}: {exc}") from exc
        self.device = device
        self.threads = threads
        self._voices: dict[str, PiperVoice] = {}
        self._load_ms: dict[str, float] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any) -> PiperSynthesizer:
        chosen = {"ru": settings.TTS_VOICE_RU, "en": settings.TTS_VOICE_EN}
        synthesizer = cls(
            settings.PIPER_VOICES_DIR,
            sample_rate=int(settings.TTS_SAMPLE_RATE),
            default_voices={lang: v for lang, v in chosen.items() if v.startswith(PIPER_PREFIX)},
            device=getattr(settings, "MODEL_DEVICE", "auto"),
            threads=int(getattr(settings, "TORCH_NUM_THREADS", 0) or 0),
        )
        synthesizer.preload()
        return synthesizer

    def preload(self) -> None:
        """Load the default voices whose files are present; a missing one is logged now and
        reported (EngineUnavailable) when it is first asked for."""
        for voice in self.default_voices.values():
            try:
                self._voice(piper_key(voice))
            except EngineUnavailable as exc:
                logger.warning("Piper voice %s not loaded: %s", voice, exc)

    def _check_voice(self, lang: Lang, voice: str) -> str:
        if lang not in LANGS:
            raise EngineError(f"unsupported TTS language {lang!r}: expected one of {list(LANGS)}")
        if voice not in PIPER_VOICES[lang]:
            offered = ", ".join(PIPER_VOICES[lang])
            raise EngineError(f"unknown Piper {lang} voice {voice!r}: choose one of {offered}")
        return voice

    def _voice(self, key: str) -> PiperVoice:
        with self._lock:
            if key in self._voices:
                return self._voices[key]
            paths = voice_paths(self.voices_dir, key)
            model, config = paths[".onnx"], paths[".onnx.json"]
            for path in (model, config):
                if not path.is_file():
                    raise EngineUnavailable(
                        f"the Piper voice {key} is missing ({path}): run `{FETCH}` with "
                        "internet access (or copy the voice's .onnx and .onnx.json into "
                        "PIPER_VOICES_DIR)"
                    )
            started = time.perf_counter()
            voice = self._load(key, model, config)
            self._load_ms[key] = (time.perf_counter() - started) * 1000.0
            logger.info("loaded Piper %s in %.0f ms", key, self._load_ms[key])
            self._voices[key] = voice
            return voice

    def _load(self, key: str, model: Path, config_path: Path) -> PiperVoice:
        """Piper's config and an onnxruntime session on our providers (Piper's own `load`
        knows only CPU or CUDA 0 and no thread limit)."""
        import onnxruntime
        from piper import PiperConfig, PiperVoice

        try:
            config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            raise EngineUnavailable(
                f"the Piper voice config {config_path} is not valid ({type(exc).__name__}: "
                f"{exc}): delete it and run `{FETCH}` again"
            ) from exc
        options = onnxruntime.SessionOptions()
        if self.threads > 0:
            options.intra_op_num_threads = self.threads
        try:
            session = onnxruntime.InferenceSession(
                str(model), sess_options=options, providers=onnx_providers(self.device)
            )
        except Exception as exc:
            raise EngineUnavailable(
                f"could not load the Piper voice {key} from {model} ({type(exc).__name__}: "
                f"{exc}): delete it and run `{FETCH}` again"
            ) from exc
        names = {i.name for i in session.get_inputs()}
        if not {"input", "input_lengths", "scales"} <= names:
            raise EngineUnavailable(
                f"{model} is not a Piper voice: its inputs are {sorted(names)}, expected "
                "input, input_lengths, scales (and sid)"
            )
        return PiperVoice(session=session, config=config)

    def synthesize(self, text: str, *, lang: Lang, voice: str | None = None) -> Speech:
        chosen = voice or self.default_voices.get(lang)
        if not chosen:
            raise EngineError(f"no Piper {lang} voice chosen: set TTS_VOICE_{lang.upper()}")
        self._check_voice(lang, chosen)
        spoken = normalize_for_speech(text, lang)
        if not any(ch.isalpha() for ch in spoken):
            raise EngineError("nothing to speak: the text has no words")
        key = piper_key(chosen)
        piper_voice = self._voice(key)

        from piper import SynthesisConfig

        started = time.perf_counter()
        rate = piper_voice.config.sample_rate
        parts: list[np.ndarray] = []
        sentences = 0
        try:  # one chunk per sentence (espeak-ng's sentence ends)
            for chunk in piper_voice.synthesize(spoken, SynthesisConfig()):
                sentences += 1
                if parts:
                    parts.append(np.zeros(int(PAUSE_S * rate), dtype=np.float32))
                parts.append(chunk.audio_float_array.reshape(-1))
        except Exception as exc:
            raise EngineError(f"Piper {key} could not say {spoken[:60]!r}: {exc}") from exc
        if not parts:
            raise EngineError(f"Piper {key} found nothing to say in {spoken[:60]!r}")
        native = np.concatenate(parts)
        audio = np.clip(resample_float32(native, rate, self.sample_rate), -1.0, 1.0)
        return Speech(
            audio=audio.astype(np.float32, copy=False),
            sample_rate=self.sample_rate,
            meta={
                "tts_ms": round((time.perf_counter() - started) * 1000.0, 2),
                "load_ms": round(self._load_ms.get(key, 0.0), 2),
                "chunks": float(sentences),
                "chars": float(len(spoken)),
                "audio_s": round(len(audio) / self.sample_rate, 3),
            },
        )
