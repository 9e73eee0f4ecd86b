import json

import numpy as np
import pytest

from tests.speech import silence
from translation.audio.pcm import AudioFormatError
from translation.protocol.control import ProtocolError
from translation.streaming.session import LiveSession


@pytest.fixture
def session():
    live = LiveSession()
    live.configure(json.dumps({"mode": "en->ru", "sample_rate": 16_000, "channels": 1}))
    return live


def pcm(audio: np.ndarray) -> bytes:
    return (audio * 32767).astype("<i2").tobytes()


def test_audio_before_control_is_refused():
    with pytest.raises(ProtocolError, match="control message"):
        LiveSession().ingest(b"\x00\x00" * 320)


def test_malformed_frames_are_refused(session, settings):
    with pytest.raises(AudioFormatError):
        session.ingest(b"\x00\x00\x00")
    settings.MAX_FRAME_BYTES = 1000  # taken when the stream is set up (validated once, there)
    limited = LiveSession()
    limited.configure(json.dumps({"mode": "en->ru", "sample_rate": 16_000, "channels": 1}))
    assert limited.ingest(b"\x00" * 1000) == []
    with pytest.raises(AudioFormatError, match="larger than 1000 bytes"):
        limited.ingest(b"\x00" * 1002)


def test_speech_cut_at_silence_gets_consecutive_seqs(session, speech):
    sentence = speech.speech_16k("Good morning, everyone.", "en")
    stream = np.concatenate([silence(0.5), sentence, silence(1.2), sentence, silence(1.2)])
    pending = []
    for start in range(0, len(stream), 320):
        pending += session.ingest(pcm(stream[start : start + 320]))
    assert [p.seq for p in pending] == [0, 1]
    assert all(p.utterance.reason == "silence" for p in pending)
    assert all(0 < p.timings["endpoint_ms"] <= 1000 for p in pending)
    assert pending[0].config.src == "en" and pending[0].config.tgt == "ru"


def test_control_change_ends_the_open_utterance_under_the_old_mode(session, speech):
    sentence = speech.speech_16k("Good morning, everyone.", "en")
    for start in range(0, len(sentence), 320):
        assert session.ingest(pcm(sentence[start : start + 320])) == []
    config, ended = session.configure(
        json.dumps({"mode": "ru->en", "sample_rate": 16_000, "channels": 1})
    )
    assert config.src == "ru"
    assert [(p.seq, p.config.src, p.utterance.reason) for p in ended] == [(0, "en", "control")]


def test_flush_without_speech_gives_nothing(session):
    session.ingest(pcm(silence(1.0)))
    assert session.flush() == []


def test_idle_is_due_after_the_silence_window_on_the_sessions_clock(speech, settings):
    """No frame for UTTERANCE_SILENCE_MS while speech is open: the utterance ends (the clock is
    the session's, so no real time passes here)."""
    now = [100.0]
    live = LiveSession(clock=lambda: now[0])
    live.configure(json.dumps({"mode": "en->ru", "sample_rate": 16_000, "channels": 1}))
    sentence = speech.speech_16k("Good morning, everyone.", "en")
    for start in range(0, len(sentence), 320):
        live.ingest(pcm(sentence[start : start + 320]))
    assert live.segmenter.has_speech and not live.idle_due()
    now[0] += settings.UTTERANCE_SILENCE_MS / 1000.0
    assert live.idle_due()
    [pending] = live.flush("idle")
    assert pending.utterance.reason == "idle"
    assert pending.timings["endpoint_ms"] == pytest.approx(settings.UTTERANCE_SILENCE_MS)
    assert live.in_flight == 1 and live.results.clock is live.clock


def test_turn_detection_without_its_model_file_falls_back_to_the_silence_rule(
    settings, tmp_path, caplog
):
    from translation.streaming.session import new_segmenter

    settings.TURN_DETECTION = True
    settings.TURN_MODEL_PATH = tmp_path / "no-such-model.onnx"
    with caplog.at_level("WARNING", logger="translation.audio.turn"):
        segmenter = new_segmenter()
    assert segmenter.turn is None
    assert "end-of-turn model not found" in caplog.text
    settings.TURN_DETECTION = False
    assert new_segmenter().turn is None


def test_segmenter_takes_the_continuous_speech_settings(settings):
    from translation.streaming.session import new_segmenter

    settings.UTTERANCE_MIN_SILENCE_MS = 300
    settings.UTTERANCE_SHRINK_AFTER_S = 2.0
    settings.UTTERANCE_SHRINK_OVER_S = 3.0
    schedule = new_segmenter().pauses
    assert (schedule.silence_ms, schedule.min_silence_ms) == (settings.UTTERANCE_SILENCE_MS, 300)
    assert (schedule.shrink_after_s, schedule.shrink_over_s) == (2.0, 3.0)


def test_the_session_is_told_of_its_history_once_while_each_notice_lasts():
    live = LiveSession()
    notices = [None, "history_paused", "history_paused", None, "recording_paused", None]
    told = [live.history_notice(notice) for notice in [*notices, "history_paused"]]
    assert told == [None, "history_paused", None, None, "recording_paused", None, "history_paused"]
