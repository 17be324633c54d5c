"""DSCF-Fused (NTIRE 2026 team 15): DSCLoRA with its first and last convs graph-folded."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from edge_sr.archs.blocks.layer_forms import LayerForms
from edge_sr.archs.blocks.spab import SPAB
from edge_sr.archs.span.model import InputNormalization


@dataclass(frozen=True, kw_only=True)
class DSCFFusedConfig:
    channels: int
    blocks: int
    fused_kernel: int
    scale: int
    image_channels: int = 3


class FusedFirstBlock(nn.Module):
    """Block 1 without ``c1_r``: its pre-activation comes from ``conv_fused`` instead."""

    def __init__(self, c2_r: nn.Module, c3_r: nn.Module) -> None:
        super().__init__()
        self.c2_r = c2_r
        self.c3_r = c3_r

    def forward(self, feature: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
        out = self.c3_r(F.silu(self.c2_r(F.silu(first))))
        return (out + feature) * (torch.sigmoid(out) - 0.5)


class DSCFFused(nn.Module):
    """Input NCHW float32 RGB in [0, 1]; output NCHW RGB, about [0, 1], scale x larger.

    ``conv_fused`` (5x5) stands for block 1's ``c1_r`` after ``conv_1``; ``conv_cat_other`` and
    ``conv2_fused`` (no bias) split the old ``conv_cat`` so ``conv_2`` disappears.  As published,
    the 5x5 fold differs from the unfused network in the outermost pixels; this module
    reproduces the published network, not the unfused one.
    """

    def __init__(self, config: DSCFFusedConfig, forms: LayerForms) -> None:
        super().__init__()
        c, rgb, s = config.channels, config.image_channels, config.scale
        self.normalize = InputNormalization()
        self.conv_1 = forms.conv3xc("conv_1", rgb, c)
        self.conv_fused = forms.conv("conv_fused", rgb, c, config.fused_kernel)
        self.block_1 = FusedFirstBlock(
            forms.conv3xc("block_1.c2_r", c, c), forms.conv3xc("block_1.c3_r", c, c)
        )
        for i in range(2, config.blocks + 1):
            convs = [forms.conv3xc(f"block_{i}.c{k}_r", c, c) for k in (1, 2, 3)]
            self.add_module(f"block_{i}", SPAB(convs, attention=True))
        self.num_blocks = config.blocks
        self.conv_cat_other = forms.conv("conv_cat_other", 3 * c, c, 1)
        self.conv2_fused = forms.conv("conv2_fused", c, c, 3, bias=False)
        self.upsampler = nn.Sequential(
            forms.conv("upsampler.0", c, rgb * s * s, 3), nn.PixelShuffle(s)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.normalize(x)
        feature = self.conv_1(x)
        out_block_1 = self.block_1(feature, self.conv_fused(x))
        out, first_of_block = out_block_1, out_block_1
        for i in range(2, self.num_blocks + 1):
            out, first_of_block = getattr(self, f"block_{i}")(out)
        other = self.conv_cat_other(torch.cat([feature, out_block_1, first_of_block], 1))
        return self.upsampler(other + self.conv2_fused(out))
