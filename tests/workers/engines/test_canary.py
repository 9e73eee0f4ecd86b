"""Canary through the production loading path (HF cache, offline) with a tiny model."""

from types import SimpleNamespace

import numpy as np
import pytest

from workers.engines.base import EngineError, EngineUnavailable, SpeechTranslator

pytestmark = pytest.mark.models


@pytest.fixture
def captured_prompts(canary, monkeypatch):
    """The decoder prompts of every decoding call, as token strings, one list per row."""
    decoding = canary.model.decoding
    original = decoding.decode_predictions_tensor
    calls: list[list[list[str]]] = []

    def spy(*args, **kwargs):
        ids = kwargs["decoder_input_ids"]
        calls.append([canary.model.tokenizer.ids_to_tokens(row.tolist()) for row in ids])
        return original(*args, **kwargs)

    monkeypatch.setattr(decoding, "decode_predictions_tensor", spy)
    return calls


def task_tokens(prompt: list[str]) -> list[str]:
    """The canary2 task slots: after <|startoftranscript|>, emotion, source, target, pnc..."""
    return prompt[prompt.index("<|startoftranscript|>") + 1 :]


def test_loads_production_name_from_offline_hf_cache(canary, tiny_model_env):
    assert type(canary.model).__name__ == "EncDecMultiTaskModel"
    assert canary.model_name == "nvidia/canary-1b-v2"
    assert canary.device == "cpu"
    assert canary.load_ms > 0 and canary.warmup_ms > 0
    assert isinstance(canary, SpeechTranslator)


@pytest.mark.parametrize(
    ("speech_fixture", "src", "tgt"),
    [("english_speech", "en", "ru"), ("russian_speech", "ru", "en")],
)
def test_translation_and_source_text_in_one_call(
    canary, captured_prompts, request, speech_fixture, src, tgt
):
    audio = request.getfixturevalue(speech_fixture)
    result = canary.translate(audio, src=src, tgt=tgt)

    assert isinstance(result.text, str) and result.text
    assert isinstance(result.source_text, str)
    assert len(captured_prompts) == 1  # one decoding pass for both rows
    translation_row, transcript_row = captured_prompts[0]
    common = ["<|pnc|>", "<|noitn|>", "<|notimestamp|>", "<|nodiarize|>"]
    assert task_tokens(translation_row) == [
        "<|emo:undefined|>",
        f"<|{src}|>",
        f"<|{tgt}|>",
        *common,
    ]
    assert task_tokens(transcript_row) == ["<|emo:undefined|>", f"<|{src}|>", f"<|{src}|>", *common]
    assert translation_row[: translation_row.index("<|startoftranscript|>")][-1] == (
        "<|startofcontext|>"
    )
    for key in ("load_ms", "warmup_ms", "inference_ms", "audio_s"):
        assert result.meta[key] > 0
    assert result.meta["chunks"] == 1
    assert result.meta["audio_s"] == pytest.approx(len(audio) / 16000, abs=1e-3)


def test_without_source_text_decodes_one_row(canary, captured_prompts, english_speech):
    result = canary.translate(english_speech, src="en", tgt="ru", with_source_text=False)
    assert result.source_text is None
    assert [len(call) for call in captured_prompts] == [1]
    assert task_tokens(captured_prompts[0][0])[1:3] == ["<|en|>", "<|ru|>"]


def test_long_input_is_translated_in_pieces_cut_at_pauses(canary, captured_prompts):
    rng = np.random.default_rng(0)
    speech = (0.1 * rng.standard_normal(16000 * 25)).astype(np.float32)
    pause = np.zeros(16000, dtype=np.float32)
    audio = np.concatenate([speech, pause, speech, pause, speech])  # 77 s
    result = canary.translate(audio, src="ru", tgt="en")
    assert result.meta["chunks"] == 3
    assert len(captured_prompts) == 3
    assert result.text.count(" ") >= 2  # the pieces' texts, joined


def test_short_input_is_padded(canary):
    result = canary.translate(np.zeros(1600, dtype=np.float32), src="en", tgt="ru")
    assert isinstance(result.text, str)


@pytest.mark.parametrize(("src", "tgt"), [("de", "ru"), ("en", "fr"), ("auto", "en")])
def test_unsupported_language_is_rejected(canary, english_speech, src, tgt):
    with pytest.raises(EngineError, match="unsupported"):
        canary.translate(english_speech, src=src, tgt=tgt)


def test_bad_audio_is_rejected(canary):
    with pytest.raises(EngineError, match="mono"):
        canary.translate(np.zeros((2, 16000), dtype=np.float32), src="en", tgt="ru")
    with pytest.raises(EngineError, match="empty"):
        canary.translate(np.zeros(0, dtype=np.float32), src="en", tgt="ru")


def test_empty_offline_cache_gives_helpful_error(tiny_model_env, tmp_path, monkeypatch):
    import huggingface_hub.constants as hub_constants

    from workers.engines import canary as canary_module

    monkeypatch.setattr(canary_module, "_loaded", {})
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    settings = SimpleNamespace(CANARY_MODEL="nvidia/canary-1b-v2", MODEL_DEVICE="cpu")
    with pytest.raises(EngineUnavailable) as caught:
        canary_module.CanaryTranslator.from_settings(settings)
    message = str(caught.value)
    assert "python manage.py fetch_models" in message
    assert "local .nemo path" in message


def test_missing_or_corrupt_local_file_gives_helpful_error(tiny_model_env, tmp_path, monkeypatch):
    from workers.engines import canary as canary_module

    monkeypatch.setattr(canary_module, "_loaded", {})
    with pytest.raises(EngineUnavailable, match="no such file"):
        canary_module.CanaryTranslator.load(str(tmp_path / "absent.nemo"), device="cpu")
    corrupt = tmp_path / "corrupt.nemo"
    corrupt.write_bytes(b"not a tar archive" * 100)
    with pytest.raises(EngineUnavailable, match="corrupt or incomplete"):
        canary_module.CanaryTranslator.load(str(corrupt), device="cpu")


def test_local_nemo_path_is_accepted(tiny_model_env, monkeypatch):
    from pathlib import Path

    from workers.engines import canary as canary_module

    monkeypatch.setattr(canary_module, "_loaded", {})
    snapshot = next(
        Path(tiny_model_env["HF_HUB_CACHE"]).glob("models--nvidia--canary-1b-v2/snapshots/*/*.nemo")
    )
    translator = canary_module.CanaryTranslator.load(str(snapshot), device="cpu")
    assert translator.translate(np.zeros(16000, np.float32), src="ru", tgt="en").text


def test_split_at_pauses_cuts_in_the_quietest_frames():
    from workers.engines.canary import split_at_pauses

    rng = np.random.default_rng(1)

    def loud(seconds):
        return (0.2 * rng.standard_normal(int(16000 * seconds))).astype(np.float32)

    quiet = np.zeros(8000, dtype=np.float32)  # 0.5 s pauses at 20.0 s and 42.5 s
    audio = np.concatenate([loud(20), quiet, loud(22), quiet, loud(12)])
    pieces = split_at_pauses(audio)
    cuts = np.cumsum([len(p) for p in pieces])[:-1] / 16000
    assert len(pieces) == 3
    assert 20.0 <= cuts[0] <= 20.5
    assert 42.5 <= cuts[1] <= 43.0
    assert sum(len(p) for p in pieces) == len(audio)
    assert all(len(p) <= 30 * 16000 for p in pieces)
    assert len(split_at_pauses(audio[: 16000 * 30])) == 1
