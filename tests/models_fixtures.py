"""Tiny models of the real classes and file formats, for tests and the end-to-end run.

Real weights cannot be downloaded here, so these builders make models that load through the
same production code paths: a random-weight `EncDecMultiTaskModel` (Canary, `canary2` prompt,
a real SentencePiece tokenizer) saved as `.nemo`, a tiny `EncDecSpeakerLabelModel` (AmberNet's
class, language labels), a `torch.package` TTS exporting `apply_tts(...)` like Silero's, and
ONNX voices of Piper's exact signature and config layout.
The install helpers lay them out where `from_pretrained` and the Silero loader look, so the
production settings load them with no network at all.

Plain functions: session fixtures wrap them, and the end-to-end test calls them directly.
Heavy imports (torch, NeMo) happen inside the builders.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import types
from pathlib import Path

CANARY_REPO = "nvidia/canary-1b-v2"
CANARY_FILE = "canary-1b-v2.nemo"
LID_NAME = "langid_ambernet"
# Labels of the tiny LID model: en/ru plus others, so that the restriction to en/ru is tested.
LID_LABELS = ["de", "en", "fr", "ru"]
# The tiny LID's bias towards "de" (a label outside en/ru): unrestricted, it would always win.
LID_DE_BIAS = 50.0
BUILD_VERSION = "2"  # bump when the builders change, so cached builds are rebuilt

CANARY_SPECIAL_TOKENS = [
    "<pad>",
    "<|endoftext|>",
    "<|startoftranscript|>",
    "<|pnc|>",
    "<|nopnc|>",
    "<|nospeech|>",
    "<|startofcontext|>",
    "<|itn|>",
    "<|noitn|>",
    "<|timestamp|>",
    "<|notimestamp|>",
    "<|diarize|>",
    "<|nodiarize|>",
    "<|spkchange|>",
    "<|audioseparator|>",
    "<|emo:undefined|>",
    "<|emo:neutral|>",
    "<|emo:happy|>",
    "<|emo:sad|>",
    "<|emo:angry|>",
    "<|unklang|>",
    "<|en|>",
    "<|ru|>",
]

_EN_WORDS = (
    "the cat sat on a warm mat while my friend reads books about cities rivers and old "
    "trains we will meet tomorrow at the station near the park it is raining today please "
    "speak slowly thank you very much where is the museum how much does this cost"
).split()
_RU_WORDS = (
    "кошка сидит на тёплом коврике пока мой друг читает книги о городах реках и старых "
    "поездах мы встретимся завтра на вокзале возле парка сегодня идёт дождь пожалуйста "
    "говорите медленно спасибо большое где находится музей сколько это стоит"
).split()


def _training_lines(count: int = 400) -> list[str]:
    """Deterministic en/ru sentences: enough text for a small BPE vocabulary."""
    lines = []
    for i in range(count):
        words = _EN_WORDS if i % 2 == 0 else _RU_WORDS
        picked = [words[(i * 7 + k * 3) % len(words)] for k in range(5 + i % 6)]
        sentence = " ".join(picked)
        lines.append(sentence[0].upper() + sentence[1:] + (".", "?", "!", ",")[i % 4])
    return lines


def _train_tokenizer(tokenizer_dir: Path) -> None:
    import sentencepiece as spm

    tokenizer_dir.mkdir(parents=True, exist_ok=True)
    corpus = tokenizer_dir / "corpus.txt"
    corpus.write_text("\n".join(_training_lines()) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(tokenizer_dir / "tokenizer"),
        vocab_size=256,
        model_type="bpe",
        character_coverage=1.0,
        unk_id=0,
        bos_id=-1,
        eos_id=-1,
        pad_id=-1,
        user_defined_symbols=CANARY_SPECIAL_TOKENS,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    corpus.unlink()
    pieces = [
        line.split("\t")[0]
        for line in (tokenizer_dir / "tokenizer.vocab").read_text(encoding="utf-8").splitlines()
    ]
    (tokenizer_dir / "vocab.txt").write_text("\n".join(pieces) + "\n", encoding="utf-8")


_TRANSFORMER_ENCODER = (
    "nemo.collections.asr.modules.transformer.transformer_encoders.TransformerEncoder"
)
_SMOOTHED_CE_LOSS = "nemo.collections.common.losses.smoothed_cross_entropy.SmoothedCrossEntropyLoss"


# canary-1b-v2's published architecture (model card, NeMo config): FastConformer encoder of 32
# layers, d_model 1024, 8 heads, feed-forward ×4, dw_striding ×8 with 256 channels, 128 mel
# features; Transformer decoder of 8 layers, hidden 1024, inner 4096, 8 heads; a 16,384-token
# vocabulary (ours is smaller: the head is ~15 % of a decoder step, see the benchmark's note).
FULL_SIZE = {
    "hidden": 1024,
    "encoder_layers": 32,
    "encoder_heads": 8,
    "ff_expansion": 4,
    "subsampling_channels": 256,
    "decoder_layers": 8,
    "decoder_heads": 8,
    "decoder_inner": 4096,
    "max_sequence_length": 1024,
}
TINY_SIZE = {
    "hidden": 64,
    "encoder_layers": 2,
    "encoder_heads": 2,
    "ff_expansion": 2,
    "subsampling_channels": 32,
    "decoder_layers": 2,
    "decoder_heads": 2,
    "decoder_inner": 128,
    "max_sequence_length": 64,
}


def _canary_config(
    tokenizer_dir: Path,
    *,
    size: dict | None = None,
    max_generation_delta: int = 6,
    max_sequence_length: int | None = None,
):
    from nemo.collections.asr.parts.submodules.multitask_decoding import MultiTaskDecodingConfig
    from omegaconf import OmegaConf

    size = dict(size or TINY_SIZE)
    if max_sequence_length is not None:
        size["max_sequence_length"] = max_sequence_length
    hidden = size["hidden"]
    decoding = OmegaConf.merge(
        OmegaConf.structured(MultiTaskDecodingConfig),
        {"strategy": "greedy", "greedy": {"max_generation_delta": max_generation_delta}},
    )
    cfg = {
        "sample_rate": 16000,
        "prompt_format": "canary2",
        "prompt_defaults": [
            {
                "role": "user",
                "slots": {
                    "decodercontext": "",
                    "source_lang": "<|en|>",
                    "target_lang": "<|en|>",
                    "emotion": "<|emo:undefined|>",
                    "pnc": "<|pnc|>",
                    "itn": "<|noitn|>",
                    "diarize": "<|nodiarize|>",
                    "timestamp": "<|notimestamp|>",
                },
            }
        ],
        "tokenizer": {
            "dir": str(tokenizer_dir),
            "type": "bpe",
            "custom_tokenizer": {
                "_target_": "nemo.collections.common.tokenizers.canary_tokenizer.CanaryBPETokenizer"
            },
        },
        "model_defaults": {
            "asr_enc_hidden": hidden,
            "lm_enc_hidden": hidden,
            "lm_dec_hidden": hidden,
        },
        "preprocessor": {
            "_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
            "sample_rate": 16000,
            "normalize": "per_feature",
            "window_size": 0.025,
            "window_stride": 0.01,
            "window": "hann",
            "features": 128,
            "n_fft": 512,
            "log": True,
            "frame_splicing": 1,
            "dither": 1e-5,
            "pad_to": 0,
            "pad_value": 0.0,
        },
        "encoder": {
            "_target_": "nemo.collections.asr.modules.ConformerEncoder",
            "feat_in": 128,
            "feat_out": -1,
            "n_layers": size["encoder_layers"],
            "d_model": hidden,
            "subsampling": "dw_striding",
            "subsampling_factor": 8,
            "subsampling_conv_channels": size["subsampling_channels"],
            "ff_expansion_factor": size["ff_expansion"],
            "self_attention_model": "rel_pos",
            "n_heads": size["encoder_heads"],
            "att_context_size": [-1, -1],
            "xscaling": True,
            "untie_biases": True,
            "pos_emb_max_len": 512,
            "conv_kernel_size": 9,
            "conv_norm_type": "batch_norm",
            "dropout": 0.0,
            "dropout_pre_encoder": 0.0,
            "dropout_emb": 0.0,
            "dropout_att": 0.0,
        },
        "transf_encoder": {
            "_target_": _TRANSFORMER_ENCODER,
            "num_layers": 0,
            "hidden_size": hidden,
            "inner_size": hidden * 2,
            "num_attention_heads": 2,
            "ffn_dropout": 0.0,
            "attn_score_dropout": 0.0,
            "attn_layer_dropout": 0.0,
            "mask_future": False,
            "pre_ln": True,
            "pre_ln_final_layer_norm": True,
        },
        "transf_decoder": {
            "_target_": "nemo.collections.asr.modules.transformer.get_nemo_transformer",
            "model_name": None,
            "pretrained": False,
            "encoder": False,
            "pre_ln_final_layer_norm": True,
            "config_dict": {
                "max_sequence_length": size["max_sequence_length"],
                "num_token_types": 0,
                "embedding_dropout": 0.0,
                "learn_positional_encodings": False,
                "hidden_size": hidden,
                "inner_size": size["decoder_inner"],
                "num_layers": size["decoder_layers"],
                "num_attention_heads": size["decoder_heads"],
                "ffn_dropout": 0.0,
                "attn_score_dropout": 0.0,
                "attn_layer_dropout": 0.0,
                "hidden_act": "relu",
                "pre_ln": True,
                "vocab_size": None,
            },
        },
        "head": {
            "_target_": "nemo.collections.asr.parts.submodules.token_classifier.TokenClassifier",
            "num_layers": 1,
            "activation": "relu",
            "log_softmax": True,
            "hidden_size": hidden,
            "num_classes": None,
            "dropout": 0.0,
            "use_transformer_init": True,
        },
        "loss": {
            "_target_": _SMOOTHED_CE_LOSS,
            "label_smoothing": 0.0,
        },
    }
    config = OmegaConf.create(cfg)
    config.decoding = decoding
    return config


def make_canary(
    tokenizer_dir: Path,
    *,
    favour_token: str | None = None,
    max_generation_delta: int = 6,
    max_sequence_length: int | None = None,
    full_size: bool = False,
):
    """A random-weight `EncDecMultiTaskModel` (canary2 prompt) in memory, its tokenizer trained
    into `tokenizer_dir` (which must outlive the model until it is saved).

    `favour_token`: the output layer's bias makes that token win every step (a model that
    loops on a word, or emits only a special token such as `<|nodiarize|>`); `full_size`:
    canary-1b-v2's architecture (about 1 B parameters, 4 GB in fp32) instead of the tiny one.
    """
    import torch
    from nemo.collections.asr.models import EncDecMultiTaskModel
    from nemo.utils.app_state import AppState

    torch.manual_seed(0)
    _train_tokenizer(tokenizer_dir)
    config = _canary_config(
        tokenizer_dir,
        size=FULL_SIZE if full_size else TINY_SIZE,
        max_generation_delta=max_generation_delta,
        max_sequence_length=max_sequence_length,
    )
    # A model restored earlier in this process leaves its path in NeMo's global state, and a
    # new model would look for a timestamps aligner there.
    AppState().model_restore_path = None
    model = EncDecMultiTaskModel(cfg=config)
    if favour_token is not None:
        token_id = model.tokenizer.token_to_id(favour_token)
        with torch.no_grad():
            model.log_softmax.mlp.layer0.bias[token_id] += 1000.0
    return model


def build_tiny_canary(
    dest_dir: Path | str, *, filename: str = "tiny-canary.nemo", **options
) -> Path:
    """`make_canary(**options)` saved as `<dest>/<filename>`."""
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / filename
    with tempfile.TemporaryDirectory() as tmp:
        make_canary(Path(tmp) / "tokenizer", **options).save_to(str(path))
    return path


def add_timestamps_aligner(nemo_path: Path | str, aligner_nemo: Path | str) -> Path:
    """Put a second model into `nemo_path` the way canary-1b-v2 carries its timestamps aligner
    (`timestamps_asr_model_config.yaml` + `timestamps_asr_model_weights.ckpt` beside the main
    model's files). Any small NeMo model does as the aligner."""
    import tarfile

    nemo_path = Path(nemo_path)
    with tempfile.TemporaryDirectory() as tmp:
        main_dir, aligner_dir = Path(tmp) / "main", Path(tmp) / "aligner"
        for source, target in ((nemo_path, main_dir), (Path(aligner_nemo), aligner_dir)):
            with tarfile.open(source, "r:") as tar:
                tar.extractall(target, filter="data")
        (main_dir / "timestamps_asr_model_config.yaml").write_bytes(
            (aligner_dir / "model_config.yaml").read_bytes()
        )
        (main_dir / "timestamps_asr_model_weights.ckpt").write_bytes(
            (aligner_dir / "model_weights.ckpt").read_bytes()
        )
        with tarfile.open(nemo_path, "w:") as tar:
            tar.add(main_dir, arcname=".")
    return nemo_path


def build_tiny_ambernet(dest_dir: Path | str) -> Path:
    """A tiny `EncDecSpeakerLabelModel` with language labels, as `<dest>/tiny-ambernet.nemo`.

    Its final layer is biased towards "de" so that only an en/ru restriction yields en or ru."""
    import torch
    from nemo.collections.asr.models import EncDecSpeakerLabelModel
    from omegaconf import OmegaConf

    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / "tiny-ambernet.nemo"
    channels = 32
    cfg = {
        "sample_rate": 16000,
        "train_ds": {"labels": LID_LABELS, "manifest_filepath": None, "defer_setup": True},
        "preprocessor": {
            "_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
            "sample_rate": 16000,
            "normalize": "per_feature",
            "window_size": 0.025,
            "window_stride": 0.01,
            "features": 64,
            "n_fft": 512,
            "dither": 1e-5,
            "pad_to": 0,
        },
        "encoder": {
            "_target_": "nemo.collections.asr.modules.ConvASREncoder",
            "feat_in": 64,
            "activation": "relu",
            "conv_mask": True,
            "jasper": [
                {
                    "filters": channels,
                    "repeat": 1,
                    "kernel": [3],
                    "stride": [1],
                    "dilation": [1],
                    "dropout": 0.0,
                    "residual": False,
                    "separable": True,
                }
            ],
        },
        "decoder": {
            "_target_": "nemo.collections.asr.modules.SpeakerDecoder",
            "feat_in": channels,
            "num_classes": len(LID_LABELS),
            "pool_mode": "attention",
            "attention_channels": 16,
            "emb_sizes": 16,
            "angular": False,
        },
        "loss": {"_target_": "nemo.collections.common.losses.cross_entropy.CrossEntropyLoss"},
    }
    torch.manual_seed(0)
    model = EncDecSpeakerLabelModel(cfg=OmegaConf.create(cfg))
    with torch.no_grad():
        model.decoder.final.bias[LID_LABELS.index("de")] += LID_DE_BIAS
    model.save_to(str(path))
    return path


def install_in_hf_cache(
    nemo_path: Path | str,
    cache_dir: Path | str,
    repo_id: str = CANARY_REPO,
    filename: str = CANARY_FILE,
) -> Path:
    """Lay `nemo_path` out as the Hugging Face cache holds a downloaded `repo_id/filename`."""
    cache_dir = Path(cache_dir)
    repo_dir = cache_dir / ("models--" + repo_id.replace("/", "--"))
    revision = hashlib.sha1(repo_id.encode()).hexdigest()  # any 40-hex commit id will do
    snapshot = repo_dir / "snapshots" / revision
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs" / "main").write_text(revision)
    target = snapshot / filename
    target.write_bytes(Path(nemo_path).read_bytes())
    return target


def install_in_nemo_cache(nemo_path: Path | str, nemo_cache_dir: Path | str, name: str) -> Path:
    """Lay `nemo_path` out where NeMo keeps an NGC model `name` (e.g. `langid_ambernet`)."""
    from nemo.collections.asr.models import EncDecSpeakerLabelModel

    from workers.engines.nemo_loading import nemo_ngc_cache_path

    target = nemo_ngc_cache_path(EncDecSpeakerLabelModel, name, cache_root=Path(nemo_cache_dir))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(Path(nemo_path).read_bytes())
    return target


# The tiny TTS, as package source: interned into the package, so loading imports nothing of ours.
_TINY_TTS_SOURCE = '''
import math

import torch


class TinyTTS(torch.nn.Module):
    """Says every character as 40 ms of a tone: the length follows the text."""

    SECONDS_PER_CHAR = 0.04

    def __init__(self, lang, speakers):
        super().__init__()
        self.lang = lang
        self.speakers = list(speakers)
        self.sample_rates = [8000, 24000, 48000]
        self.scale = torch.nn.Parameter(torch.tensor(0.3), requires_grad=False)

    def apply_tts(self, text=None, speaker=None, sample_rate=48000, put_accent=True, put_yo=True):
        if not text or not text.strip():
            raise ValueError("empty text")
        if speaker not in self.speakers:
            raise ValueError(f"speaker {speaker!r} is not one of {self.speakers}")
        if sample_rate not in self.sample_rates:
            raise ValueError(f"sample_rate {sample_rate} is not one of {self.sample_rates}")
        if self.lang == "ru" and any("a" <= c.lower() <= "z" or c.isdigit() for c in text):
            raise ValueError("the Russian model reads Cyrillic only")
        samples = int(round(len(text) * self.SECONDS_PER_CHAR * sample_rate))
        freq = 200.0 + 10.0 * self.speakers.index(speaker)
        # On the model's own device, returned on the CPU, as Silero's packages do.
        t = torch.arange(samples, dtype=torch.float32, device=self.scale.device) / sample_rate
        return (self.scale * torch.sin(2 * math.pi * freq * t)).cpu()
'''

# Silero's published signatures: v5_ru takes stress/ё flags for homographs too, v3_en only
# put_accent/put_yo. The recording model keeps every call's keyword arguments in `calls` and
# returns a numpy array (a model may return anything `torch.as_tensor` takes).
_RECORDING_TTS_SOURCE = """
import numpy as np


class RecordingTTS:
    def __init__(self, lang, speakers):
        self.lang = lang
        self.speakers = list(speakers)
        self.calls = []

    def to(self, device):
        return self

    def _say(self, text, sample_rate):
        return np.full(int(len(text) * 0.01 * sample_rate), 0.1, dtype=np.float64)


class V5RussianTTS(RecordingTTS):
    def apply_tts(self, text=None, speaker="xenia", sample_rate=48000, put_accent=True,
                  put_yo=True, put_stress_homo=True, put_yo_homo=True, ssml_text=None):
        self.calls.append(dict(text=text, speaker=speaker, sample_rate=sample_rate,
                               put_accent=put_accent, put_yo=put_yo,
                               put_stress_homo=put_stress_homo, put_yo_homo=put_yo_homo))
        return self._say(text, sample_rate)


class V3EnglishTTS(RecordingTTS):
    def apply_tts(self, text=None, speaker="en_0", sample_rate=48000, put_accent=True,
                  put_yo=True, ssml_text=None):
        self.calls.append(dict(text=text, speaker=speaker, sample_rate=sample_rate,
                               put_accent=put_accent, put_yo=put_yo))
        return self._say(text, sample_rate)
"""

TINY_TTS_SECONDS_PER_CHAR = 0.04
SILERO_SPEAKERS = {
    "ru": ["aidar", "baya", "kseniya", "xenia", "eugene", "random"],
    "en": [f"en_{i}" for i in range(118)] + ["random"],
}


def build_tiny_silero(dest_dir: Path | str, lang: str) -> Path:
    """A `torch.package` like Silero's (`tts_models`/`model`) under the production file name."""
    import torch.package

    from workers.engines.silero import SILERO_MODELS

    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / SILERO_MODELS[lang].filename
    module_name = f"rutrans_tiny_tts_{lang}"
    module = types.ModuleType(module_name)
    exec(compile(_TINY_TTS_SOURCE, module_name, "exec"), module.__dict__)
    sys.modules[module_name] = module
    try:
        model = module.TinyTTS(lang, SILERO_SPEAKERS[lang])
        with torch.package.PackageExporter(str(path)) as exporter:
            exporter.save_source_string(module_name, _TINY_TTS_SOURCE)
            exporter.intern(module_name)
            exporter.extern(["torch", "torch.**"])
            exporter.save_pickle("tts_models", "model", model)
    finally:
        del sys.modules[module_name]
    return path


def build_recording_silero(dest_dir: Path | str, lang: str) -> Path:
    """A Silero-format `torch.package` with Silero's real `apply_tts` signature for `lang`
    (v5_ru or v3_en) that records the keyword arguments of every call."""
    import torch.package

    from workers.engines.silero import SILERO_MODELS

    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / SILERO_MODELS[lang].filename
    module_name = f"rutrans_recording_tts_{lang}"
    module = types.ModuleType(module_name)
    exec(compile(_RECORDING_TTS_SOURCE, module_name, "exec"), module.__dict__)
    sys.modules[module_name] = module
    try:
        model_cls = module.V5RussianTTS if lang == "ru" else module.V3EnglishTTS
        model = model_cls(lang, SILERO_SPEAKERS[lang])
        with torch.package.PackageExporter(str(path)) as exporter:
            exporter.extern(["numpy", "numpy.**", "torch", "torch.**"])
            exporter.intern(module_name)
            exporter.save_source_string(module_name, _RECORDING_TTS_SOURCE)
            exporter.save_pickle("tts_models", "model", model)
    finally:
        del sys.modules[module_name]
    return path


def prepare_model_env(root: Path | str) -> dict[str, str]:
    """Build the tiny models once under `root` (reused when its marker is there) and return
    the environment that makes the production settings load them offline."""
    root = Path(root)
    hf_cache = root / "hf" / "hub"
    nemo_cache = root / "nemo"
    silero_dir = root / "silero"
    piper_dir = root / "piper"
    marker = root / "built.json"
    expected = {"version": BUILD_VERSION}
    if not marker.exists() or json.loads(marker.read_text()) != expected:
        builds = root / "build"
        install_in_hf_cache(build_tiny_canary(builds), hf_cache)
        install_in_nemo_cache(build_tiny_ambernet(builds), nemo_cache, LID_NAME)
        for lang in ("ru", "en"):
            build_tiny_silero(silero_dir, lang)
        build_tiny_piper_voices(piper_dir)
        marker.write_text(json.dumps(expected))
    return {
        "HF_HOME": str(root / "hf"),
        "HF_HUB_CACHE": str(hf_cache),
        "HF_HUB_OFFLINE": "1",
        "NEMO_CACHE_DIR": str(nemo_cache),
        "SILERO_CACHE_DIR": str(silero_dir),
        "PIPER_VOICES_DIR": str(piper_dir),
        "CANARY_MODEL": CANARY_REPO,
        "LID_MODEL": LID_NAME,
        "MODEL_DEVICE": "cpu",
    }


def apply_model_env(env: dict[str, str]) -> None:
    """Put `env` into this process before NeMo/huggingface_hub read it (or after: the
    huggingface_hub constants that were already read are updated too)."""
    os.environ.update(env)
    hub_constants = sys.modules.get("huggingface_hub.constants")
    if hub_constants is not None:
        hub_constants.HF_HUB_CACHE = env["HF_HUB_CACHE"]
        hub_constants.HF_HUB_OFFLINE = env["HF_HUB_OFFLINE"] == "1"


# --- Piper -----------------------------------------------------------------------------------

PIPER_TINY_RATE = 22_050  # a medium Piper voice's rate
PIPER_TINY_HOP = 256  # samples per phoneme id, as a medium voice's decoder upsamples by 256


def piper_voice_config(
    lang: str, *, num_speakers: int = 1, sample_rate: int = PIPER_TINY_RATE
) -> dict:
    """A voice config in Piper's exact layout (`<voice>.onnx.json` of rhasspy/piper-voices),
    with Piper's own phoneme id map."""
    from piper.phoneme_ids import DEFAULT_PHONEME_ID_MAP

    locale = {"ru": "ru_RU", "en": "en_US"}[lang]
    return {
        "audio": {"sample_rate": sample_rate, "quality": "medium"},
        "espeak": {"voice": {"ru": "ru", "en": "en-us"}[lang]},
        "language": {"code": locale, "family": lang, "region": locale[-2:]},
        "inference": {"noise_scale": 0.667, "length_scale": 1, "noise_w": 0.8},
        "phoneme_type": "espeak",
        "phoneme_map": {},
        "phoneme_id_map": DEFAULT_PHONEME_ID_MAP,
        "num_symbols": 256,
        "num_speakers": num_speakers,
        "speaker_id_map": {f"speaker_{i}": i for i in range(num_speakers)}
        if num_speakers > 1
        else {},
        "piper_version": "1.0.0",
        "dataset": "tiny",
    }


def build_tiny_piper_voice(
    dest_dir: Path | str, key: str, *, num_speakers: int = 1, seed: int = 0
) -> Path:
    """A Piper voice `<key>.onnx` + `<key>.onnx.json` (+ a MODEL_CARD) with Piper's exact
    signature: `input` [1, n] int64 phoneme ids, `input_lengths` [1] int64, `scales` [3]
    float32 (noise, length, noise_w), `sid` [1] int64 when multi-speaker; `output` [1, 1, T]
    float32 with T = n × 256 samples (each id's random waveform, scaled by length_scale, plus
    the speaker's), so the audio's length tells how many ids the model got."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    lang = key.split("_")[0]
    rng = np.random.default_rng(seed)
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    table = rng.uniform(-0.5, 0.5, (256, PIPER_TINY_HOP)).astype(np.float32)
    initializers = [
        numpy_helper.from_array(table, "phoneme_waves"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
        numpy_helper.from_array(np.array([2], dtype=np.int64), "two"),
        numpy_helper.from_array(np.array([1, 1, -1], dtype=np.int64), "out_shape"),
    ]
    nodes = [
        helper.make_node("Gather", ["phoneme_waves", "input"], ["waves"], axis=0),  # [1, n, hop]
        helper.make_node("Slice", ["scales", "one", "two"], ["length_scale"]),
        helper.make_node("Mul", ["waves", "length_scale"], ["scaled"]),
    ]
    inputs = [
        helper.make_tensor_value_info("input", TensorProto.INT64, [1, "phonemes"]),
        helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
        helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3]),
    ]
    last = "scaled"
    if num_speakers > 1:
        speakers = rng.uniform(-0.3, 0.3, (num_speakers, PIPER_TINY_HOP)).astype(np.float32)
        initializers.append(numpy_helper.from_array(speakers, "speaker_waves"))
        inputs.append(helper.make_tensor_value_info("sid", TensorProto.INT64, [1]))
        nodes.append(helper.make_node("Gather", ["speaker_waves", "sid"], ["speaker"], axis=0))
        nodes.append(helper.make_node("Add", ["scaled", "speaker"], ["voiced"]))
        last = "voiced"
    nodes.append(helper.make_node("Reshape", [last, "out_shape"], ["output"]))
    graph = helper.make_graph(
        nodes,
        "tiny_piper_vits",
        inputs,
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, "time"])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = dest_dir / f"{key}.onnx"
    onnx.save(model, str(path))
    config = piper_voice_config(lang, num_speakers=num_speakers)
    (dest_dir / f"{key}.onnx.json").write_text(json.dumps(config, ensure_ascii=False, indent=2))
    (dest_dir / f"{key}.MODEL_CARD").write_text(
        f"# Model card for {key} (tiny test voice)\n\n* Language: {lang}\n* License: none\n"
    )
    return path


def build_tiny_piper_voices(dest_dir: Path | str) -> Path:
    """Every offered Piper voice as a tiny voice, under its production file names."""
    from translation.constants import PIPER_VOICES

    for seed, voice in enumerate(v for lang in ("ru", "en") for v in PIPER_VOICES[lang]):
        build_tiny_piper_voice(dest_dir, voice.removeprefix("piper:"), seed=seed)
    return Path(dest_dir)
