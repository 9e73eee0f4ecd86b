"""Endpointing with the real Silero VAD on espeak-ng speech and real read speech, and the
pause schedule's rules on scripted audio (a loudness "VAD")."""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.speech import continuous_read_speech, silence, speech_synthesizer
from translation.audio.pauses import PauseSchedule
from translation.audio.segmenter import Utterance, UtteranceSegmenter
from translation.audio.vad import SileroVad

SR = 16000
CHUNK = 320  # 20 ms, what the browser sends
SENTENCES = {
    "en": "Please translate this sentence into Russian.",
    "ru": "Сегодня хорошая погода и светит солнце.",
}
LONG_TALK = [
    "The weather is nice and the sun is shining.",
    "I would like a cup of coffee with milk.",
    "Where is the nearest train station in this city.",
    "We are going to the museum tomorrow morning.",
    "My brother works in a hospital near the river.",
    "The children are playing football in the park.",
    "She reads a new book every week.",
]


@pytest.fixture(scope="session")
def speech(tmp_path_factory):
    return speech_synthesizer(tmp_path_factory)


@pytest.fixture(scope="module")
def vad():
    """One Silero model for the module; each segmenter resets it (as a new session would)."""
    return SileroVad()


@pytest.fixture
def segmenter(vad):
    vad.reset()
    return UtteranceSegmenter(vad=vad)


@pytest.fixture
def plain(vad):
    """The plain silence rule: only silence_ms of silence ends an utterance."""
    vad.reset()
    return UtteranceSegmenter(vad=vad, min_silence_ms=900)


def feed_chunks(segmenter, audio, chunk=CHUNK):
    """Feed like a live session; return [(stream time when returned, utterance)]."""
    out = []
    for i in range(0, audio.size, chunk):
        for utterance in segmenter.feed(audio[i : i + chunk]):
            out.append((segmenter.stream_time_s, utterance))
    return out


def contains(utterance: Utterance, start_s, end_s, slack_s=0.0):
    return utterance.start_s <= start_s + slack_s and utterance.end_s >= end_s - slack_s


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_one_sentence_then_silence_gives_one_utterance_in_time(speech, plain, lang):
    segmenter = plain
    talk = speech.speech_16k(SENTENCES[lang], lang)
    lead = 0.7
    results = feed_chunks(segmenter, np.concatenate([silence(lead), talk, silence(1.5)]))

    assert len(results) == 1
    cut_at, utterance = results[0]
    speech_end = lead + talk.size / SR
    assert utterance.reason == "silence"
    assert contains(utterance, lead, speech_end)
    assert utterance.audio.dtype == np.float32
    assert utterance.audio.size == round((utterance.end_s - utterance.start_s) * SR)
    assert utterance.speech_ms > 0.8 * talk.size / SR * 1000
    latency_ms = (cut_at - speech_end) * 1000
    assert 700 <= latency_ms <= 900 + 100
    assert segmenter.flush() is None


def test_endpointing_latency_over_alignments(speech, vad):
    """The cut comes within silence_ms + 100 ms of the true end (all sentences, offsets)."""
    latencies = []
    for lang, text in SENTENCES.items():
        talk = speech.speech_16k(text, lang)
        for offset in range(0, 512, 64):
            vad.reset()
            segmenter = UtteranceSegmenter(vad=vad, min_silence_ms=900)
            lead = 0.5 + offset / SR
            results = feed_chunks(segmenter, np.concatenate([silence(lead), talk, silence(1.5)]))
            assert [u.reason for _, u in results] == ["silence"]
            latencies.append((results[0][0] - lead - talk.size / SR) * 1000)
    assert np.percentile(latencies, 95) <= 1000
    assert np.median(latencies) == pytest.approx(900, abs=60)


def test_two_sentences_give_two_utterances_in_order(speech, segmenter):
    first = speech.speech_16k(SENTENCES["en"], "en")
    second = speech.speech_16k(SENTENCES["ru"], "ru")
    stream = np.concatenate([silence(0.5), first, silence(1.5), second, silence(1.5)])
    results = feed_chunks(segmenter, stream)

    assert len(results) == 2
    (_, a), (_, b) = results
    first_end = 0.5 + first.size / SR
    second_start = first_end + 1.5
    assert contains(a, 0.5, first_end)
    assert contains(b, second_start, second_start + second.size / SR)
    assert a.end_s <= b.start_s


