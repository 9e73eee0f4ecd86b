"""The end-of-turn model: Whisper features against a reference implementation, the real
Smart Turn v3.2 file (fetched by `make turn-model`), the background judge, the model file's
fetch step (from a wheel on disk: no network), and its use by the segmenter."""

import hashlib
import logging
import threading
import zipfile
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest

from tests.services import missing
from tests.speech import silence, speech_16k
from translation.audio import turn
from translation.audio.segmenter import UtteranceSegmenter
from translation.audio.turn import (
    MODEL_IN_WHEEL,
    SmartTurn,
    TurnJudge,
    fetch_model,
    last_window,
    shared_judge,
    whisper_log_mel,
)

SR = 16000


MODEL_PATH = Path(__file__).resolve().parents[3] / "var" / "models" / "smart-turn-v3.2-cpu.onnx"
"""Where `make turn-model` puts the model (the default TURN_MODEL_PATH outside Docker)."""


@pytest.fixture(scope="module")
def model_path():
    path = MODEL_PATH
    if not path.is_file():
        missing(f"the end-of-turn model at {path} (make turn-model)")
    return path


@pytest.fixture(scope="module")
def smart_turn(model_path):
    return SmartTurn(model_path)


def test_last_window_is_8_s_left_padded_or_cut():
    short = np.ones(SR, dtype=np.float32)
    padded = last_window(short)
    assert padded.shape == (8 * SR,) and padded[: 7 * SR].max() == 0 and padded[-SR:].min() == 1
    long = np.arange(10 * SR, dtype=np.float32)
    np.testing.assert_array_equal(last_window(long), long[-8 * SR :])


@pytest.mark.parametrize("source", ["speech", "noise"])
def test_features_match_the_reference_whisper_extractor(source):
    """Our numpy/scipy log-mel equals transformers' WhisperFeatureExtractor (80 bands)."""
    transformers = pytest.importorskip("transformers")
    if source == "speech":
        audio = last_window(speech_16k("Please translate this sentence into Russian.", "en"))
    else:
        audio = np.random.default_rng(1).normal(0, 0.1, 8 * SR).astype(np.float32)
    extractor = transformers.WhisperFeatureExtractor(feature_size=80)
    reference = extractor(
        audio,
        sampling_rate=SR,
        return_tensors="np",
        padding="max_length",
        max_length=audio.size,
        truncation=True,
        do_normalize=True,
    ).input_features[0]

    ours = whisper_log_mel(audio)

    assert ours.shape == reference.shape == (80, 800) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, atol=1e-4)


def test_a_finished_sentence_is_complete(smart_turn):
    """Trimmed espeak sentences + 200 ms of silence: complete (measured 0.77 en, 0.98 ru).
    (It also says "complete" at many mid-sentence points: see docs/PERFORMANCE.md.)"""
    for text, lang in [
        ("Please translate this sentence into Russian.", "en"),
        ("Сегодня хорошая погода и светит солнце.", "ru"),
    ]:
        audio = np.concatenate([speech_16k(text, lang), silence(0.2)])
        probability = smart_turn.completion_probability(audio)
        assert 0.5 < probability <= 1.0
        assert smart_turn.completion_probability(audio) == probability  # no hidden state


class SlowModel:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def completion_probability(self, audio16k):
        self.calls += 1
        self.release.wait(5)
        return 0.9


def test_judge_never_queues_more_than_max_pending():
    model = SlowModel()
    judge = TurnJudge(model, max_pending=2)
    first, second = judge.ask(np.zeros(10)), judge.ask(np.zeros(10))
    assert first is not None and second is not None
    assert judge.ask(np.zeros(10)) is None  # busy: the silence rule decides this pause
    model.release.set()
    assert first.result(5) == 0.9 and second.result(5) == 0.9
    third = judge.ask(np.zeros(10))
    assert third is not None and third.result(5) == 0.9
    assert model.calls == 3


def test_a_missing_model_file_leaves_the_silence_rule_and_says_so(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="translation.audio.turn"):
        assert shared_judge(tmp_path / "absent.onnx") is None
    assert "end-of-turn model not found" in caplog.text
    assert "silence rule" in caplog.text


def test_the_judge_is_shared_by_the_process(model_path):
    assert shared_judge(model_path) is shared_judge(model_path) is not None


def fake_wheel(path, payload: bytes):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("pipecat/__init__.py", "")
        archive.writestr(MODEL_IN_WHEEL, payload)
        archive.writestr("pipecat_ai-1.14.0.dist-info/licenses/LICENSE", "BSD 2-Clause License")
    return path


