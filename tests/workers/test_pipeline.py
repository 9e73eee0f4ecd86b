"""The utterance pipeline with the real engines on tiny real-format models."""

import numpy as np
import pytest

from tests.workers.engines import conftest as engine_fixtures
from workers.pipeline import TranslationPipeline

pytestmark = pytest.mark.models

# The engines' session fixtures (tiny models built once, espeak speech), shared here.
tiny_model_env = engine_fixtures.tiny_model_env
model_settings = engine_fixtures.model_settings
canary = engine_fixtures.canary
identifier = engine_fixtures.identifier
synthesizer = engine_fixtures.synthesizer
english_speech = engine_fixtures.english_speech
russian_speech = engine_fixtures.russian_speech


@pytest.fixture
def pipeline(canary, synthesizer, identifier):
    return TranslationPipeline(
        translator=canary, synthesizer=synthesizer, identifier=identifier, with_source_text=True
    )


@pytest.mark.parametrize("speech_fixture", ["english_speech", "russian_speech"])
def test_auto_source_goes_through_lid_ast_and_tts(pipeline, request, speech_fixture):
    audio = request.getfixturevalue(speech_fixture)
    result = pipeline.run(audio, src="auto", tgt=None)

    assert result.src in ("en", "ru")
    assert result.tgt == ("ru" if result.src == "en" else "en")
    assert result.meta["lid"]["lang"] == result.src
    assert 0.5 <= result.meta["lid"]["confidence"] <= 1.0
    assert isinstance(result.text, str) and result.text
    assert isinstance(result.source_text, str)
    assert result.tts_failed is False
    assert result.sample_rate == 24000
    assert result.audio.dtype == np.float32 and len(result.audio) > 0
    for key in ("lid_ms", "ast_ms", "tts_ms", "total_ms"):
        assert key in result.timings
    assert result.meta["ast"]["inference_ms"] > 0


def test_explicit_direction_skips_language_id(canary, synthesizer, russian_speech):
    class NoLid:
        def identify(self, audio):
            raise AssertionError("language ID must not run for an explicit source")

    pipeline = TranslationPipeline(translator=canary, synthesizer=synthesizer, identifier=NoLid())
    result = pipeline.run(russian_speech, src="ru", tgt="en", voices={"en": "en_7", "ru": "xenia"})
    assert (result.src, result.tgt) == ("ru", "en")
    assert "lid_ms" not in result.timings
    assert result.voice == "en_7"
    assert result.tts_failed is False


def test_without_source_transcript(canary, synthesizer, english_speech):
    pipeline = TranslationPipeline(
        translator=canary, synthesizer=synthesizer, identifier=None, with_source_text=False
    )
    result = pipeline.run(english_speech, src="en", tgt="ru")
    assert result.source_text is None
    assert result.text


def test_tts_failure_returns_the_text(canary, identifier, english_speech, tmp_path):
    from workers.engines.silero import SileroSynthesizer

    no_voices = SileroSynthesizer(tmp_path / "empty", sample_rate=24000)
    pipeline = TranslationPipeline(translator=canary, synthesizer=no_voices, identifier=identifier)
    result = pipeline.run(english_speech, src="en", tgt="ru")
    assert result.tts_failed is True
    assert result.text
    assert result.audio is None
    assert "fetch_models" in result.tts_error


class CountingSynthesizer:
    """Speaks 10 ms of a tone per character and remembers what it was asked to say; fails
    on text containing "FAIL"."""

    sample_rate = 24_000

    def __init__(self):
        self.calls: list[str] = []

    def synthesize(self, text, *, lang, voice=None):
        from workers.engines.base import Speech

        self.calls.append(text)
        if "FAIL" in text:
            raise RuntimeError("cannot say that")
        n = int(self.sample_rate * 0.01 * len(text))
        return Speech(audio=np.full(n, 0.25, np.float32), sample_rate=self.sample_rate)


