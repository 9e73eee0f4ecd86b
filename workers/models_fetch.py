"""Download the models once, so that later runs work offline (`HF_HUB_OFFLINE=1`).

- Canary: into the Hugging Face cache (`from_pretrained(..., return_model_file=True)`, the
  same resolution the worker uses), or nothing when CANARY_MODEL is a local `.nemo` path.
- Language ID (`langid_ambernet`): NeMo resolves this name on NVIDIA NGC; the file is streamed
  into NeMo's own cache, where `from_pretrained` finds it offline. An HF repo id goes to the
  HF cache like Canary.
- Silero: the `torch.package` files into SILERO_CACHE_DIR.
- Piper: each chosen voice's `.onnx`, `.onnx.json` and MODEL_CARD from rhasspy/piper-voices
  into PIPER_VOICES_DIR; the `.onnx` is checked against the size and MD5 Piper publishes.

Every download is streamed to a temporary file with a progress bar and renamed into place
only when complete, and skipped when the file is already there. Plain values in, no Django.
"""

from __future__ import annotations

import logging
import os
import tempfile
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

from translation.constants import PIPER_VOICES
from workers.engines.piper import (
    PIPER_BASE_URL,
    PIPER_VOICE_FILES,
    file_md5,
    piper_key,
    voice_paths,
)
from workers.engines.silero import SILERO_BASE_URL, SILERO_MODELS

logger = logging.getLogger(__name__)

COMPONENTS = ("canary", "lid", "silero", "piper")
CHUNK_BYTES = 1 << 20

Report = Callable[[str], None]


def download_file(url: str, dest: Path, *, progress: bool = True, timeout: float = 60.0) -> bool:
    """Stream `url` to `dest` (atomic rename). False when `dest` already existed."""
    from tqdm import tqdm

    dest = Path(dest)
    if dest.is_file() and dest.stat().st_size > 0:
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    request = urllib.request.Request(url, headers={"User-Agent": "rutrans-fetch-models"})
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=dest.name,
                disable=not progress,
            ) as bar:
                while block := resp.read(CHUNK_BYTES):
                    out.write(block)
                    bar.update(len(block))
            if total is not None and out.tell() != total:
                raise OSError(f"{url}: got {out.tell()} of {total} bytes")
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return True


def fetch_silero(
    cache_dir: Path | str,
    languages: Iterable[str] = ("ru", "en"),
    *,
    base_url: str = SILERO_BASE_URL,
    progress: bool = True,
    report: Report = logger.info,
) -> list[Path]:
    paths = []
    for lang in languages:
        model = SILERO_MODELS[lang]
        dest = Path(cache_dir) / model.filename
        if download_file(model.url(base_url), dest, progress=progress):
            report(f"Silero {lang}: downloaded {model.url(base_url)} → {dest}")
        else:
            report(f"Silero {lang}: already present at {dest}")
        paths.append(dest)
    return paths


def check_piper_model(path: Path, key: str) -> str:
    """Why the `.onnx` of Piper voice `key` at `path` is not the published file ("" if it is)."""
    files = PIPER_VOICE_FILES[key]
    size = path.stat().st_size
    if size != files.onnx_bytes:
        return f"{path} has {size} bytes, the published {key}.onnx has {files.onnx_bytes}"
    if (md5 := file_md5(path)) != files.onnx_md5:
        return f"{path} has MD5 {md5}, the published {key}.onnx has {files.onnx_md5}"
    return ""


def all_piper_voices() -> list[str]:
    return [voice for lang in ("ru", "en") for voice in PIPER_VOICES[lang]]


def fetch_piper(
    voices_dir: Path | str,
    voices: Iterable[str],
    *,
    base_url: str = PIPER_BASE_URL,
    progress: bool = True,
    report: Report = logger.info,
) -> list[Path]:
    """Each voice's config, model card and model; a model that is not the published file
    (size, MD5) is deleted and the download fails with why."""
    paths = []
    for voice in voices:
        key = piper_key(voice)
        if key not in PIPER_VOICE_FILES:
            raise ValueError(f"unknown Piper voice {voice!r}: choose from {all_piper_voices()}")
        files = PIPER_VOICE_FILES[key]
        for suffix, dest in voice_paths(voices_dir, key).items():
            url = files.url(suffix, base_url)
            fetched = download_file(url, dest, progress=progress)
            if suffix == ".onnx" and (problem := check_piper_model(dest, key)):
                dest.unlink()
                raise OSError(f"{problem}: deleted it; run fetch_models again")
            report(
                f"Piper {key}: downloaded {url} → {dest}"
                if fetched
                else f"Piper {key}: already present at {dest}"
            )
            paths.append(dest)
    return paths


def fetch_nemo_model(kind: str, name: str, *, progress: bool = True, report: Report = logger.info):
    """Put the NeMo model `name` where the worker's `from_pretrained` finds it offline."""
    from workers.engines import nemo_loading

    if nemo_loading.is_local_model(name):
        report(f"{kind}: {name} is a local file; nothing to download")
        return Path(name)
    if kind == "canary":
        from nemo.collections.asr.models import ASRModel as model_cls
    else:
        from nemo.collections.asr.models import EncDecSpeakerLabelModel as model_cls
    if "/" not in name:  # an NGC name: stream it into NeMo's cache ourselves (atomic, progress)
        dest = nemo_loading.nemo_ngc_cache_path(model_cls, name)
        url = nemo_loading.ngc_download_url(model_cls, name)
        if download_file(url, dest, progress=progress):
            report(f"{kind}: downloaded {url} → {dest}")
        else:
            report(f"{kind}: already present at {dest}")
        return dest
    path = Path(model_cls.from_pretrained(name, return_model_file=True))
    report(f"{kind}: {name} is in the Hugging Face cache at {path}")
    return path


def fetch_models(
    *,
    only: Iterable[str] = COMPONENTS,
    languages: Iterable[str] = ("ru", "en"),
    canary_model: str,
    lid_model: str,
    silero_cache_dir: Path | str,
    silero_base_url: str = SILERO_BASE_URL,
    piper_voices_dir: Path | str | None = None,
    piper_voices: Iterable[str] = (),
    piper_base_url: str = PIPER_BASE_URL,
    progress: bool = True,
    report: Report = logger.info,
) -> None:
    only = list(only)
    unknown = set(only) - set(COMPONENTS)
    if unknown:
        raise ValueError(f"unknown component(s) {sorted(unknown)}: choose from {COMPONENTS}")
    if "canary" in only:
        fetch_nemo_model("canary", canary_model, progress=progress, report=report)
    if "lid" in only:
        fetch_nemo_model("lid", lid_model, progress=progress, report=report)
    if "silero" in only:
        fetch_silero(
            silero_cache_dir, languages, base_url=silero_base_url, progress=progress, report=report
        )
    if "piper" in only:
        piper_voices = list(piper_voices)
        if not piper_voices:
            report("Piper: no Piper voice chosen (TTS_VOICE_RU/TTS_VOICE_EN); nothing to fetch")
        elif piper_voices_dir is None:
            raise ValueError("piper_voices_dir is needed to fetch Piper voices")
        else:
            fetch_piper(
                piper_voices_dir,
                piper_voices,
                base_url=piper_base_url,
                progress=progress,
                report=report,
            )
