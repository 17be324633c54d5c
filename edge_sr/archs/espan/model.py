"""ESPAN (NTIRE 2025 team 36): SPAN blocks after a 9x9 first conv, plus a two-conv tail block."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from edge_sr.archs.blocks.layer_forms import LayerForms
from edge_sr.archs.blocks.spab import SPAB


@dataclass(frozen=True, kw_only=True)
class ESPANConfig:
    channels: int
    mid_channels: int
    blocks: int
    first_kernel: int
    scale: int
    image_channels: int = 3


class ESPAN(nn.Module):
    """Input NCHW float32 RGB in [0, 1] (no mean/range normalisation); output about [0, 1].

    The published names keep the ``tea_`` prefixes of its distillation teacher.
    """

    def __init__(self, config: ESPANConfig, forms: LayerForms) -> None:
        super().__init__()
        c, m, rgb, s = config.channels, config.mid_channels, config.image_channels, config.scale
        self.conv_1 = forms.conv3xc("conv_1", rgb, c, kernel_size=config.first_kernel)
        for i in range(1, config.blocks + 1):
            convs = [
                forms.conv3xc(f"block_{i}.c1_r", c, m),
                forms.conv3xc(f"block_{i}.c2_r", m, m),
                forms.conv3xc(f"block_{i}.c3_r", m, c),
            ]
            self.add_module(f"block_{i}", SPAB(convs, attention=True))
        self.num_blocks = config.blocks
        self.teacher_block_seq = SPAB(
            [forms.conv3xc(f"teacher_block_seq.c{k}_r", c, c) for k in (1, 2)], attention=True
        )
        self.tea_conv_cat = forms.conv("tea_conv_cat", 4 * c, c, 1)
        self.tea_conv_2 = forms.conv3xc("tea_conv_2", c, c)
        self.tea_upsampler = nn.Sequential(
            forms.conv3xc("tea_upsampler.0", c, rgb * s * s), nn.PixelShuffle(s)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature = self.conv_1(x)
        out, _ = self.block_1(feature)
        out_block_1 = out
        for i in range(2, self.num_blocks + 1):
            out, _ = getattr(self, f"block_{i}")(out)
        tail, _ = self.teacher_block_seq(out)
        merged = self.tea_conv_cat(torch.cat([feature, self.tea_conv_2(tail), out_block_1, tail], 1))
        return self.tea_upsampler(merged)
