"""Canary through the production loading path (HF cache, offline) with a tiny model."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

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
    assert len(captured_prompts) == 1  # the pieces decode as one batch: 3 x (translation,
    assert len(captured_prompts[0]) == 6  # transcript) rows
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


# --- what the real weights need: aligner, bounded decoding, special tokens, one encoder pass ---

PROMPT_TOKENS = 10  # ▁ <|startofcontext|> <|startoftranscript|> emotion src tgt pnc itn ts diarize


@pytest.fixture(scope="session")
def special_models(tmp_path_factory, tiny_model_env):
    """Tiny Canary `.nemo` files that misbehave like real weights can: one that carries a
    timestamps aligner, one that loops on a word (and an unbounded decoder config), one that
    emits only `<|nodiarize|>`, one that says `<|nospeech|>`."""
    from tests.models_fixtures import add_timestamps_aligner, build_tiny_ambernet, build_tiny_canary

    root = tmp_path_factory.mktemp("special-canary")
    with_aligner = add_timestamps_aligner(
        build_tiny_canary(root, filename="with-aligner.nemo"), build_tiny_ambernet(root)
    )
    return {
        "with_aligner": with_aligner,
        "looping": build_tiny_canary(
            root,
            filename="looping.nemo",
            favour_token="▁the",
            max_generation_delta=-1,
            max_sequence_length=256,
        ),
        "nodiarize": build_tiny_canary(
            root, filename="nodiarize.nemo", favour_token="<|nodiarize|>"
        ),
        "nospeech": build_tiny_canary(root, filename="nospeech.nemo", favour_token="<|nospeech|>"),
    }


@pytest.fixture
def fresh_cache(monkeypatch):
    from workers.engines import canary as canary_module

    monkeypatch.setattr(canary_module, "_loaded", {})
    return canary_module


def test_the_timestamps_aligner_inside_the_nemo_is_not_loaded(special_models, fresh_cache):
    from nemo.collections.asr.models import ASRModel

    path = str(special_models["with_aligner"])
    as_nemo_loads_it = ASRModel.restore_from(path, map_location="cpu")
    assert type(as_nemo_loads_it.timestamps_asr_model).__name__ == "EncDecSpeakerLabelModel"

    translator = fresh_cache.CanaryTranslator.load(path, device="cpu")
    assert translator.model.timestamps_asr_model is None
    assert translator.model.cfg.restore_timestamps_model is False
    assert translator.translate(np.zeros(16000, np.float32), src="en", tgt="ru").meta


def test_a_looping_model_stops_at_the_bound(special_models, fresh_cache, caplog):
    import logging

    audio = np.random.default_rng(3).standard_normal(16000 * 2).astype(np.float32) * 0.1
    encoder_frames = 25  # 2 s: 200 feature frames, 8x subsampling (the tensor is padded to 26;
    # the bound counts the row's own frames, so a row bounds the same alone or in a batch)

    with caplog.at_level(logging.INFO, logger="workers.engines.canary"):
        translator = fresh_cache.CanaryTranslator.load(
            str(special_models["looping"]), device="cpu", max_generation_delta=10
        )
    assert "decoding: greedy, at most encoder frames + 10 tokens (decoder maximum 256)" in (
        caplog.text
    )
    bounded = translator.translate(audio, src="en", tgt="ru", with_source_text=False)
    assert bounded.text.split() == ["the"] * (encoder_frames + 10 - PROMPT_TOKENS)

    # The same model with NeMo's default (-1) runs to the decoder's maximum length.
    from omegaconf import open_dict

    config = translator.model.cfg.decoding
    with open_dict(config):
        config.greedy.max_generation_delta = -1
    translator.model.change_decoding_strategy(config)
    unbounded = translator.translate(audio, src="en", tgt="ru", with_source_text=False)
    assert len(unbounded.text.split()) == 256 - PROMPT_TOKENS  # up to the last position


def test_a_negative_bound_is_refused(special_models, fresh_cache):
    with pytest.raises(EngineUnavailable, match="CANARY_MAX_GENERATION_DELTA=-1"):
        fresh_cache.CanaryTranslator.load(
            str(special_models["nodiarize"]), device="cpu", max_generation_delta=-1
        )


@pytest.mark.parametrize("model_key", ["nodiarize", "nospeech"])
def test_special_tokens_never_reach_the_text(special_models, fresh_cache, model_key):
    translator = fresh_cache.CanaryTranslator.load(str(special_models[model_key]), device="cpu")
    audio = np.zeros(16000, np.float32)
    raw = translator.decode(audio, [("en", "ru")])[0]
    assert f"<|{model_key}|>" in raw  # the model does emit them

    result = translator.translate(audio, src="en", tgt="ru")
    assert result.text == ""
    assert result.source_text == ""
    assert result.no_speech is True


def test_strip_special_tokens():
    from workers.engines.canary import strip_special_tokens

    assert strip_special_tokens("<|nodiarize|><|nodiarize|>") == ""
    assert strip_special_tokens("<|nospeech|>") == ""
    assert strip_special_tokens(" Hello<|spkchange|> world <|emo:happy|>!") == "Hello world !"
    assert strip_special_tokens("a < b | c > d") == "a < b | c > d"


def test_both_rows_decode_from_one_encoder_pass(canary, english_speech, monkeypatch):
    encoder_batches: list[int] = []
    encoder = canary.model.encoder
    original = encoder.forward

    def counting(*args, **kwargs):
        encoder_batches.append(int(kwargs["audio_signal"].shape[0]))
        return original(*args, **kwargs)

    monkeypatch.setattr(encoder, "forward", counting)
    result = canary.translate(english_speech, src="en", tgt="ru")
    assert encoder_batches == [1]  # one pass, batch 1, for translation + transcript
    assert result.source_text is not None

    # The same rows through NeMo's transcribe() give the same texts.
    from nemo.collections.asr.models.aed_multitask_models import MultiTaskTranscriptionConfig

    tasks = [("en", "ru"), ("en", "en")]
    signal = torch.tensor(english_speech)
    prompts = torch.stack([canary.prompt_ids(s, t) for s, t in tasks])
    batch = (
        signal.unsqueeze(0).expand(2, -1).contiguous(),
        torch.full((2,), signal.shape[0], dtype=torch.long),
        None,
        None,
        prompts,
        torch.full((2,), prompts.shape[1], dtype=torch.long),
    )
    config = MultiTaskTranscriptionConfig(batch_size=2, verbose=False, num_workers=0)
    loader = torch.utils.data.DataLoader([batch], batch_size=None)
    with torch.inference_mode():
        reference = [h.text for h in canary.model.transcribe(loader, override_config=config)]
    assert encoder_batches == [1, 2]
    assert canary.decode(english_speech, tasks) == reference


def test_a_batch_gives_each_row_what_it_gives_alone(
    canary, english_speech, russian_speech, monkeypatch
):
    """Rows of different lengths and directions, with and without the transcript, through
    one encoder pass: each answer equals the batch-of-one answer (greedy is deterministic,
    and each row keeps its own generation bound although the batch is padded)."""
    from workers.engines.base import TranslationRequest

    noise = np.random.default_rng(5).standard_normal(16000 * 4).astype(np.float32) * 0.05
    long_copies = int(40 * 16000 / len(english_speech)) + 1  # over 40 s: 2 pieces
    requests = [
        TranslationRequest(english_speech, "en", "ru"),
        TranslationRequest(russian_speech[: 16000 // 2], "ru", "en"),  # padded to 1 s
        TranslationRequest(noise, "en", "en"),
        TranslationRequest(russian_speech, "ru", "en", with_source_text=False),
        TranslationRequest(np.concatenate([english_speech] * long_copies), "en", "ru"),
    ]
    alone = [canary.translate_batch([r])[0] for r in requests]

    encoder_batches: list[int] = []
    original = canary.model.encoder.forward

    def counting(*args, **kwargs):
        encoder_batches.append(int(kwargs["audio_signal"].shape[0]))
        return original(*args, **kwargs)

    monkeypatch.setattr(canary.model.encoder, "forward", counting)
    together = canary.translate_batch(requests)

    assert alone[-1].meta["chunks"] == 2.0
    assert encoder_batches == [6]  # one pass: 4 utterances + the long one's 2 pieces
    for single, batched in zip(alone, together, strict=True):
        assert (batched.text, batched.source_text, batched.no_speech) == (
            single.text,
            single.source_text,
            single.no_speech,
        )
        assert batched.meta["chunks"] == single.meta["chunks"]


def test_a_bad_request_fails_alone_in_its_batch(canary, english_speech):
    from workers.engines.base import TranslationRequest

    results = canary.translate_batch(
        [
            TranslationRequest(english_speech, "en", "ru"),
            TranslationRequest(np.zeros(0, np.float32), "en", "ru"),
            TranslationRequest(english_speech, "en", "de"),  # type: ignore[arg-type]
        ]
    )
    assert not isinstance(results[0], EngineError) and results[0].meta["chunks"] == 1.0
    assert isinstance(results[1], EngineError) and "empty" in str(results[1])
    assert isinstance(results[2], EngineError) and "'de'" in str(results[2])


def test_out_of_memory_is_recognised():
    from workers.engines.base import is_out_of_memory

    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate"))
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))
