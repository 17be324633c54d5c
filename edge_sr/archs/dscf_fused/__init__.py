"""DSCF-Fused detection (``conv_fused`` + ``conv_cat_other`` + ``conv2_fused``)."""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from edge_sr.archs.blocks.layer_forms import LayerForms, span_family_detection
from edge_sr.archs.dscf_fused.model import DSCFFused, DSCFFusedConfig
from edge_sr.archs.keys import conv_shape, numbered_blocks, require_equal, scale_from_channels
from edge_sr.registry import Architecture, Detection, LoadOptions


class DSCFFusedArchitecture(Architecture):
    name = "dscf_fused"
    title = "DSCF-Fused (DSCLoRA with graph-folded first/last convs, NTIRE 2026)"

    def owns(self, keys: frozenset[str]) -> bool:
        return "conv_fused.weight" in keys and "conv_cat_other.weight" in keys

    def detect(
        self, state: Mapping[str, torch.Tensor], *, options: LoadOptions, source: str
    ) -> Detection:
        blocks = numbered_blocks(state, "block_{}.", source=source)
        channels, rgb, _ = conv_shape(state, "conv_1", source=source)
        _, _, fused_kernel = conv_shape(state, "conv_fused", source=source)
        up_out, _, _ = conv_shape(state, "upsampler.0", source=source)
        _, cat_in, _ = conv_shape(state, "conv_cat_other", source=source)
        require_equal(cat_in, 3 * channels, what="conv_cat_other input channels", source=source)
        names = ["conv_1", "block_1.c2_r", "block_1.c3_r"]
        return span_family_detection(
            state,
            conv3xc_names=names + [f"block_{i}.c{k}_r" for i in blocks[1:] for k in (1, 2, 3)],
            scale=scale_from_channels(up_out, image_channels=rgb, source=source, key="upsampler.0.weight"),
            hyperparameters={
                "channels": channels, "blocks": len(blocks), "fused_kernel": fused_kernel, "image_channels": rgb,
            },
            options=options,
            source=source,
        )

    def build(self, detection: Detection) -> nn.Module:
        hp = detection.hyperparameters
        config = DSCFFusedConfig(
            channels=hp["channels"], blocks=hp["blocks"], fused_kernel=hp["fused_kernel"],
            scale=detection.scale, image_channels=hp["image_channels"],
        )
        return DSCFFused(config, LayerForms.from_hyperparameters(hp))


ARCHITECTURE = DSCFFusedArchitecture()