@pytest.mark.parametrize("pause_s", [0.25, 0.4])
def test_pause_inside_a_sentence_does_not_cut(speech, segmenter, pause_s):
    head = speech.speech_16k("Please translate this sentence", "en")
    tail = speech.speech_16k("into Russian for my friend.", "en")
    stream = np.concatenate([silence(0.5), head, silence(pause_s), tail, silence(1.5)])
    results = feed_chunks(segmenter, stream)

    assert len(results) == 1
    assert contains(results[0][1], 0.5, (stream.size - 1.5 * SR) / SR)


def test_comma_pause_does_not_cut(speech, segmenter):
    talk = speech.speech_16k("Привет, как у тебя дела? Я хочу чашку кофе, с молоком.", "ru")
    results = feed_chunks(segmenter, np.concatenate([silence(0.5), talk, silence(1.5)]))
    assert len(results) == 1


def test_silence_and_noise_never_make_an_utterance(vad):
    # Memory stays bounded: only a preroll (plus slack) of silence is kept, so three times
    # max_s of it fits the segmenter's fixed-size buffer (which raises BufferError when full).
    vad.reset()
    segmenter = UtteranceSegmenter(vad=vad, max_s=3.0)
    noise = np.random.default_rng(7).normal(0, 0.01, 10 * SR).astype(np.float32)
    for audio in (silence(10), noise):
        assert feed_chunks(segmenter, audio) == []
        assert not segmenter.has_speech
        assert segmenter.open_utterance_audio() is None
        assert segmenter.flush() is None
    assert segmenter.stream_time_s == pytest.approx(20.0)