def test_speak_yields_sentence_pieces_in_order_with_pauses_between():
    from workers.pipeline import PAUSE_S, PIECE_MAX_CHARS, TranslationPipeline

    synth = CountingSynthesizer()
    pipeline = TranslationPipeline(translator=None, synthesizer=synth, identifier=None)
    long_sentence = ", ".join(["the sentence goes on"] * 20) + "."
    text = f"First one. {long_sentence} Last!"
    pieces = list(pipeline.speak(text, lang="en", voice=None))

    assert synth.calls[0] == "First one." and synth.calls[-1].endswith("on. Last!")
    assert all(len(call) <= PIECE_MAX_CHARS for call in synth.calls)
    assert " ".join(synth.calls) == text  # nothing lost, nothing reordered
    assert [p.index for p in pieces] == list(range(len(synth.calls))) and len(pieces) >= 4
    pause = int(PAUSE_S * 24_000)
    assert len(pieces[0].audio) == int(24_000 * 0.01 * len("First one."))
    assert len(pieces[1].audio) == pause + int(24_000 * 0.01 * len(synth.calls[1]))
    assert np.all(pieces[1].audio[:pause] == 0)


def test_speak_is_lazy_so_the_first_piece_comes_before_the_rest_is_synthesized():
    from workers.pipeline import TranslationPipeline

    synth = CountingSynthesizer()
    pipeline = TranslationPipeline(translator=None, synthesizer=synth, identifier=None)
    pieces = pipeline.speak("One. Two. " + "x" * 200 + ". Three.", lang="en", voice=None)
    first = next(pieces)
    assert first.text == "One. Two." and synth.calls == ["One. Two."]


def test_a_failing_piece_is_reported_and_the_rest_still_spoken():
    from workers.pipeline import SpokenTranslation, TranslationPipeline

    synth = CountingSynthesizer()
    pipeline = TranslationPipeline(translator=None, synthesizer=synth, identifier=None)
    text = "A" * 150 + ". Say FAIL now. " + "B" * 150 + "."
    pieces = list(pipeline.speak(text, lang="en", voice=None))
    assert [p.audio is None for p in pieces] == [False, True, False]
    assert "cannot say that" in pieces[1].error
    spoken = SpokenTranslation.of(iter(pieces))
    assert spoken.pieces == 3 and spoken.failed == 1
    assert spoken.error.startswith("1 of 3 sentences could not be spoken")
    assert len(spoken.audio) == len(pieces[0].audio) + len(pieces[2].audio)


def test_an_unloadable_voice_stops_after_the_first_piece(tmp_path):
    from workers.engines.silero import SileroSynthesizer
    from workers.pipeline import TranslationPipeline

    no_voices = SileroSynthesizer(tmp_path / "empty", sample_rate=24000)
    pipeline = TranslationPipeline(translator=None, synthesizer=no_voices, identifier=None)
    pieces = list(pipeline.speak("One. " + "Two " * 60 + ". Three.", lang="ru", voice=None))
    assert len(pieces) == 1 and pieces[0].audio is None and "fetch_models" in pieces[0].error


def test_nothing_speakable_is_no_pieces():
    from workers.pipeline import SpokenTranslation, TranslationPipeline, speech_pieces_of

    assert speech_pieces_of("") == [] and speech_pieces_of(" ... — !") == []
    pipeline = TranslationPipeline(
        translator=None, synthesizer=CountingSynthesizer(), identifier=None
    )
    spoken = SpokenTranslation.of(pipeline.speak("...", lang="en", voice=None))
    assert spoken.audio is None and "nothing to speak" in spoken.error


def test_a_canary_that_hears_only_special_tokens_means_no_speech_and_no_tts(
    tmp_path, tiny_model_env, identifier, monkeypatch
):
    """A model whose whole output is `<|nospeech|>`: a clear status, no TTS, not an error."""
    from tests.models_fixtures import build_tiny_canary
    from workers.engines import canary as canary_module
    from workers.pipeline import NO_SPEECH

    monkeypatch.setattr(canary_module, "_loaded", {})
    path = build_tiny_canary(tmp_path, filename="nospeech.nemo", favour_token="<|nospeech|>")
    translator = canary_module.CanaryTranslator.load(str(path), device="cpu")

    class NoSynthesis:
        def synthesize(self, text, *, lang, voice=None):
            raise AssertionError("TTS must not run without speech")

    result = TranslationPipeline(
        translator=translator, synthesizer=NoSynthesis(), identifier=identifier
    ).run(np.zeros(16000, np.float32), src="en", tgt="ru")
    assert result.no_speech is True
    assert (result.text, result.audio, result.tts_failed) == ("", None, False)
    assert result.tts_error == NO_SPEECH
    assert result.meta["no_speech"] is True


