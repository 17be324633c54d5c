"""SPANF detection (``conv_near`` + SPAN blocks, no upsampler conv)."""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from edge_sr.archs.blocks.layer_forms import LayerForms, span_family_detection
from edge_sr.archs.keys import conv_shape, numbered_blocks, require_equal, scale_from_channels
from edge_sr.archs.spanf.model import SPANF, SPANFConfig
from edge_sr.registry import Architecture, Detection, LoadOptions


class SPANFArchitecture(Architecture):
    name = "spanf"
    title = "SPANF (SPAN with a nearest-neighbour skip, NTIRE 2025)"

    def owns(self, keys: frozenset[str]) -> bool:
        return "conv_near.weight" in keys and "conv_cat.weight" in keys

    def detect(
        self, state: Mapping[str, torch.Tensor], *, options: LoadOptions, source: str
    ) -> Detection:
        blocks = numbered_blocks(state, "block_{}.", source=source)
        near_out, _, _ = conv_shape(state, "conv_near", source=source)
        channels, rgb, _ = conv_shape(state, "block_1.c1_r", source=source)
        cat_out, cat_in, _ = conv_shape(state, "conv_cat", source=source)
        require_equal(cat_in, 2 * channels + near_out, what="conv_cat input channels", source=source)
        require_equal(cat_out, channels, what="conv_cat output channels", source=source)
        return span_family_detection(
            state,
            conv3xc_names=["conv_2"] + [f"block_{i}.c{k}_r" for i in blocks for k in (1, 2, 3)],
            scale=scale_from_channels(near_out, image_channels=rgb, source=source, key="conv_near.weight"),
            hyperparameters={"channels": channels, "blocks": len(blocks), "image_channels": rgb},
            options=options,
            source=source,
        )

    def build(self, detection: Detection) -> nn.Module:
        hp = detection.hyperparameters
        config = SPANFConfig(
            channels=hp["channels"], blocks=hp["blocks"], scale=detection.scale,
            image_channels=hp["image_channels"],
        )
        return SPANF(config, LayerForms.from_hyperparameters(hp))


ARCHITECTURE = SPANFArchitecture()
