"""Exact graph rewrites applied before export, each checked in fp32 against the deploy module."""

from __future__ import annotations

import copy

import torch
from torch import nn

from edge_sr.tolerances import Tolerance, verify_equivalent

REWRITE_FP32 = Tolerance(
    name="rewrite-fp32",
    atol=1e-5,
    rtol=1e-6,
    meaning="an exact graph rewrite (pixel shuffle as transposed conv, layout wrapper) vs the deploy module",
)


class PixelShuffleAsTransposedConv(nn.Module):
    """``PixelShuffle(s)`` as a fixed one-hot ``ConvTranspose2d`` (kernel = stride = s).

    Output pixel (c, h*s + i, w*s + j) takes input channel c*s*s + i*s + j at (h, w), exactly
    as PixelShuffle does, but mobile converters lower it to one TRANSPOSE_CONV instead of the
    rank-6 reshape/transpose pair that GPU delegates reject, and it keeps H/W dynamic.
    """

    def __init__(self, channels_out: int, scale: int) -> None:
        super().__init__()
        self.scale = scale
        weight = torch.zeros(channels_out * scale * scale, channels_out, scale, scale)
        for c in range(channels_out):
            for i in range(scale):
                for j in range(scale):
                    weight[c * scale * scale + i * scale + j, c, i, j] = 1.0
        self.upsample = nn.ConvTranspose2d(channels_out * scale * scale, channels_out, scale, stride=scale, bias=False)
        self.upsample.weight.data.copy_(weight)
        self.upsample.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.upsample(x)


def replace_pixel_shuffle(module: nn.Module, *, image_channels: int = 3) -> tuple[nn.Module, int]:
    """A copy of ``module`` with every PixelShuffle replaced; returns (copy, replacements)."""
    rewritten = copy.deepcopy(module)
    count = 0
    for parent in rewritten.modules():
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.PixelShuffle):
                setattr(parent, name, PixelShuffleAsTransposedConv(image_channels, child.upscale_factor))
                count += 1
    return rewritten, count


class ChannelsLast(nn.Module):
    """NHWC in and out around an NCHW network (for apps whose pixel buffers are interleaved)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


def check_rewrite(original: nn.Module, rewritten: nn.Module, sample: torch.Tensor, *, what: str) -> float:
    """Max abs difference of ``rewritten`` vs ``original`` on ``sample``; raises if over REWRITE_FP32."""
    return verify_equivalent(original, rewritten, sample, tolerance=REWRITE_FP32, what=what)


class NormalizationAsConv(nn.Module):
    """``(x - mean) * r`` as a fixed depthwise 1x1 conv (weight r, bias -r * mean).

    Some converters (litert-torch with dynamic H/W) cannot lower a broadcast subtraction of a
    (1, C, 1, 1) constant; every converter lowers a convolution.
    """

    def __init__(self, mean: torch.Tensor, img_range: float) -> None:
        super().__init__()
        channels = mean.numel()
        self.conv = nn.Conv2d(channels, channels, 1, groups=channels)
        self.conv.weight.data.fill_(img_range)
        self.conv.bias.data.copy_(-img_range * mean.flatten())
        self.conv.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def replace_normalization(module: nn.Module) -> tuple[nn.Module, int]:
    """A copy of ``module`` with SPAN's InputNormalization as a conv; returns (copy, replacements)."""
    from edge_sr.archs.span.model import InputNormalization

    rewritten = copy.deepcopy(module)
    count = 0
    for parent in rewritten.modules():
        for name, child in list(parent.named_children()):
            if isinstance(child, InputNormalization):
                setattr(parent, name, NormalizationAsConv(child.mean, child.img_range))
                count += 1
    return rewritten, count
