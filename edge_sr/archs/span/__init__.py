"""SPAN family detection: SPAN (any width, block count and conv_cat width), SPAN-Tiny, DSCLoRA."""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from edge_sr.archs.blocks.layer_forms import LayerForms, span_family_detection
from edge_sr.archs.keys import conv_shape, numbered_blocks, require_equal, scale_from_channels
from edge_sr.archs.span.model import SPAN, SPANConfig
from edge_sr.registry import Architecture, Detection, LoadOptions


class SPANArchitecture(Architecture):
    name = "span"
    title = "SPAN (Swift Parameter-free Attention Network; also SPAN-Tiny and DSCLoRA)"

    def owns(self, keys: frozenset[str]) -> bool:
        return (
            "conv_cat.weight" in keys
            and "upsampler.0.weight" in keys
            and any(k.startswith("conv_1.") for k in keys)
            and any(k.startswith("block_1.c3_r.") for k in keys)
        )

    def detect(
        self, state: Mapping[str, torch.Tensor], *, options: LoadOptions, source: str
    ) -> Detection:
        blocks = numbered_blocks(state, "block_{}.", source=source)
        channels, rgb, _ = conv_shape(state, "conv_1", source=source)
        cat_out, cat_in, _ = conv_shape(state, "conv_cat", source=source)
        require_equal(cat_in, 4 * channels, what="conv_cat input channels (4 x C)", source=source)
        up_out, up_in, _ = conv_shape(state, "upsampler.0", source=source)
        require_equal(up_in, cat_out, what="upsampler input channels", source=source)
        return span_family_detection(
            state,
            conv3xc_names=["conv_1", "conv_2"] + [f"block_{i}.c{k}_r" for i in blocks for k in (1, 2, 3)],
            scale=scale_from_channels(up_out, image_channels=rgb, source=source, key="upsampler.0.weight"),
            hyperparameters={"channels": channels, "blocks": len(blocks), "cat_channels": cat_out, "image_channels": rgb},
            options=options,
            source=source,
        )

    def build(self, detection: Detection) -> nn.Module:
        hp = detection.hyperparameters
        config = SPANConfig(
            channels=hp["channels"],
            blocks=hp["blocks"],
            cat_channels=hp["cat_channels"],
            scale=detection.scale,
            image_channels=hp["image_channels"],
        )
        return SPAN(config, LayerForms.from_hyperparameters(hp))


ARCHITECTURE = SPANArchitecture()
