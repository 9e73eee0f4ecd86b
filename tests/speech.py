"""Speech for tests: espeak-ng sentences, cached for the test session, and real read
English (Debian's pocketsphinx-testdata LibriVox clips) as continuous speech.

Use the `speech` fixture (register this module with `pytest_plugins = ["tests.speech"]` in
tests/conftest.py, or wrap `speech_synthesizer(tmp_path_factory)` in a local fixture), or the
module functions `speak` / `speech_16k`, which share the same cache; `continuous_read_speech()`
for a narrator who never pauses long.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from translation.audio.pcm import resample_float32
from translation.constants import MODEL_SAMPLE_RATE

VOICES = {"en": "en-us", "ru": "ru"}
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
"""Five consecutive sentences of Sense and Sensibility, read (Debian pocketsphinx-testdata)."""
READ_SPEECH_LEVEL = 0.02
"""The LibriVox recordings' noise floor is above SILENCE_LEVEL; their speech starts above this."""
SILENCE_LEVEL = 0.01
"""Samples below this magnitude (-40 dBFS) count as silence when trimming."""


class SpeechSynthesizer:
    """espeak-ng speech, one WAV per (text, language) under `directory`, decoded once."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._decoded: dict[tuple[str, str], tuple[np.ndarray, int]] = {}
        self._at_16k: dict[tuple[str, str], np.ndarray] = {}

    def wav_path(self, text: str, lang: str) -> Path:
        """A WAV file of `text` spoken in `lang` ("en" or "ru"), synthesized on first use."""
        voice = VOICES.get(lang, lang)
        digest = hashlib.sha1(f"{voice}\n{text}".encode()).hexdigest()[:16]
        path = self.directory / f"{voice}-{digest}.wav"
        if not path.exists():
            espeak = shutil.which("espeak-ng")
            if espeak is None:
                pytest.fail("espeak-ng is not installed (apt-get install espeak-ng)")
            partial = path.with_suffix(".part.wav")
            subprocess.run([espeak, "-v", voice, "-w", str(partial), text], check=True)
            partial.replace(path)
        return path

    def speak(self, text: str, lang: str) -> tuple[np.ndarray, int]:
        """espeak-ng's output as (mono float32, sample rate), silences included (22.05 kHz)."""
        key = (text, lang)
        if key not in self._decoded:
            audio, sr = sf.read(self.wav_path(text, lang), dtype="float32")
            audio.flags.writeable = False
            self._decoded[key] = (audio, sr)
        return self._decoded[key]

    def speech_16k(self, text: str, lang: str) -> np.ndarray:
        """The spoken part only (leading/trailing silence trimmed), 16 kHz mono float32.

        Trimmed, so [0, len) are the true bounds of the speech: pad it with silence to place
        it in a test stream.
        """
        key = (text, lang)
        if key not in self._at_16k:
            audio, sr = self.speak(text, lang)
            audio = trim_silence(resample_float32(audio, sr, MODEL_SAMPLE_RATE))
            audio.flags.writeable = False
            self._at_16k[key] = audio
        return self._at_16k[key]


def trim_silence(audio: np.ndarray, level: float = SILENCE_LEVEL) -> np.ndarray:
    """`audio` from its first to its last sample louder than `level`."""
    loud = np.flatnonzero(np.abs(audio) > level)
    if loud.size == 0:
        return audio[:0].copy()
    return audio[loud[0] : loud[-1] + 1].copy()


def continuous_read_speech() -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The five LibriVox sentences back to back at 16 kHz (24.7 s; only their own 0.2-0.6 s
    gaps between them) and each sentence's (start, end) of speech in stream seconds."""
    wavs = sorted(LIBRIVOX.glob("*.wav"))[:5]
    if len(wavs) < 5:
        pytest.fail(
            f"no LibriVox clips under {LIBRIVOX}: install Debian's pocketsphinx-testdata "
            "(scripts/install-system-deps.sh)"
        )
    parts, bounds, position = [], [], 0
    for wav in wavs:
        audio, sr = sf.read(wav, dtype="float32")
        audio = resample_float32(audio, sr, MODEL_SAMPLE_RATE)
        loud = np.flatnonzero(np.abs(audio) > READ_SPEECH_LEVEL)
        bounds.append(
            (
                (position + loud[0]) / MODEL_SAMPLE_RATE,
                (position + loud[-1] + 1) / MODEL_SAMPLE_RATE,
            )
        )
        parts.append(audio)
        position += audio.size
    return np.concatenate(parts), bounds


def silence(seconds: float, sr: int = MODEL_SAMPLE_RATE) -> np.ndarray:
    return np.zeros(round(seconds * sr), dtype=np.float32)


_active: SpeechSynthesizer | None = None
_active_factory: object | None = None


def speech_synthesizer(tmp_path_factory: pytest.TempPathFactory) -> SpeechSynthesizer:
    """The session's synthesizer, its files under pytest's temporary directory."""
    global _active, _active_factory
    if _active is None or _active_factory is not tmp_path_factory:
        _active = SpeechSynthesizer(tmp_path_factory.mktemp("speech"))
        _active_factory = tmp_path_factory
    return _active


def _synthesizer() -> SpeechSynthesizer:
    global _active
    if _active is None:
        # Outside a fixture (a script, a REPL): a private temporary directory.
        _active = SpeechSynthesizer(Path(tempfile.mkdtemp(prefix="rutrans-speech-")))
    return _active


def speak(text: str, lang: str) -> tuple[np.ndarray, int]:
    """espeak-ng's output for `text` in `lang`: (mono float32, sample rate)."""
    return _synthesizer().speak(text, lang)


def speech_16k(text: str, lang: str) -> np.ndarray:
    """`text` spoken in `lang`, trimmed to the speech, at 16 kHz mono float32."""
    return _synthesizer().speech_16k(text, lang)


SPEECH_LIKE_TEXT = "The train to the museum leaves at nine o'clock, said the old man."


def speech_like(seconds: float, sr: int = MODEL_SAMPLE_RATE, channels: int = 1) -> np.ndarray:
    """`seconds` of continuous English speech at `sr` (a sentence repeated, no pauses),
    float32, mono or `channels` identical channels: an upload the speech check accepts."""
    sentence = resample_float32(speech_16k(SPEECH_LIKE_TEXT, "en"), MODEL_SAMPLE_RATE, sr)
    length = round(seconds * sr)
    mono = np.tile(sentence, length // len(sentence) + 1)[:length].astype(np.float32)
    return np.repeat(mono[:, None], channels, axis=1) if channels > 1 else mono


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> SpeechSynthesizer:
    return speech_synthesizer(tmp_path_factory)
