"""What `manage.py doctor` checks: the worker's device and precision, the GPU, the model files,
their load times and one synthetic round trip through the models, and the media folder's disk.

Each check returns `Check`s (a label, what was found, and whether it is a problem with the
step to fix it); the command prints them. torch and NeMo are imported inside the checks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workers.engines.base import MODEL_SAMPLE_RATE, EngineError

FETCH = "python manage.py fetch_models"
CANARY_ENGINE = "workers.engines.canary.CanaryTranslator"
SILERO_ENGINE = "workers.engines.silero.SileroSynthesizer"
PIPER_ENGINE = "workers.engines.piper.PiperSynthesizer"
VOICE_ROUTER = "workers.engines.voices.VoiceRouter"
LID_ENGINE = "workers.engines.langid.AmberNetIdentifier"
FALLBACK_PHRASE = {"ru": "Проверка связи.", "en": "This is a test."}


@dataclass(frozen=True)
class Check:
    label: str
    found: str
    problem: str = ""  # empty: fine; else what is wrong and what to do

    @property
    def ok(self) -> bool:
        return not self.problem


def device_checks(settings: Any) -> list[Check]:
    """The device and precision the worker would use, the torch build, the GPU and driver."""
    import torch

    from workers.engines import nemo_loading

    checks = [
        Check(
            "torch",
            f"{torch.__version__} (CUDA build {torch.version.cuda or 'none'}), "
            f"{torch.get_num_threads()} CPU threads",
        ),
        onnxruntime_check(settings),
    ]
    try:
        device = nemo_loading.resolve_device(settings.MODEL_DEVICE)
    except EngineError as exc:
        return [*checks, Check("device", f"MODEL_DEVICE={settings.MODEL_DEVICE}", str(exc))]
    dtype = nemo_loading.describe_dtype(nemo_loading.autocast_dtype(device))
    checks.append(Check("device", f"{device} (MODEL_DEVICE={settings.MODEL_DEVICE}), {dtype}"))
    if not device.startswith("cuda"):
        visible = "none visible" if not torch.cuda.is_available() else "visible, not used"
        checks.append(Check("GPU", f"{visible}; driver {nvidia_driver() or 'not found'}"))
        return checks
    index = torch.device(device).index or 0
    props = torch.cuda.get_device_properties(index)
    free, total = torch.cuda.mem_get_info(index)
    checks.append(
        Check(
            "GPU",
            f"{props.name}, compute {props.major}.{props.minor}, driver "
            f"{nvidia_driver() or 'unknown'}, {free / 2**30:.1f} of {total / 2**30:.1f} GiB free",
            ""
            if free >= 6 * 2**30
            else "less than 6 GiB of GPU memory free: Canary needs about 5 GiB; stop other "
            "processes on this GPU (one worker per GPU)",
        )
    )
    return checks


def onnxruntime_check(settings: Any) -> Check:
    """onnxruntime (Piper's voices) and the provider it would run them on."""
    import onnxruntime

    from workers.engines.piper import onnx_providers

    chosen = onnx_providers(settings.MODEL_DEVICE)[0]
    name = chosen[0] if isinstance(chosen, tuple) else chosen
    available = ", ".join(onnxruntime.get_available_providers())
    return Check("onnxruntime", f"{onnxruntime.__version__}, Piper on {name} ({available})")


def storage_checks(settings: Any) -> list[Check]:
    """Free space and the size of the media folder (the recordings), against
    MEDIA_MIN_FREE_MB (below it uploads and live utterances are refused). With an S3 bucket
    there is no local disk to report: the bucket's name and endpoint instead."""
    from translation.history import storage

    free = storage.free_bytes()
    sized = storage.media_size()
    if free is None or sized is None:
        store = storage.recordings_storage()
        bucket = getattr(store, "bucket_name", None) or type(store).__name__
        endpoint = getattr(store, "endpoint_url", None) or "AWS"
        return [
            Check(
                "media storage",
                f"bucket {bucket} at {endpoint} (an object store: no local disk to guard, "
                "its size not reported)",
            )
        ]
    size, files = sized
    minimum = settings.MEDIA_MIN_FREE_MB * 2**20
    low = bool(minimum) and free < minimum
    return [
        Check(
            "media folder",
            f"{settings.MEDIA_ROOT}: {size / 2**20:.1f} MiB in {files} files; "
            f"{free / 2**30:.1f} GiB free (minimum MEDIA_MIN_FREE_MB={settings.MEDIA_MIN_FREE_MB})",
            "less free space than MEDIA_MIN_FREE_MB: uploads and live utterances are refused; "
            "run `python manage.py purge_history` or lower HISTORY_RETENTION_DAYS"
            if low
            else "",
        )
    ]


def nvidia_driver() -> str:
    """The NVIDIA driver version from nvidia-smi, or "" when there is none."""
    if not shutil.which("nvidia-smi"):
        return ""
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip().splitlines()[0] if done.stdout.strip() else ""


def model_file_checks(settings: Any) -> list[Check]:
    """Each model's file: where it is and its size, or that it is missing and how to fetch it."""
    checks = []
    if settings.RUTRANS_TRANSLATOR == CANARY_ENGINE:
        from nemo.collections.asr.models import ASRModel

        checks.append(_nemo_file("Canary", ASRModel, settings.CANARY_MODEL, "CANARY_MODEL"))
    else:
        checks.append(
            Check("Canary", f"not used (RUTRANS_TRANSLATOR={settings.RUTRANS_TRANSLATOR})")
        )
    if settings.RUTRANS_LANGUAGE_IDENTIFIER == LID_ENGINE:
        from nemo.collections.asr.models import EncDecSpeakerLabelModel

        checks.append(
            _nemo_file("language ID", EncDecSpeakerLabelModel, settings.LID_MODEL, "LID_MODEL")
        )
    if settings.RUTRANS_SYNTHESIZER in (SILERO_ENGINE, VOICE_ROUTER):
        checks += silero_file_checks(settings)
    if settings.RUTRANS_SYNTHESIZER in (PIPER_ENGINE, VOICE_ROUTER):
        checks += piper_voice_checks(settings)
    return checks


def _default_voices(settings: Any) -> dict[str, str]:
    return {"ru": settings.TTS_VOICE_RU, "en": settings.TTS_VOICE_EN}


def silero_file_checks(settings: Any) -> list[Check]:
    """Silero's packages: a problem when missing only while a default voice is Silero's (a
    session may still pick a Silero voice: it then gets a clear tts_failed)."""
    from translation.constants import SILERO_VOICES
    from workers.engines.silero import SILERO_MODELS

    checks = []
    for lang, model in SILERO_MODELS.items():
        path = Path(settings.SILERO_CACHE_DIR) / model.filename
        check = _file_check(f"Silero {lang}", path, f"{FETCH} --only silero")
        default = _default_voices(settings)[lang]
        if not check.ok and default not in SILERO_VOICES[lang]:  # type: ignore[index]
            check = Check(check.label, f"{check.found} (not needed by the default {default})")
        checks.append(check)
    return checks


def piper_voice_checks(settings: Any) -> list[Check]:
    """Each Piper voice that is a default voice (a problem when missing or not the published
    file), and every other one that is fetched, with the licence its model card states."""
    from translation.constants import PIPER_VOICES
    from workers.engines.piper import piper_key, voice_paths
    from workers.models_fetch import check_piper_model

    defaults = set(_default_voices(settings).values())
    checks = []
    for voice in (v for lang in ("ru", "en") for v in PIPER_VOICES[lang]):
        key = piper_key(voice)
        paths = voice_paths(settings.PIPER_VOICES_DIR, key)
        label = f"Piper {key.rsplit('-', 1)[0]}"
        missing = [path for path in paths.values() if not path.is_file()]
        if missing and voice not in defaults:
            continue  # not fetched and not needed by default: nothing to say
        fetch = f"{FETCH} --only piper --piper-voices {voice}"
        if missing:
            found = f"missing: {', '.join(str(path) for path in missing)}"
            checks.append(Check(label, found, f"run `{fetch}` with internet access"))
            continue
        model = paths[".onnx"]
        found = f"{model} ({model.stat().st_size / 2**20:.1f} MiB); {card_licence(paths)}"
        if problem := check_piper_model(model, key):
            checks.append(Check(label, found, f"{problem}: delete it and run `{fetch}`"))
        else:
            checks.append(Check(label, found))
    return checks


def card_licence(paths: dict[str, Path]) -> str:
    """The licence lines of a voice's MODEL_CARD, as the card states them."""
    card = paths[".MODEL_CARD"].read_text(encoding="utf-8", errors="replace")
    licences = [
        line.split(":", 1)[1].strip()
        for line in card.splitlines()
        if line.lstrip("* ").lower().startswith("license:")
    ]
    return "licence per MODEL_CARD: " + ("; ".join(licences) or "none stated")


def _nemo_file(label: str, model_cls: Any, name: str, setting: str) -> Check:
    from workers.engines import nemo_loading

    if nemo_loading.is_local_model(name):
        return _file_check(label, Path(name), f"point {setting} at an existing .nemo file")
    if "/" not in name:  # a NeMo NGC name
        try:
            path = nemo_loading.nemo_ngc_cache_path(model_cls, name)
        except EngineError as exc:
            return Check(label, name, str(exc))
        return _file_check(label, path, FETCH)
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(name, f"{name.split('/')[-1]}.nemo")
    if isinstance(cached, str):
        return _file_check(label, Path(cached), FETCH)
    cache = os.environ.get("HF_HUB_CACHE") or os.environ.get("HF_HOME") or "~/.cache/huggingface"
    return Check(
        label,
        f"{name}: missing from the Hugging Face cache ({cache})",
        f"run `{FETCH}` with internet access",
    )


def _file_check(label: str, path: Path, fetch: str) -> Check:
    if not path.is_file():
        return Check(label, f"missing: {path}", f"run `{fetch}` with internet access")
    return Check(label, f"{path} ({path.stat().st_size / 2**20:.1f} MiB)")


def load_checks(get_engine: Callable[[str], Any]) -> tuple[list[Check], dict[str, Any]]:
    """Load each engine the way the worker does; the load time, or why it failed."""
    checks, engines = [], {}
    for role in ("translator", "identifier", "synthesizer"):
        started = time.perf_counter()
        try:
            engines[role] = get_engine(role)
        except EngineError as exc:
            checks.append(Check(f"load {role}", "failed", str(exc)))
            continue
        load_ms = (time.perf_counter() - started) * 1000.0
        checks.append(Check(f"load {role}", f"{type(engines[role]).__name__} in {load_ms:.0f} ms"))
    return checks, engines


def synthetic_utterance(seconds: float = 1.0) -> np.ndarray:
    """A voiced sound (a 120 Hz glottal-like tone with vowel formants, syllable-rate
    loudness): something every stage can run on. Not speech: Canary may hear none."""
    t = np.arange(int(seconds * MODEL_SAMPLE_RATE)) / MODEL_SAMPLE_RATE
    voice = sum(
        np.sin(2 * np.pi * 120 * k * t) / k * (1.5 if 600 <= 120 * k <= 1200 else 1.0)
        for k in range(1, 30)
    )
    envelope = 0.5 * (1 - np.cos(2 * np.pi * 4 * t))
    return (0.2 * voice * envelope / np.abs(voice).max()).astype(np.float32)


def round_trip_check(engines: dict[str, Any]) -> list[Check]:
    """1 s of synthetic audio through language ID → Canary → the voice, each stage timed. When
    Canary hears no speech in it, the voice speaks a fixed phrase instead. Without the language
    ID (it did not load) the round trip still runs as a fixed direction, en->ru, which is what
    a session with a mode set does; only the translator and the synthesizer are required."""
    missing = [role for role in ("translator", "synthesizer") if role not in engines]
    if missing:
        return [Check("round trip", "skipped", f"the {' and '.join(missing)} did not load")]
    audio = synthetic_utterance()
    timings: dict[str, float] = {}
    stages = (["lid"] if "identifier" in engines else []) + ["canary", "tts"]
    try:
        source = "en"
        if "identifier" in engines:
            started = time.perf_counter()
            source = engines["identifier"].identify(audio).lang
            timings["lid"] = (time.perf_counter() - started) * 1000.0
        target = "ru" if source == "en" else "en"
        started = time.perf_counter()
        translation = engines["translator"].translate(audio, src=source, tgt=target)
        timings["canary"] = (time.perf_counter() - started) * 1000.0
        text = translation.text or FALLBACK_PHRASE[target]
        started = time.perf_counter()
        speech = engines["synthesizer"].synthesize(text, lang=target)
        timings["tts"] = (time.perf_counter() - started) * 1000.0
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        stage = stages[len(timings)]
        return [Check("round trip", f"failed at {stage}", f"{type(exc).__name__}: {exc}")]
    heard = f"{len(translation.text)} characters" if translation.text else "no speech"
    direction = f"{source}->{target}" + ("" if "lid" in timings else " (fixed: no language ID)")
    timed = ", ".join(f"{name} {ms:.0f} ms" for name, ms in timings.items())
    spoken_s = speech.meta.get("audio_s", 0.0)
    return [
        Check(
            "round trip",
            f"1 s of audio, {direction} ({heard}), {spoken_s:.2f} s spoken; "
            f"{timed}; total {sum(timings.values()):.0f} ms",
        )
    ]