def test_flush_mid_speech_ends_the_utterance_there(speech, segmenter):
    talk = speech.speech_16k(SENTENCES["en"], "en")
    part = talk[: talk.size * 6 // 10]
    assert feed_chunks(segmenter, np.concatenate([silence(0.5), part])) == []
    assert segmenter.has_speech

    utterance = segmenter.flush()

    assert utterance is not None
    assert utterance.reason == "flush"
    assert utterance.end_s == pytest.approx(segmenter.stream_time_s)
    assert utterance.start_s <= 0.5
    assert utterance.audio.size == round((utterance.end_s - utterance.start_s) * SR)
    assert not segmenter.has_speech
    # The stream goes on after the flush; times keep counting.
    results = feed_chunks(segmenter, np.concatenate([talk, silence(1.5)]))
    assert len(results) == 1
    assert results[0][1].start_s >= utterance.end_s


def test_short_blip_is_dropped(segmenter):
    rng = np.random.default_rng(3)
    click = rng.normal(0, 0.3, SR // 10).astype(np.float32)  # 100 ms burst
    results = feed_chunks(segmenter, np.concatenate([silence(1), click, silence(2)]))
    assert results == []
    assert segmenter.flush() is None


@pytest.fixture(scope="module")
def long_talk(tmp_path_factory):
    """~40 s of continuous speech: sentences with 300 ms gaps; returns (audio, gaps in s)."""
    speech = speech_synthesizer(tmp_path_factory)
    parts, gaps, t = [silence(0.5)], [], 0.5
    i = 0
    while t < 40:
        talk = speech.speech_16k(LONG_TALK[i % len(LONG_TALK)], "en")
        parts += [talk, silence(0.3)]
        t += talk.size / SR
        gaps.append((t, t + 0.3))
        t += 0.3
        i += 1
    parts.append(silence(1.5))
    return np.concatenate(parts), gaps


def test_long_speech_is_cut_at_a_pause_without_losing_audio(long_talk, vad):
    """The plain rule on a speaker who never pauses 900 ms: the max-length cut."""
    audio, gaps = long_talk
    vad.reset()
    segmenter = UtteranceSegmenter(vad=vad, max_s=30.0, min_silence_ms=900)
    results = [u for _, u in feed_chunks(segmenter, audio)]

    assert [u.reason for u in results] == ["max_length", "silence"]
    first, second = results
    assert first.start_s <= 0.5
    assert 0.6 * 30 <= first.end_s - first.start_s <= 30.0
    # The cut lies in one of the pauses between sentences (VAD lag: up to ~0.15 s late).
    assert any(a <= first.end_s <= b + 0.15 for a, b in gaps), (first.end_s, gaps)
    # Nothing lost: the second utterance starts where the first ended, runs to the end.
    assert second.start_s == first.end_s
    assert second.end_s >= gaps[-1][0]
    assert np.array_equal(
        np.concatenate([first.audio, second.audio]),
        audio[round(first.start_s * SR) : round(second.end_s * SR)],
    )


def test_chunking_does_not_change_the_utterances(long_talk, vad):
    audio, _ = long_talk

    def run(chunk):
        vad.reset()
        segmenter = UtteranceSegmenter(vad=vad)
        return [u for _, u in feed_chunks(segmenter, audio, chunk)]

    small, odd, whole = run(CHUNK), run(1234), run(audio.size)
    assert len(small) >= 2
    for other in (odd, whole):
        assert [(u.start_s, u.end_s, u.reason, u.speech_ms) for u in other] == [
            (u.start_s, u.end_s, u.reason, u.speech_ms) for u in small
        ]
        for a, b in zip(small, other, strict=True):
            np.testing.assert_array_equal(a.audio, b.audio)


def test_reset_starts_a_new_stream(speech, segmenter):
    talk = speech.speech_16k(SENTENCES["en"], "en")
    segmenter.feed(np.concatenate([silence(0.5), talk[: talk.size // 2]]))
    assert segmenter.has_speech
    segmenter.reset()
    assert not segmenter.has_speech
    assert segmenter.stream_time_s == 0.0
    assert segmenter.open_utterance_audio() is None


def test_invalid_settings_are_rejected(vad):
    with pytest.raises(ValueError):
        UtteranceSegmenter(vad=vad, threshold=0)
    with pytest.raises(ValueError):
        UtteranceSegmenter(vad=vad, silence_ms=300, tail_ms=400)
    with pytest.raises(ValueError):
        UtteranceSegmenter(vad=vad, max_s=1.0)


# --- continuous speech: the pause schedule ------------------------------------------------------


def test_pause_schedule_shrinks_from_silence_to_minimum():
    schedule = PauseSchedule(
        silence_ms=900, min_silence_ms=200, shrink_after_s=1.5, shrink_over_s=1.5
    )
    assert [schedule.silence_ms_after(s) for s in (0.0, 1.5, 2.25, 3.0, 60.0)] == [
        900,
        900,
        550,
        200,
        200,
    ]
    assert PauseSchedule(900, 900).silence_ms_after(60.0) == 900  # the plain rule
    with pytest.raises(ValueError):
        PauseSchedule(900, 0)
    with pytest.raises(ValueError):
        PauseSchedule(900, 1000)
    with pytest.raises(ValueError):
        PauseSchedule(900, 200, shrink_over_s=0)


def test_continuous_sentences_are_cut_in_the_gaps_between_them(long_talk, segmenter):
    """espeak sentences (~2.4 s) with 300 ms gaps: every cut lies in a gap, and no sentence
    waits for more than the next one (a 300 ms gap ends an utterance of two sentences)."""
    audio, gaps = long_talk
    results = feed_chunks(segmenter, audio)

    cut_gaps = []
    for cut_at, utterance in results[:-1]:
        hits = [i for i, (a, b) in enumerate(gaps) if a <= utterance.end_s <= b + 0.15]
        assert hits, (utterance.end_s, gaps)
        cut_gaps.append(hits[0])
        assert cut_at - gaps[hits[0]][0] <= 0.5  # within half a second of the sentence's end
    assert all(b - a <= 2 for a, b in itertools.pairwise([-1, *cut_gaps]))
    assert len(results) >= len(gaps) // 2
    # Nothing lost or doubled: each utterance starts where the previous one ended.
    assert all(a.end_s == b.start_s for (_, a), (_, b) in itertools.pairwise(results))


@pytest.fixture(scope="module")
def librivox():
    """The five LibriVox sentences back to back, then 2 s of silence; sentence bounds."""
    audio, bounds = continuous_read_speech()
    return np.concatenate([audio, silence(2.0)]), bounds


def test_real_read_speech_gives_one_utterance_per_sentence_soon_after_its_end(librivox, segmenter):
    audio, bounds = librivox
    results = feed_chunks(segmenter, audio)

    assert len(results) == len(bounds)
    for (cut_at, utterance), (start, end) in zip(results, bounds, strict=True):
        assert utterance.start_s <= start and utterance.end_s >= end - 0.05
        assert 0 < cut_at - end <= 0.6


def test_plain_rule_on_real_read_speech_waits_for_the_end(librivox, plain):
    """Before continuous-speech cutting: one result only, long after the first sentence."""
    audio, bounds = librivox
    results = feed_chunks(plain, audio)
    assert len(results) == 1 and results[0][0] > bounds[-1][1]


class LoudnessVad:
    """A scripted detector for the schedule's rules: probability by loudness of the window
    (0.9 for a tone, 0.02 for silence, 0.4 for a shallow dip)."""

    window_samples = 512

    def probability(self, window: np.ndarray) -> float:
        peak = float(np.abs(window).max())
        return 0.9 if peak > 0.2 else 0.4 if peak > 0.05 else 0.02

    def reset(self) -> None:
        pass


def tone(seconds: float, level: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (level * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def scripted(segments: list[tuple[str, float]]) -> np.ndarray:
    return np.concatenate(
        [
            tone(s) if kind == "talk" else tone(s, 0.1) if kind == "dip" else silence(s)
            for kind, s in segments
        ]
    )


def test_no_pause_means_no_cut_before_the_hard_cap():
    segmenter = UtteranceSegmenter(vad=LoudnessVad(), max_s=10.0)
    results = feed_chunks(segmenter, scripted([("gap", 0.5), ("talk", 12.0)]))
    assert [u.reason for _, u in results] == ["max_length"]
    assert results[0][0] == pytest.approx(0.5 - 0.3 + 10.0, abs=0.05)  # preroll + max_s


def test_short_pauses_cut_long_speech_but_not_short_speech():
    segmenter = UtteranceSegmenter(vad=LoudnessVad())
    stream = scripted(
        [
            ("gap", 0.5),
            ("talk", 1.0),
            ("gap", 0.4),  # 1 s in: 400 ms is a comma
            ("talk", 3.0),
            ("gap", 0.15),  # 4.4 s in: 150 ms is below the minimum
            ("talk", 1.0),
            ("gap", 0.3),  # 5.5 s in: 300 ms ends it
            ("talk", 1.0),
            ("gap", 0.3),
            ("gap", 1.5),
        ]  # a new short utterance: needs 900 ms
    )
    results = feed_chunks(segmenter, stream)
    assert [u.reason for _, u in results] == ["pause", "silence"]
    first_end = 0.5 + 1.0 + 0.4 + 3.0 + 0.15 + 1.0
    assert results[0][1].start_s <= 0.5 and first_end <= results[0][1].end_s <= first_end + 0.3
    assert results[0][0] - first_end <= 0.25


def test_a_shallow_dip_is_not_a_pause():
    """Low but not silent (VAD between threshold - hysteresis and threshold) keeps speaking."""
    segmenter = UtteranceSegmenter(vad=LoudnessVad(), max_s=10.0)
    stream = scripted([("gap", 0.5), ("talk", 4.0), ("dip", 0.5), ("talk", 1.0), ("gap", 1.0)])
    results = feed_chunks(segmenter, stream)
    assert len(results) == 1 and results[0][1].end_s >= 6.0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    segments=st.lists(
        st.tuples(st.sampled_from(["talk", "gap", "dip"]), st.floats(0.05, 3.0)),
        min_size=1,
        max_size=12,
    ),
    chunks=st.lists(st.integers(1, 5000), min_size=1, max_size=20),
)
def test_chunking_never_changes_the_cuts(segments, chunks):
    """Same audio, same utterances (bounds, reasons, samples), however it is chunked."""
    audio = scripted([("gap", 0.3), *segments, ("gap", 1.2)])

    def run(sizes):
        segmenter = UtteranceSegmenter(vad=LoudnessVad(), max_s=6.0)
        out, pos, i = [], 0, 0
        while pos < audio.size:
            step = sizes[i % len(sizes)]
            out += segmenter.feed(audio[pos : pos + step])
            pos, i = pos + step, i + 1
        return out

    whole, chunked = run([audio.size]), run(chunks)
    assert [(u.start_s, u.end_s, u.reason) for u in chunked] == [
        (u.start_s, u.end_s, u.reason) for u in whole
    ]
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_array_equal(a.audio, b.audio)


def test_open_utterance_audio_is_a_copy_of_what_a_flush_would_give(speech, segmenter):
    """Live captions read the utterance still being spoken without disturbing it."""
    assert segmenter.open_utterance_audio() is None
    talk = speech.speech_16k(SENTENCES["en"], "en")
    feed_chunks(segmenter, np.concatenate([silence(0.5), talk[: talk.size // 2]]))
    audio, speech_s = segmenter.open_utterance_audio()
    assert segmenter.open_speech_s == speech_s
    assert 0.5 * talk.size / SR - 0.3 < speech_s <= audio.size / SR
    audio[:] = 1.0  # a copy: the segmenter's own audio is untouched
    utterance = segmenter.flush()
    assert utterance.audio.size == audio.size and utterance.audio.max() < 1.0
    assert segmenter.open_utterance_audio() is None
