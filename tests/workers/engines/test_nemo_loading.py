"""The shared NeMo loading helpers: the half-precision choice (no GPU needed)."""

import contextlib

import pytest
import torch

from workers.engines import nemo_loading


@pytest.fixture
def fake_gpu(monkeypatch):
    """A CUDA device whose native bf16 support the test chooses; records the calls."""
    calls = []

    def is_bf16_supported(including_emulation=True):
        calls.append({"including_emulation": including_emulation})
        return fake_gpu.native or including_emulation  # emulation: always "supported"

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    monkeypatch.setattr(torch.cuda, "device", lambda device: contextlib.nullcontext())
    fake_gpu.calls = calls
    fake_gpu.native = False
    return fake_gpu


def test_pre_ampere_gpu_gets_fp16_not_emulated_bf16(fake_gpu):
    fake_gpu.native = False  # T4, V100: bf16 only emulated
    assert nemo_loading.autocast_dtype("cuda") is torch.float16
    assert fake_gpu.calls == [{"including_emulation": False}]
    assert nemo_loading.describe_dtype(torch.float16) == "fp16"


def test_ampere_or_later_gets_bf16(fake_gpu):
    fake_gpu.native = True
    assert nemo_loading.autocast_dtype("cuda:0") is torch.bfloat16
    assert nemo_loading.describe_dtype(torch.bfloat16) == "bf16"


def test_cpu_runs_fp32(fake_gpu):
    assert nemo_loading.autocast_dtype("cpu") is None
    assert fake_gpu.calls == []
    assert nemo_loading.describe_dtype(None) == "fp32"


@pytest.fixture
def recorded_autocast(monkeypatch):
    """torch.autocast replaced by a recorder: which (device type, dtype) were asked for."""
    asked: list[tuple[str, torch.dtype]] = []

    def autocast(device_type, dtype=None):
        asked.append((device_type, dtype))
        return contextlib.nullcontext()

    monkeypatch.setattr(torch, "autocast", autocast)
    return asked


def test_fp32_on_cuda_is_not_autocast(recorded_autocast):
    """None means fp32 on every device: a benchmark's fp32 row must not run in half."""
    with nemo_loading.inference("cuda:0", None):
        assert torch.is_inference_mode_enabled()
    assert recorded_autocast == []


def test_half_on_cuda_autocasts_to_that_dtype(recorded_autocast):
    with nemo_loading.inference("cuda:0", torch.bfloat16):
        pass
    with nemo_loading.inference("cuda", torch.float16):
        pass
    assert recorded_autocast == [("cuda", torch.bfloat16), ("cuda", torch.float16)]


def test_cpu_never_autocasts(recorded_autocast):
    with nemo_loading.inference("cpu", torch.bfloat16):
        assert torch.is_inference_mode_enabled()
    assert recorded_autocast == []
