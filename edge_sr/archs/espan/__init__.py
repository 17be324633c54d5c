"""ESPAN detection (``tea_conv_cat`` and a large first kernel)."""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from edge_sr.archs.blocks.layer_forms import LayerForms, span_family_detection
from edge_sr.archs.espan.model import ESPAN, ESPANConfig
from edge_sr.archs.keys import conv_shape, numbered_blocks, require_equal, scale_from_channels
from edge_sr.registry import Architecture, Detection, LoadOptions


class ESPANArchitecture(Architecture):
    name = "espan"
    title = "ESPAN (SPAN derivative with a 9x9 first conv, NTIRE 2025)"

    def owns(self, keys: frozenset[str]) -> bool:
        return "tea_conv_cat.weight" in keys and any(k.startswith("teacher_block_seq.") for k in keys)

    def detect(
        self, state: Mapping[str, torch.Tensor], *, options: LoadOptions, source: str
    ) -> Detection:
        blocks = numbered_blocks(state, "block_{}.", source=source)
        channels, rgb, first_kernel = conv_shape(state, "conv_1", source=source)
        mid, _, _ = conv_shape(state, "block_1.c1_r", source=source)
        up_out, _, _ = conv_shape(state, "tea_upsampler.0", source=source)
        _, cat_in, _ = conv_shape(state, "tea_conv_cat", source=source)
        require_equal(cat_in, 4 * channels, what="tea_conv_cat input channels", source=source)
        names = ["conv_1", "tea_conv_2", "tea_upsampler.0", "teacher_block_seq.c1_r", "teacher_block_seq.c2_r"]
        return span_family_detection(
            state,
            conv3xc_names=names + [f"block_{i}.c{k}_r" for i in blocks for k in (1, 2, 3)],
            scale=scale_from_channels(up_out, image_channels=rgb, source=source, key="tea_upsampler.0"),
            hyperparameters={
                "channels": channels, "mid_channels": mid, "blocks": len(blocks),
                "first_kernel": first_kernel, "image_channels": rgb,
            },
            options=options,
            source=source,
        )

    def build(self, detection: Detection) -> nn.Module:
        hp = detection.hyperparameters
        config = ESPANConfig(
            channels=hp["channels"], mid_channels=hp["mid_channels"], blocks=hp["blocks"],
            first_kernel=hp["first_kernel"], scale=detection.scale, image_channels=hp["image_channels"],
        )
        return ESPAN(config, LayerForms.from_hyperparameters(hp))


ARCHITECTURE = ESPANArchitecture()
