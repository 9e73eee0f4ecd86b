"""The Piper engine on tiny ONNX voices of Piper's exact signature and config layout, loaded
through the production loader (PiperSynthesizer, piper-tts, onnxruntime)."""

from __future__ import annotations

import json
import logging

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from tests.models_fixtures import PIPER_TINY_HOP, PIPER_TINY_RATE, build_tiny_piper_voice
from translation.constants import PIPER_VOICES
from workers.engines.base import EngineError, EngineUnavailable, SpeechSynthesizer
from workers.engines.piper import PAUSE_S, PiperSynthesizer, onnx_providers
from workers.engines.textnorm import normalize_for_speech

pytestmark = pytest.mark.models

DENIS = "piper:ru_RU-denis-medium"
LESSAC = "piper:en_US-lessac-medium"


def piper_ids(text: str, lang: str) -> list[list[int]]:
    """What Piper feeds the model for `text`, sentence by sentence: espeak-ng's phonemes
    through Piper's bridge, then ids with BOS, a pad after each phoneme, and EOS."""
    from piper.phoneme_ids import DEFAULT_PHONEME_ID_MAP, phonemes_to_ids
    from piper.phonemize_espeak import EspeakPhonemizer

    voice = {"ru": "ru", "en": "en-us"}[lang]
    sentences = EspeakPhonemizer().phonemize(voice, normalize_for_speech(text, lang))
    return [phonemes_to_ids(phonemes, DEFAULT_PHONEME_ID_MAP) for phonemes in sentences]


def waves_of(path) -> np.ndarray:
    """The tiny voice's per-id waveforms (its only weights)."""
    model = onnx.load(str(path))
    (waves,) = (t for t in model.graph.initializer if t.name == "phoneme_waves")
    return numpy_helper.to_array(waves)


@pytest.fixture
def native_rate(model_settings) -> PiperSynthesizer:
    """The tiny voices at their own rate (22.05 kHz): no resampling between model and test."""
    return PiperSynthesizer(model_settings.PIPER_VOICES_DIR, sample_rate=PIPER_TINY_RATE)


def test_is_a_speech_synthesizer(piper):
    assert isinstance(piper, SpeechSynthesizer)


def test_feeds_the_model_pipers_phoneme_ids(native_rate, model_settings):
    """The model gets exactly Piper's ids ('^', '_' after each phoneme, '$'): the tiny voice
    says each id as its own waveform, so the audio is those waveforms in order (peak-normalised
    per sentence, as Piper does)."""
    text = "Привет, мир."
    (ids,) = piper_ids(text, "ru")
    assert ids[:2] == [1, 0] and ids[-1] == 2  # BOS, pad ... EOS
    assert ids[2:-1:2] and set(ids[3:-1:2]) == {0}  # a pad after every phoneme

    speech = native_rate.synthesize(text, lang="ru", voice=DENIS)

    waves = waves_of(model_settings.PIPER_VOICES_DIR / "ru_RU-denis-medium.onnx")
    expected = waves[ids].reshape(-1)
    expected = expected / np.abs(expected).max()
    assert speech.sample_rate == PIPER_TINY_RATE
    assert speech.audio.dtype == np.float32
    np.testing.assert_allclose(speech.audio, expected, atol=1e-6)


def test_sentences_are_spoken_with_a_pause_between(native_rate):
    text = "Hello there. How are you?"
    sentences = piper_ids(text, "en")
    assert len(sentences) == 2
    speech = native_rate.synthesize(text, lang="en", voice=LESSAC)
    pause = int(PAUSE_S * PIPER_TINY_RATE)
    assert len(speech.audio) == sum(len(ids) for ids in sentences) * PIPER_TINY_HOP + pause
    assert speech.meta["chunks"] == 2.0
    first = len(sentences[0]) * PIPER_TINY_HOP
    assert not speech.audio[first : first + pause].any()


def test_output_is_resampled_to_the_tts_rate(piper):
    (ids,) = piper_ids("Добрый день.", "ru")
    speech = piper.synthesize("Добрый день.", lang="ru", voice=DENIS)
    assert speech.sample_rate == 24000
    native = len(ids) * PIPER_TINY_HOP
    assert abs(len(speech.audio) - native * 24000 / PIPER_TINY_RATE) <= 2
    assert speech.meta["audio_s"] == pytest.approx(native / PIPER_TINY_RATE, abs=1e-3)
    assert np.abs(speech.audio).max() <= 1.0


