"""End-of-turn detection: is the sentence just spoken complete? (Smart Turn v3.2)

Smart Turn v3.2 (Daily, BSD 2-Clause; 23 languages incl. English and Russian) is a small
Whisper-encoder classifier exported to ONNX: the last 8 s of 16 kHz audio as 80 Whisper log-mel
bands in, the probability that the speaker finished their turn out. The segmenter asks it at a
short pause and cuts at once when it says "complete", instead of waiting for the silence rule.

Only the model file is taken from the `pipecat-ai` wheel on PyPI (`fetch_model`, run by
`make turn-model`); pipecat itself is too heavy for the web tier. No torch here: onnxruntime and
numpy. One ONNX session per process, run on one worker thread (never on the event loop); when
that thread is busy, a question is not asked and the silence rule decides.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
import tempfile
import threading
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from pathlib import Path

import numpy as np

from translation.constants import MODEL_SAMPLE_RATE

logger = logging.getLogger(__name__)

WINDOW_S = 8
"""The model sees the last 8 s (shorter audio is left-padded with zeros)."""
N_FFT = 400
HOP = 160
N_MELS = 80

PIPECAT_WHEEL = "pipecat-ai==1.14.0"
MODEL_IN_WHEEL = "pipecat/audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx"
MODEL_SHA256 = "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"


# --- Whisper log-mel features ---------------------------------------------------------------------


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Slaney's mel scale (librosa's default, Whisper's): linear below 1 kHz, log above."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz * 3.0 / 200.0
    log = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * 200.0 / 3.0
    log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, log, linear)


@cache
def mel_filters() -> np.ndarray:
    """(N_MELS, N_FFT // 2 + 1) triangular filters, 0-8 kHz, area-normalised (Slaney)."""
    fft_hz = np.linspace(0.0, MODEL_SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(MODEL_SAMPLE_RATE / 2), N_MELS + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (fft_hz - lower) / (centre - lower)
    falling = (upper - fft_hz) / (upper - centre)
    filters = np.maximum(0.0, np.minimum(rising, falling))
    filters *= 2.0 / (upper - lower)  # equal area per band
    return filters.astype(np.float32)


@cache
def _hann() -> np.ndarray:
    import scipy.signal

    return scipy.signal.get_window("hann", N_FFT, fftbins=True).astype(np.float32)


def whisper_log_mel(audio16k: np.ndarray) -> np.ndarray:
    """Whisper's input features of 16 kHz mono audio: (80, len // 160) float32.

    The waveform is normalised to zero mean and unit variance first (what Smart Turn was
    trained with); then a centred 25 ms Hann STFT every 10 ms, power, Slaney mel bands,
    log10, clamped to 8 (80 dB) below the peak, scaled to about [-1, 1].
    """
    audio = np.asarray(audio16k, dtype=np.float32)
    audio = (audio - audio.mean()) / np.sqrt(audio.var() + 1e-7)
    padded = np.pad(audio, N_FFT // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    frames = frames[: audio.size // HOP]  # Whisper drops the last (partial) frame
    spectrum = np.fft.rfft(frames * _hann(), axis=-1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    mel = mel_filters() @ power.T
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)


def last_window(audio16k: np.ndarray) -> np.ndarray:
    """The last WINDOW_S seconds, left-padded with zeros when shorter."""
    size = WINDOW_S * MODEL_SAMPLE_RATE
    audio = np.asarray(audio16k, dtype=np.float32)[-size:]
    if audio.size < size:
        audio = np.concatenate([np.zeros(size - audio.size, dtype=np.float32), audio])
    return audio


# --- The model ------------------------------------------------------------------------------------


class SmartTurn:
    """One ONNX session of Smart Turn v3.2 (one intra-op thread: ~50-100 ms per call)."""

    def __init__(self, model_path: Path) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        self._session = onnxruntime.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )

    def completion_probability(self, audio16k: np.ndarray) -> float:
        """P(the turn is complete) for the audio up to now (only its last 8 s count)."""
        features = whisper_log_mel(last_window(audio16k))[None]
        (logits,) = self._session.run(None, {"input_features": features})
        return float(np.asarray(logits).reshape(-1)[0])


class TurnJudge:
    """Runs SmartTurn on one background thread for every session of the process.

    `ask` never blocks: it returns a Future of the probability, or None when `max_pending`
    questions are already waiting (then the silence rule decides that pause).
    """

    def __init__(self, model: SmartTurn, *, max_pending: int = 2) -> None:
        self.model = model
        self.max_pending = max_pending
        self._pending = 0
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smart-turn")

    def ask(self, audio16k: np.ndarray) -> Future[float] | None:
        with self._lock:
            if self._pending >= self.max_pending:
                return None
            self._pending += 1
        future = self._executor.submit(self.model.completion_probability, audio16k)
        future.add_done_callback(self._done)
        return future

    def _done(self, _: Future[float]) -> None:
        with self._lock:
            self._pending -= 1


_judge_lock = threading.Lock()


@cache
def _shared_judge(model_path: str, max_pending: int) -> TurnJudge | None:
    path = Path(model_path)
    if not path.is_file():
        logger.warning(
            "end-of-turn model not found at %s: live utterances are cut by the silence rule "
            "only (run `make turn-model` to fetch it, or set TURN_DETECTION=false)",
            path,
        )
        return None
    try:
        model = SmartTurn(path)
    except Exception:  # a corrupt file or onnxruntime missing: the product still works
        logger.exception("could not load the end-of-turn model %s; silence rule only", path)
        return None
    logger.info("end-of-turn model loaded from %s", path)
    return TurnJudge(model, max_pending=max_pending)


def shared_judge(model_path: Path, *, max_pending: int = 2) -> TurnJudge | None:
    """The process's one TurnJudge for this model file (None if it cannot be loaded)."""
    with _judge_lock:
        return _shared_judge(str(model_path), max_pending)


# --- Getting the model file -----------------------------------------------------------------------


def fetch_model(destination: Path, *, wheel: Path | None = None) -> Path:
    """Put Smart Turn v3.2's ONNX file at `destination`, taken from the pipecat-ai wheel
    (downloaded from PyPI with pip, without dependencies, unless `wheel` is given), and the
    wheel's BSD 2-Clause notice beside it (`<name>.LICENSE`). Checks the file's SHA-256;
    does nothing when the right file is already there."""
    if destination.is_file() and _sha256(destination) == MODEL_SHA256:
        return destination
    with tempfile.TemporaryDirectory(prefix="rutrans-turn-") as tmp:
        if wheel is None:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--quiet",
                    "--dest",
                    tmp,
                    PIPECAT_WHEEL,
                ],
                check=True,
            )
            wheel = next(Path(tmp).glob("pipecat_ai-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(MODEL_IN_WHEEL)
            licences = [n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
            licence = archive.read(licences[0]) if licences else None
    if hashlib.sha256(data).hexdigest() != MODEL_SHA256:
        raise RuntimeError(f"{MODEL_IN_WHEEL} in {wheel.name} is not the expected file")
    destination.parent.mkdir(parents=True, exist_ok=True)
    if licence is not None:  # BSD 2-Clause: the notice goes with the file
        destination.with_name(destination.name + ".LICENSE").write_bytes(licence)
    partial = destination.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(destination)
    return destination


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


if __name__ == "__main__":  # python -m translation.audio.turn DESTINATION [WHEEL]
    args = sys.argv[1:]
    if not args:
        sys.exit("usage: python -m translation.audio.turn DESTINATION.onnx [pipecat_ai-*.whl]")
    print(fetch_model(Path(args[0]), wheel=Path(args[1]) if len(args) > 1 else None))
