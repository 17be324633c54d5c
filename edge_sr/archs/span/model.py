"""SPAN (Swift Parameter-free Attention Network), also SPAN-Tiny and DSCLoRA's deploy form."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from edge_sr.archs.blocks.layer_forms import LayerForms
from edge_sr.archs.blocks.spab import SPAB

RGB_MEAN = (0.4488, 0.4371, 0.4040)
"""DIV2K mean subtracted before the first conv; not stored in checkpoints."""
IMG_RANGE = 255.0


class InputNormalization(nn.Module):
    """``(x - mean) * img_range``: SPAN's input normalisation; mean and range are not in checkpoints."""

    def __init__(self, mean: tuple[float, ...] = RGB_MEAN, img_range: float = IMG_RANGE) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.img_range = img_range

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) * self.img_range


@dataclass(frozen=True, kw_only=True)
class SPANConfig:
    channels: int
    blocks: int
    cat_channels: int
    scale: int
    image_channels: int = 3


class SPAN(nn.Module):
    """SPAN.  Input NCHW float32 RGB in [0, 1]; output NCHW RGB, about [0, 1], scale x larger.

    No clamp at the end (the published network has none): callers clamp for display/metrics.
    """

    def __init__(self, config: SPANConfig, forms: LayerForms) -> None:
        super().__init__()
        c, rgb = config.channels, config.image_channels
        self.normalize = InputNormalization()
        self.conv_1 = forms.conv3xc("conv_1", rgb, c)
        for i in range(1, config.blocks + 1):
            convs = [forms.conv3xc(f"block_{i}.c{k}_r", c, c) for k in (1, 2, 3)]
            self.add_module(f"block_{i}", SPAB(convs, attention=True))
        self.num_blocks = config.blocks
        self.conv_cat = forms.conv("conv_cat", 4 * c, config.cat_channels, 1)
        self.conv_2 = forms.conv3xc("conv_2", c, c)
        self.upsampler = nn.Sequential(
            forms.conv("upsampler.0", config.cat_channels, rgb * config.scale**2, 3),
            nn.PixelShuffle(config.scale),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature = self.conv_1(self.normalize(x))
        out, first_of_block = feature, feature
        out_block_1 = feature
        for i in range(1, self.num_blocks + 1):
            out, first_of_block = getattr(self, f"block_{i}")(out)
            if i == 1:
                out_block_1 = out
        # first_of_block is the last block's pre-activation first conv, as SPAN concatenates it.
        merged = self.conv_cat(torch.cat([feature, self.conv_2(out), out_block_1, first_of_block], 1))
        return self.upsampler(merged)
