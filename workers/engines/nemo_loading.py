"""Loading NeMo models the same way for every engine: a local `.nemo` path, a Hugging Face
repo id (`nvidia/canary-1b-v2`) or a NeMo NGC name (`langid_ambernet`); on CUDA when there is
one; every failure turned into `EngineUnavailable` with a message that says what to do.

Imports torch and NeMo (never Django): the engines, `workers.models_fetch` and
`workers.diagnostics` import it, the last two only when they run.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
from pathlib import Path, PurePosixPath
from typing import Any

import torch

from workers.engines.base import EngineUnavailable

logger = logging.getLogger(__name__)

FETCH_HINT = "run `python manage.py fetch_models` with internet access"


def resolve_device(setting: str | None) -> str:
    """ "auto" (or empty) → "cuda" when available, else "cpu"; "cpu"/"cuda"/"cuda:N" as given."""
    value = (setting or "auto").strip().lower()
    if value == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if value.startswith("cuda") and not torch.cuda.is_available():
        raise EngineUnavailable(
            f"MODEL_DEVICE={setting!r} but CUDA is not available here: "
            "set MODEL_DEVICE=cpu (slow) or auto, or run the worker on a GPU host"
        )
    if value != "cpu" and not value.startswith("cuda"):
        raise EngineUnavailable(f"MODEL_DEVICE={setting!r} is not one of auto, cpu, cuda")
    return value


def is_local_model(name: str) -> bool:
    return name.endswith(".nemo") or os.path.exists(name)


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def nemo_ngc_cache_path(model_cls: Any, name: str, cache_root: Path | None = None) -> Path:
    """Where NeMo keeps the NGC model `name` of `model_cls` once downloaded (the same rule as
    `ModelPT._get_ngc_pretrained_model_info`: `<cache>/<file stem>/<md5(url + description)>`)."""
    from nemo.utils.data_utils import resolve_cache_dir

    for info in model_cls.list_available_models() or []:
        if info.pretrained_model_name == name or name in (info.aliases or []):
            filename = PurePosixPath(info.location).name
            subfolder = hashlib.md5((info.location + info.description).encode("utf-8")).hexdigest()
            root = cache_root if cache_root is not None else resolve_cache_dir()
            return Path(root) / filename[: -len(".nemo")] / subfolder / filename
    raise EngineUnavailable(f"{name!r} is not a NeMo model name known to {model_cls.__name__}")


def ngc_download_url(model_cls: Any, name: str) -> str:
    for info in model_cls.list_available_models() or []:
        if info.pretrained_model_name == name or name in (info.aliases or []):
            return info.location
    raise EngineUnavailable(f"{name!r} is not a NeMo model name known to {model_cls.__name__}")


def locate_model_file(model_cls: Any, name: str, setting: str) -> str:
    """The local `.nemo` for `name`, downloading it if allowed; EngineUnavailable otherwise."""
    if is_local_model(name):
        if not os.path.isfile(name):
            raise EngineUnavailable(
                f"{setting}={name!r}: no such file. Point {setting} at an existing .nemo file, "
                f"or at a model name and {FETCH_HINT}"
            )
        return name
    if "/" not in name and offline():
        # NeMo would retry an NGC download even offline: answer at once instead.
        if not nemo_ngc_cache_path(model_cls, name).is_file():
            raise EngineUnavailable(
                f"the {name} model is not in the local NeMo cache and downloads are off "
                f"(HF_HUB_OFFLINE=1): {FETCH_HINT}, or set {setting} to a local .nemo path"
            )
    try:
        return str(model_cls.from_pretrained(name, return_model_file=True))
    except Exception as exc:
        raise EngineUnavailable(
            f"could not find or download the {name} model ({type(exc).__name__}: {exc}): "
            f"{FETCH_HINT}, or set {setting} to a local .nemo path"
        ) from exc


def model_config(model_cls: Any, path: str, overrides: dict[str, Any]) -> Any:
    """The config inside the `.nemo` at `path` (only its YAML files are unpacked), with
    `overrides` set on it: NeMo's `override_config_path` replaces the whole config."""
    from omegaconf import open_dict

    config = model_cls.restore_from(path, return_config=True)
    with open_dict(config):
        for key, value in overrides.items():
            config[key] = value
    return config


def load_nemo_model(
    model_cls: Any,
    name: str,
    *,
    device: str,
    setting: str,
    config_overrides: dict[str, Any] | None = None,
) -> tuple[Any, float]:
    """Restore `name` (path or pretrained name) onto `device`, in eval mode; returns the model
    and the load time in milliseconds. `config_overrides` are set on the model's own config
    before it is built (e.g. `restore_timestamps_model: False`)."""
    started = time.perf_counter()
    path = locate_model_file(model_cls, name, setting)
    try:
        override = model_config(model_cls, path, config_overrides) if config_overrides else None
        model = model_cls.restore_from(
            path, map_location=torch.device(device), override_config_path=override
        )
    except torch.cuda.OutOfMemoryError as exc:
        raise EngineUnavailable(
            f"out of GPU memory while loading {name}: free the GPU (one worker per GPU) "
            "or set MODEL_DEVICE=cpu"
        ) from exc
    except Exception as exc:
        raise EngineUnavailable(
            f"could not load {name} from {path} ({type(exc).__name__}: {exc}). The file may be "
            f"corrupt or incomplete: delete it and {FETCH_HINT}, or set {setting} to a good "
            ".nemo file"
        ) from exc
    model.eval()
    preprocessor = getattr(model, "preprocessor", None)
    featurizer = getattr(preprocessor, "featurizer", None)
    if featurizer is not None and hasattr(featurizer, "dither"):
        featurizer.dither = 0.0  # deterministic inference
    load_ms = (time.perf_counter() - started) * 1000.0
    logger.info("loaded %s (%s) on %s in %.0f ms", name, type(model).__name__, device, load_ms)
    return model, load_ms


def autocast_dtype(device: str) -> torch.dtype | None:
    """The half precision to run on `device`: bf16 only where that GPU computes it natively
    (Ampere and later), else fp16; None (fp32) on the CPU. `is_bf16_supported()` alone also
    says yes for pre-Ampere GPUs (T4, V100), where bf16 is emulated and slow."""
    if not device.startswith("cuda"):
        return None
    with torch.cuda.device(torch.device(device)):
        native_bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
    return torch.bfloat16 if native_bf16 else torch.float16


def describe_dtype(dtype: torch.dtype | None) -> str:
    if dtype is None:
        return "fp32"
    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32")


@contextlib.contextmanager
def inference(device: str, dtype: torch.dtype | None):
    """No autograd; on CUDA with a half `dtype` (from `autocast_dtype`), autocast to it.
    None is fp32 everywhere: an explicit choice, so that a benchmark's fp32 row is fp32."""
    with torch.inference_mode():
        if dtype is not None and device.startswith("cuda"):
            with torch.autocast("cuda", dtype=dtype):
                yield
        else:
            yield