def test_fetch_takes_the_model_file_from_the_wheel(tmp_path, model_path, monkeypatch):
    wheel = fake_wheel(tmp_path / "pipecat_ai-1.14.0-py3-none-any.whl", model_path.read_bytes())
    destination = tmp_path / "models" / "smart-turn.onnx"

    assert fetch_model(destination, wheel=wheel) == destination
    assert hashlib.sha256(destination.read_bytes()).hexdigest() == turn.MODEL_SHA256
    licence = destination.with_name("smart-turn.onnx.LICENSE")
    assert licence.read_text() == "BSD 2-Clause License"
    # Already there: nothing is downloaded or read again.
    monkeypatch.setattr(turn.subprocess, "run", lambda *a, **k: pytest.fail("no download"))
    assert fetch_model(destination) == destination


def test_fetch_refuses_a_different_file(tmp_path):
    wheel = fake_wheel(tmp_path / "pipecat_ai-1.14.0-py3-none-any.whl", b"not the model")
    destination = tmp_path / "smart-turn.onnx"
    with pytest.raises(RuntimeError, match="not the expected file"):
        fetch_model(destination, wheel=wheel)
    assert not destination.exists()


# --- the segmenter asks at pauses -----------------------------------------------------------------


class ScriptedJudge:
    """Answers at once with a fixed probability; records what it was asked."""

    def __init__(self, probability: float) -> None:
        self.probability = probability
        self.asked: list[int] = []

    def ask(self, audio16k):
        self.asked.append(audio16k.size)
        future: Future[float] = Future()
        future.set_result(self.probability)
        return future


class LoudnessVad:
    window_samples = 512

    def probability(self, window):
        return 0.9 if float(np.abs(window).max()) > 0.2 else 0.02

    def reset(self):
        pass


def tone(seconds):
    t = np.arange(round(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def cuts(segmenter, audio):
    out = []
    for i in range(0, audio.size, 320):
        out += [(segmenter.stream_time_s, u) for u in segmenter.feed(audio[i : i + 320])]
    return out


def test_a_complete_turn_is_cut_after_the_short_pause():
    judge = ScriptedJudge(0.9)
    segmenter = UtteranceSegmenter(vad=LoudnessVad(), turn=judge)
    results = cuts(segmenter, np.concatenate([silence(0.5), tone(1.0), silence(1.5)]))

    assert [u.reason for _, u in results] == ["turn"]
    assert results[0][0] - 1.5 == pytest.approx(0.2, abs=0.07)  # ~turn_pause_ms after the end
    assert len(judge.asked) == 1 and judge.asked[0] <= 8 * SR


def test_an_incomplete_turn_waits_for_the_silence_rule():
    judge = ScriptedJudge(0.1)
    segmenter = UtteranceSegmenter(vad=LoudnessVad(), turn=judge, min_silence_ms=900)
    stream = np.concatenate([silence(0.5), tone(1.0), silence(0.4), tone(0.5), silence(1.5)])
    results = cuts(segmenter, stream)

    assert [u.reason for _, u in results] == ["silence"]
    assert len(judge.asked) == 2  # once per pause


def test_the_model_is_not_asked_for_a_blip_or_without_a_pause():
    judge = ScriptedJudge(0.9)
    segmenter = UtteranceSegmenter(vad=LoudnessVad(), turn=judge)
    assert cuts(segmenter, np.concatenate([silence(0.5), tone(0.1), silence(1.5)])) == []
    assert cuts(segmenter, tone(5.0)) == []
    assert judge.asked == []


def test_an_answer_after_speech_resumed_is_ignored():
    class LateJudge(ScriptedJudge):
        def ask(self, audio16k):
            self.asked.append(audio16k.size)
            self.future: Future[float] = Future()
            return self.future

    judge = LateJudge(0.9)
    segmenter = UtteranceSegmenter(vad=LoudnessVad(), turn=judge, min_silence_ms=900)
    assert cuts(segmenter, np.concatenate([silence(0.5), tone(1.0), silence(0.3)])) == []
    asked = judge.future
    assert cuts(segmenter, tone(0.5)) == []  # speaking again: the question is withdrawn
    assert asked.cancelled()
    results = cuts(segmenter, silence(1.5))
    assert [u.reason for _, u in results] == ["silence"]  # the next question is never answered
