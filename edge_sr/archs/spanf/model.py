"""SPANF (NTIRE 2025 team 24): SPAN without normalisation or upsampler conv."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from edge_sr.archs.blocks.layer_forms import LayerForms
from edge_sr.archs.blocks.spab import SPAB


@dataclass(frozen=True, kw_only=True)
class SPANFConfig:
    channels: int
    blocks: int
    scale: int
    image_channels: int = 3


class SPANF(nn.Module):
    """Input NCHW float32 RGB in [0, 1]; output NCHW RGB, about [0, 1], scale x larger.

    ``conv_near`` is a depthwise 3x3 conv (no bias) whose published kernel copies each input
    channel s^2 times, i.e. a nearest-neighbour upsample after the pixel shuffle; it is read
    from the file like any weight.  ``block_1`` widens 3 -> C and so has no attention.
    """

    def __init__(self, config: SPANFConfig, forms: LayerForms) -> None:
        super().__init__()
        c, rgb, s = config.channels, config.image_channels, config.scale
        self.conv_near = nn.Conv2d(rgb, rgb * s * s, 3, padding=1, groups=rgb, bias=False)
        first = [forms.conv3xc("block_1.c1_r", rgb, c)] + [
            forms.conv3xc(f"block_1.c{k}_r", c, c) for k in (2, 3)
        ]
        self.block_1 = SPAB(first, attention=False)
        for i in range(2, config.blocks + 1):
            convs = [forms.conv3xc(f"block_{i}.c{k}_r", c, c) for k in (1, 2, 3)]
            self.add_module(f"block_{i}", SPAB(convs, attention=True))
        self.num_blocks = config.blocks
        self.conv_cat = forms.conv("conv_cat", 2 * c + rgb * s * s, c, 1)
        self.conv_2 = forms.conv3xc("conv_2", c, rgb * s * s)
        self.depth_to_space = nn.PixelShuffle(s)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        near = self.conv_near(x)
        out_block_1, _ = self.block_1(x)
        out = out_block_1
        for i in range(2, self.num_blocks + 1):
            out, _ = getattr(self, f"block_{i}")(out)
        merged = self.conv_cat(torch.cat([near, out, out_block_1], 1))
        return self.depth_to_space(self.conv_2(merged))
