"""Endpointing with the real Silero VAD on espeak-ng speech."""

import numpy as np
import pytest

from tests.speech import silence, speech_synthesizer
from translation.segmenter import SileroVad, Utterance, UtteranceSegmenter

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
def test_one_sentence_then_silence_gives_one_utterance_in_time(speech, segmenter, lang):
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
            segmenter = UtteranceSegmenter(vad=vad)
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

    assert [u.reason for _, u in results] == ["silence", "silence"]
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


def test_silence_and_noise_never_make_an_utterance(segmenter):
    noise = np.random.default_rng(7).normal(0, 0.01, 10 * SR).astype(np.float32)
    for audio in (silence(10), noise):
        assert feed_chunks(segmenter, audio) == []
        assert not segmenter.has_speech
        # Memory stays bounded: only a preroll (plus slack) of silence is kept.
        assert segmenter.buffered_s < 1.0
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
    audio, gaps = long_talk
    vad.reset()
    segmenter = UtteranceSegmenter(vad=vad, max_s=30.0)
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
    assert len(small) == 2
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
    assert segmenter.buffered_s == 0.0


def test_invalid_settings_are_rejected(vad):
    with pytest.raises(ValueError):
        UtteranceSegmenter(vad=vad, threshold=0)
    with pytest.raises(ValueError):
        UtteranceSegmenter(vad=vad, silence_ms=300, tail_ms=400)
    with pytest.raises(ValueError):
        UtteranceSegmenter(vad=vad, max_s=1.0)


def test_open_utterance_audio_is_a_copy_of_what_a_flush_would_give(speech, segmenter):
    """Live captions read the utterance still being spoken without disturbing it."""
    assert segmenter.open_utterance_audio() is None
    talk = speech.speech_16k(SENTENCES["en"], "en")
    feed_chunks(segmenter, np.concatenate([silence(0.5), talk[: talk.size // 2]]))
    audio, speech_s = segmenter.open_utterance_audio()
    assert 0.5 * talk.size / SR - 0.3 < speech_s <= audio.size / SR
    audio[:] = 1.0  # a copy: the segmenter's own audio is untouched
    utterance = segmenter.flush()
    assert utterance.audio.size == audio.size and utterance.audio.max() < 1.0
    assert segmenter.open_utterance_audio() is None