def test_numbers_and_the_other_script_go_through_text_normalisation(native_rate):
    """Digits become words and Latin is transliterated for a Russian voice, before espeak."""
    said = native_rate.synthesize("В 2024 году Anna купила 5 книг.", lang="ru", voice=DENIS)
    normalised = normalize_for_speech("В 2024 году Anna купила 5 книг.", "ru")
    assert not any(ch.isdigit() or "a" <= ch.lower() <= "z" for ch in normalised)
    spelled = native_rate.synthesize(normalised, lang="ru", voice=DENIS)
    np.testing.assert_array_equal(said.audio, spelled.audio)
    assert said.meta["chars"] == len(normalised)


def test_every_offered_voice_speaks(piper):
    for lang, voices in PIPER_VOICES.items():
        for voice in voices:
            text = "Проверка." if lang == "ru" else "A test."
            assert len(piper.synthesize(text, lang=lang, voice=voice).audio) > 0


def test_default_voice_from_settings(model_settings):
    settings = type(model_settings)(**{**vars(model_settings), "TTS_VOICE_RU": DENIS})
    synthesizer = PiperSynthesizer.from_settings(settings)
    assert synthesizer.default_voices == {"ru": DENIS}
    assert len(synthesizer.synthesize("Привет.", lang="ru").audio) > 0
    with pytest.raises(EngineError, match="no Piper en voice chosen"):
        synthesizer.synthesize("Hello.", lang="en")


def test_a_multi_speaker_voice_gets_a_speaker_id(tmp_path):
    build_tiny_piper_voice(tmp_path, "ru_RU-denis-medium", num_speakers=3)
    config = json.loads((tmp_path / "ru_RU-denis-medium.onnx.json").read_text())
    assert config["num_speakers"] == 3
    speech = PiperSynthesizer(tmp_path).synthesize("Привет.", lang="ru", voice=DENIS)
    assert len(speech.audio) > 0


def test_unknown_or_wrong_language_voice(piper):
    with pytest.raises(EngineError, match="unknown Piper ru voice"):
        piper.synthesize("Привет.", lang="ru", voice=LESSAC)
    with pytest.raises(EngineError, match="unknown Piper en voice"):
        piper.synthesize("Hello.", lang="en", voice="piper:en_US-nobody-medium")
    with pytest.raises(EngineError, match="no words"):
        piper.synthesize("...", lang="en", voice=LESSAC)
    with pytest.raises(EngineUnavailable, match="TTS_VOICE_RU"):
        PiperSynthesizer("/nowhere", default_voices={"ru": "baya"})


def test_a_missing_voice_says_how_to_fetch_it_and_loads_once_fetched(tmp_path):
    synthesizer = PiperSynthesizer(tmp_path)
    with pytest.raises(EngineUnavailable, match="fetch_models --only piper") as error:
        synthesizer.synthesize("Привет.", lang="ru", voice=DENIS)
    assert "ru_RU-denis-medium.onnx" in str(error.value)
    build_tiny_piper_voice(tmp_path, "ru_RU-denis-medium")  # what fetch_models puts there
    assert len(synthesizer.synthesize("Привет.", lang="ru", voice=DENIS).audio) > 0


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda d: (d / "ru_RU-denis-medium.onnx").write_bytes(b"not a model"), "could not load"),
        (lambda d: (d / "ru_RU-denis-medium.onnx.json").write_text("{"), "config .* is not valid"),
        (
            lambda d: (d / "ru_RU-denis-medium.onnx.json").write_text('{"audio": {}}'),
            "config .* is not valid",
        ),
    ],
    ids=["corrupt-model", "corrupt-config", "incomplete-config"],
)
def test_a_broken_voice_is_a_clear_error(tmp_path, damage, reason):
    build_tiny_piper_voice(tmp_path, "ru_RU-denis-medium")
    damage(tmp_path)
    with pytest.raises(EngineUnavailable, match=reason) as error:
        PiperSynthesizer(tmp_path).synthesize("Привет.", lang="ru", voice=DENIS)
    assert "fetch_models" in str(error.value)


def test_an_onnx_model_that_is_not_a_piper_voice(tmp_path):
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "other",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    build_tiny_piper_voice(tmp_path, "ru_RU-denis-medium")
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "ru_RU-denis-medium.onnx"))
    with pytest.raises(EngineUnavailable, match="not a Piper voice"):
        PiperSynthesizer(tmp_path).synthesize("Привет.", lang="ru", voice=DENIS)


def test_providers_follow_model_device(caplog):
    import onnxruntime

    assert onnx_providers("cpu") == ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        assert onnx_providers("auto")[0][0] == "CUDAExecutionProvider"
        assert onnx_providers("cuda:1")[0] == (
            "CUDAExecutionProvider",
            {"device_id": 1, "cudnn_conv_algo_search": "HEURISTIC"},
        )
    else:
        assert onnx_providers("auto") == ["CPUExecutionProvider"]
        with caplog.at_level(logging.WARNING):
            assert onnx_providers("cuda") == ["CPUExecutionProvider"]
        assert "onnxruntime-gpu" in caplog.text