# --- Piper voices, through the production voice router ---------------------------------------

DENIS = "piper:ru_RU-denis-medium"


@pytest.fixture(scope="module")
def voice_router(model_settings):
    from workers.engines.voices import VoiceRouter

    return VoiceRouter.from_settings(model_settings)


def test_piper_speaks_piece_by_piece(canary, voice_router, identifier, english_speech):
    """The translation cut into pieces, each spoken by the tiny Piper voice as soon as it is
    synthesized, in order, at TTS_SAMPLE_RATE, with the pause before every piece but the
    first; then the joined waveform of `run` is those pieces."""
    from workers.engines.piper import PAUSE_S as PIPER_SENTENCE_PAUSE_S
    from workers.pipeline import PAUSE_S, SpokenTranslation, TranslationPipeline, speech_pieces_of

    pipeline = TranslationPipeline(
        translator=canary, synthesizer=voice_router, identifier=identifier
    )
    text = "Первое предложение. " + "Второе, " * 25 + "конец. Третье!"
    expected_texts = speech_pieces_of(text)
    assert len(expected_texts) >= 3

    pieces = list(pipeline.speak(text, lang="ru", voice=DENIS))

    assert [p.text for p in pieces] == expected_texts
    assert [p.index for p in pieces] == list(range(len(expected_texts)))
    assert all(p.audio is not None and p.sample_rate == 24000 and not p.error for p in pieces)
    pause = int(PAUSE_S * 24000)
    assert np.abs(pieces[0].audio[:pause]).max() > 0  # the first piece starts with speech
    for piece in pieces[1:]:
        assert not piece.audio[:pause].any() and np.abs(piece.audio[pause:]).max() > 0
    alone = voice_router.synthesize(expected_texts[1], lang="ru", voice=DENIS)
    np.testing.assert_array_equal(pieces[1].audio[pause:], alone.audio)
    assert PIPER_SENTENCE_PAUSE_S == PAUSE_S  # sentences inside a piece pause alike

    spoken = SpokenTranslation.of(iter(pieces))
    assert spoken.error == "" and spoken.pieces == len(pieces)
    assert len(spoken.audio) == sum(len(p.audio) for p in pieces)

    result = pipeline.run(english_speech, src="en", tgt="ru", voices={"ru": DENIS})
    assert (result.voice, result.tts_failed, result.sample_rate) == (DENIS, False, 24000)
    assert len(result.audio) > 0


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (None, "the Piper voice ru_RU-denis-medium is missing"),
        ("corrupt", "could not load the Piper voice ru_RU-denis-medium"),
    ],
    ids=["missing", "corrupt"],
)
def test_a_missing_or_corrupt_piper_voice_is_tts_failed_with_the_reason(
    canary, identifier, english_speech, model_settings, tmp_path, damage, reason
):
    from types import SimpleNamespace

    from tests.models_fixtures import build_tiny_piper_voice
    from workers.engines.voices import VoiceRouter

    if damage == "corrupt":
        build_tiny_piper_voice(tmp_path, "ru_RU-denis-medium")
        (tmp_path / "ru_RU-denis-medium.onnx").write_bytes(b"\x08\x07garbage")
    settings = SimpleNamespace(**{**vars(model_settings), "PIPER_VOICES_DIR": tmp_path})
    pipeline = TranslationPipeline(
        translator=canary, synthesizer=VoiceRouter.from_settings(settings), identifier=identifier
    )
    result = pipeline.run(english_speech, src="en", tgt="ru", voices={"ru": DENIS})
    assert result.tts_failed is True and result.audio is None
    assert result.text  # the translation itself is kept
    assert reason in result.tts_error and "fetch_models --only piper" in result.tts_error
    pieces = list(pipeline.speak("Один. " + "Два " * 60 + ". Три.", lang="ru", voice=DENIS))
    assert len(pieces) == 1 and pieces[0].audio is None  # the voice cannot load: stop there
