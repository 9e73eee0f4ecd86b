import json
import time

import numpy as np
import pytest

from tests.speech import silence
from translation.audio.pcm import AudioFormatError
from translation.events import AudioEnd, AudioPiece, UtteranceFailed, UtteranceResult
from translation.streaming.protocol import ProtocolError
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


def head(seq, text="", attempt=1):
    return UtteranceResult(seq=seq, result={"text": text}, attempt=attempt)


def piece(seq, data=b"RIFF", attempt=1):
    return AudioPiece(seq=seq, wav=data, attempt=attempt)


def end(seq, pieces, attempt=1, **extra):
    return AudioEnd(seq=seq, pieces=pieces, attempt=attempt, **extra)


def kinds(events):
    """Each released event as (seq, what): the result text, the piece bytes, or 'end N'."""
    out = []
    for e in events:
        if isinstance(e, UtteranceResult):
            out.append((e.seq, e.result["text"]))
        elif isinstance(e, AudioPiece):
            out.append((e.seq, e.wav))
        elif isinstance(e, AudioEnd):
            out.append((e.seq, f"end {e.pieces}"))
        else:
            assert isinstance(e, UtteranceFailed)
            out.append((e.seq, "error"))
    return out


def test_results_are_released_in_seq_order(session):
    session.next_seq = 3
    assert session.accept(head(2, "c")) == []
    assert session.accept(end(2, 0)) == []
    assert session.accept(head(1, "b")) == []
    assert session.accept(end(1, 0)) == []
    released = session.accept(head(0, "a"))
    assert kinds(released) == [(0, "a")]  # seq 0's audio is not over yet
    released = session.accept(end(0, 0))
    assert kinds(released) == [(0, "end 0"), (1, "b"), (1, "end 0"), (2, "c"), (2, "end 0")]
    assert session.accept(head(1, "again")) == []  # duplicate/late: dropped
    assert session.in_flight == 0


def test_the_current_seq_streams_while_later_ones_wait_whole(session):
    session.next_seq = 2
    assert kinds(session.accept(head(0, "a"))) == [(0, "a")]
    assert kinds(session.accept(piece(0, b"a1"))) == [(0, b"a1")]
    # seq 1 is complete already, but must not interleave with seq 0's audio.
    for event in (head(1, "b"), piece(1, b"b1"), piece(1, b"b2"), end(1, 2)):
        assert session.accept(event) == []
    assert kinds(session.accept(piece(0, b"a2"))) == [(0, b"a2")]
    assert kinds(session.accept(end(0, 2))) == [
        (0, "end 2"),
        (1, "b"),
        (1, b"b1"),
        (1, b"b2"),
        (1, "end 2"),
    ]
    assert session.in_flight == 0 and session.held == {}


def test_an_error_ends_its_seq_by_itself(session):
    session.next_seq = 2
    assert session.accept(head(1, "b")) == []
    released = session.accept(UtteranceFailed(seq=0, error="model failed"))
    assert kinds(released) == [(0, "error"), (1, "b")]
    assert kinds(session.accept(end(1, 0))) == [(1, "end 0")]


def test_pieces_of_another_task_run_are_dropped(session):
    session.next_seq = 1
    session.accept(head(0, "a", attempt=1))
    assert session.accept(piece(0, b"x", attempt=2)) == []  # a redelivered task's audio
    assert session.accept(head(0, "a", attempt=2)) == []
    assert session.accept(piece(3, b"x")) == []  # no result for it
    assert kinds(session.accept(end(0, 0, attempt=1))) == [(0, "end 0")]


def test_the_end_counts_the_pieces_that_really_passed(session):
    session.next_seq = 1
    session.accept(head(0, "a"))
    session.accept(piece(0))
    released = session.accept(end(0, 3))
    assert released[0].pieces == 1 and "2 of 3 audio pieces were lost" in released[0].error


def test_overdue_results_become_errors_so_later_ones_flow(session):
    session.next_seq = 2
    session.expect(0, timeout_s=0.0)
    session.expect(1, timeout_s=60.0)
    assert session.accept(head(1, "b")) == []
    assert session.accept(end(1, 0)) == []
    released = session.expire(now=float("inf"))
    assert kinds(released) == [(0, "error"), (1, "b"), (1, "end 0")]
    assert "worker may be down" in released[0].error
    assert session.accept(head(0, "too late")) == []


def test_audio_that_stops_coming_is_ended_with_an_error(session):
    session.next_seq = 2
    session.expect(0, timeout_s=60.0)
    session.expect(1, timeout_s=60.0)
    session.accept(head(0, "a"))
    session.accept(piece(0))
    assert session.expire(now=time.monotonic()) == []  # audio keeps the deadline fresh
    session.accept(head(1, "b"))
    released = session.expire(now=float("inf"))
    assert kinds(released) == [(0, "end 1"), (1, "b"), (1, "end 0")]
    assert "did not arrive in time" in released[0].error
    assert session.accept(piece(0)) == [] and session.in_flight == 0


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
