"""A random-weight VITS of a medium Piper voice's shape, exported to ONNX with Piper's
signature: what `benchmarks/tts_engines.py` times in place of a real voice (no download here).

The shape follows Piper's medium voices (VITS, 22.05 kHz, hop 256): text encoder with
symbol embeddings of 192, 6 transformer layers (2 heads, FFN 768, kernel 3), a projection to
the prior's mean and log-variance; a 4-step residual-coupling flow (WaveNet of 4 layers,
kernel 5, hidden 192); a HiFi-GAN decoder (ResBlock type 2, kernels 3/5/7 with dilations
(1, 2), (2, 6), (3, 12); upsampling 8 × 8 × 4 from 256 channels). The approximations: VITS'
multi-head attention without its windowed relative position terms, and VITS' deterministic
duration predictor instead of Piper's stochastic one (which adds ~0.5 M parameters and a small
flow over noise); neither is where the time goes (the decoder is). Durations are steered to
2 frames (23 ms) per id (every id takes at least one frame; a phoneme is itself, its pad
and often a stress mark), which gives these sentences about the length a voice reads them in.

`build_medium_voice(..., dynamic_batch=True)` exports the same graph with a batch axis (padded
`[B, n]` ids and their `input_lengths`; the padding gets no frames, a shorter row's audio is
zeros past its end, as VITS' masks do), for `benchmarks/speech_batch.py`.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

HIDDEN = 192
FILTER = 768
HEADS = 2
LAYERS = 6
SYMBOLS = 256
FLOWS = 4
WN_LAYERS = 4
UPSAMPLE_RATES = (8, 8, 4)
UPSAMPLE_KERNELS = (16, 16, 8)
UPSAMPLE_INITIAL = 256
RESBLOCK_KERNELS = (3, 5, 7)
RESBLOCK_DILATIONS = ((1, 2), (2, 6), (3, 12))
FRAMES_PER_ID = 1.5


class Attention(nn.Module):
    """VITS' multi-head self-attention (1×1 convolutions for q, k, v and out), without the
    windowed relative position terms."""

    def __init__(self) -> None:
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Conv1d(HIDDEN, HIDDEN, 1) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, h, n]
        batch = x.size(0)

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, HEADS, HIDDEN // HEADS, -1).transpose(2, 3)  # [B, H, n, d]

        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        scores = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(HIDDEN // HEADS), dim=-1)
        out = (scores @ v).transpose(2, 3).reshape(batch, HIDDEN, -1)
        return self.o(out)


class TextEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(SYMBOLS, HIDDEN)
        self.attn = nn.ModuleList(Attention() for _ in range(LAYERS))
        self.norm1 = nn.ModuleList(nn.LayerNorm(HIDDEN) for _ in range(LAYERS))
        self.ffn_in = nn.ModuleList(nn.Conv1d(HIDDEN, FILTER, 3, padding=1) for _ in range(LAYERS))
        self.ffn_out = nn.ModuleList(nn.Conv1d(FILTER, HIDDEN, 3, padding=1) for _ in range(LAYERS))
        self.norm2 = nn.ModuleList(nn.LayerNorm(HIDDEN) for _ in range(LAYERS))
        self.proj = nn.Conv1d(HIDDEN, 2 * HIDDEN, 1)

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.emb(ids) * math.sqrt(HIDDEN)  # [B, n, h]
        for attn, norm1, ffn_in, ffn_out, norm2 in zip(
            self.attn, self.norm1, self.ffn_in, self.ffn_out, self.norm2, strict=True
        ):
            x = norm1(x + attn(x.transpose(1, 2)).transpose(1, 2))
            y = ffn_out(F.relu(ffn_in(x.transpose(1, 2)))).transpose(1, 2)
            x = norm2(x + y)
        h = x.transpose(1, 2)  # [B, h, n]
        m, logs = torch.split(self.proj(h), HIDDEN, dim=1)
        return h, m, logs


class DurationPredictor(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(HIDDEN, 256, 3, padding=1)
        self.norm1 = nn.LayerNorm(256)
        self.conv2 = nn.Conv1d(256, 256, 3, padding=1)
        self.norm2 = nn.LayerNorm(256)
        self.proj = nn.Conv1d(256, 1, 1)
        nn.init.constant_(self.proj.bias, math.log(FRAMES_PER_ID))
        nn.init.normal_(self.proj.weight, std=0.01)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = self.norm1(F.relu(self.conv1(h)).transpose(1, 2)).transpose(1, 2)
        x = self.norm2(F.relu(self.conv2(x)).transpose(1, 2)).transpose(1, 2)
        return self.proj(x)  # log durations [B, 1, n]


class WaveNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.in_layers = nn.ModuleList(
            nn.Conv1d(HIDDEN, 2 * HIDDEN, 5, padding=2) for _ in range(WN_LAYERS)
        )
        self.res_skip = nn.ModuleList(
            nn.Conv1d(HIDDEN, 2 * HIDDEN if i < WN_LAYERS - 1 else HIDDEN, 1)
            for i in range(WN_LAYERS)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output = torch.zeros_like(x)
        for i, (in_layer, res_skip) in enumerate(zip(self.in_layers, self.res_skip, strict=True)):
            a, b = torch.split(in_layer(x), HIDDEN, dim=1)
            acts = res_skip(torch.tanh(a) * torch.sigmoid(b))
            if i < WN_LAYERS - 1:
                x = x + acts[:, :HIDDEN]
                output = output + acts[:, HIDDEN:]
            else:
                output = output + acts
        return output


class CouplingLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.half = HIDDEN // 2
        self.pre = nn.Conv1d(self.half, HIDDEN, 1)
        self.enc = WaveNet()
        self.post = nn.Conv1d(HIDDEN, self.half, 1)

    def reverse(self, x: torch.Tensor) -> torch.Tensor:
        x0, x1 = torch.split(x, self.half, dim=1)
        m = self.post(self.enc(self.pre(x0)))
        return torch.cat([x0, x1 - m], dim=1)


class ResBlock2(nn.Module):
    def __init__(self, channels: int, kernel: int, dilations: tuple[int, int]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel, dilation=d, padding=d * (kernel - 1) // 2)
            for d in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv in self.convs:
            x = x + conv(F.leaky_relu(x, 0.1))
        return x


class Generator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv_pre = nn.Conv1d(HIDDEN, UPSAMPLE_INITIAL, 7, padding=3)
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        channels = UPSAMPLE_INITIAL
        for rate, kernel in zip(UPSAMPLE_RATES, UPSAMPLE_KERNELS, strict=True):
            self.ups.append(
                nn.ConvTranspose1d(
                    channels, channels // 2, kernel, stride=rate, padding=(kernel - rate) // 2
                )
            )
            channels //= 2
            for k, d in zip(RESBLOCK_KERNELS, RESBLOCK_DILATIONS, strict=True):
                self.resblocks.append(ResBlock2(channels, k, d))
        self.conv_post = nn.Conv1d(channels, 1, 7, padding=3, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(x)
        blocks = len(RESBLOCK_KERNELS)
        for i, up in enumerate(self.ups):
            x = up(F.leaky_relu(x, 0.1))
            x = sum(self.resblocks[i * blocks + j](x) for j in range(blocks)) / blocks
        return torch.tanh(self.conv_post(F.leaky_relu(x)))


class PiperShapedVits(nn.Module):
    """Piper's inference graph: (input, input_lengths, scales) → output [B, 1, T]."""

    def __init__(self) -> None:
        super().__init__()
        self.enc_p = TextEncoder()
        self.dp = DurationPredictor()
        self.flows = nn.ModuleList(CouplingLayer() for _ in range(FLOWS))
        self.dec = Generator()

    def forward(
        self, ids: torch.Tensor, lengths: torch.Tensor, scales: torch.Tensor
    ) -> torch.Tensor:
        noise_scale, length_scale = scales[0], scales[1]
        h, m_p, logs_p = self.enc_p(ids)
        mask = (torch.arange(ids.shape[1])[None, None, :] < lengths[:, None, None]).to(h.dtype)
        h, m_p, logs_p = h * mask, m_p * mask, logs_p * mask
        w = torch.ceil(torch.exp(self.dp(h)) * length_scale).clamp(1.0, 12.0) * mask
        w = w[:, 0, :]  # [B, n]: frames per id, none for the padding
        ends = torch.cumsum(w, 1)
        total = ends[:, -1]  # [B]: each row's frames
        frames = torch.arange(total.max().to(torch.int64)).to(w.dtype)  # [T]
        frame, end = frames[None, :, None], ends[:, None, :]
        path = ((frame < end) & (frame >= end - w[:, None, :])).to(m_p.dtype)  # [B, T, n]
        m = (path @ m_p.transpose(1, 2)).transpose(1, 2)  # [B, h, T]
        logs = (path @ logs_p.transpose(1, 2)).transpose(1, 2)
        y_mask = (frames[None, None, :] < total[:, None, None]).to(m.dtype)  # [B, 1, T]
        z = (m + torch.randn_like(m) * torch.exp(logs) * noise_scale) * y_mask
        for flow in reversed(self.flows):
            z = flow.reverse(torch.flip(z, [1]))
        return self.dec(z)


def build_medium_voice(
    path: Path | str, *, seed: int = 0, dynamic_batch: bool = False
) -> tuple[Path, int]:
    """Export the random-weight graph to `path` (ONNX, Piper's input/output names and dynamic
    axes, the batch's too with `dynamic_batch`); returns the path and the parameter count."""
    torch.manual_seed(seed)
    model = PiperShapedVits().eval()
    rows = 2 if dynamic_batch else 1
    ids = torch.randint(0, SYMBOLS, (rows, 60), dtype=torch.int64)
    lengths = torch.tensor([60, 45][:rows])
    args = (ids, lengths, torch.tensor([0.667, 1.0, 0.8]))
    axes = {"input": {1: "phonemes"}, "output": {2: "time"}}
    if dynamic_batch:
        axes = {
            "input": {0: "batch", 1: "phonemes"},
            "input_lengths": {0: "batch"},
            "output": {0: "batch", 2: "time"},
        }
    path = Path(path)
    with torch.no_grad():
        torch.onnx.export(
            model,
            args,
            str(path),
            dynamo=False,
            input_names=["input", "input_lengths", "scales"],
            output_names=["output"],
            dynamic_axes=axes,
            opset_version=15,
        )
    return path, sum(p.numel() for p in model.parameters())
