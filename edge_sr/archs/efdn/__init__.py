"""EFDN detection; train-form files need ``edbb_variant`` since branch sets are not recorded."""

from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from edge_sr.archs.blocks.edbb import EDBBBranches
from edge_sr.archs.efdn.model import CELLS, EFDN, EFDNConfig
from edge_sr.archs.keys import (
    conv_shape,
    indexed_prefixes,
    require_equal,
    scale_from_channels,
    tensor,
)
from edge_sr.errors import OptionError
from edge_sr.registry import Architecture, Detection, LoadOptions

ESA_MIN_INPUT = 15
"""ESA: conv2 (3x3, stride 2, no padding) must leave >= 7 px for the 7x7 max-pool."""
ESA_MIN_DYNAMIC_INPUT = 21
"""From 21 px the pooled map is at least 2 px, so the resize back is never a broadcast and
torch.export can keep H/W symbolic."""


class EFDNArchitecture(Architecture):
    name = "efdn"
    title = "EFDN (Edge-enhanced Feature Distillation Network)"
    min_input_size = ESA_MIN_INPUT
    min_dynamic_input_size = ESA_MIN_DYNAMIC_INPUT

    def owns(self, keys: frozenset[str]) -> bool:
        return "head.weight" in keys and "cells.0.conv1.conv1x1.weight" in keys

    def detect(
        self, state: Mapping[str, torch.Tensor], *, options: LoadOptions, source: str
    ) -> Detection:
        cells = indexed_prefixes(state, "cells.{}.")
        require_equal(len(cells), CELLS, what="the number of EFDN cells", source=source)
        features, rgb, _ = conv_shape(state, "head", source=source)
        tail_out, _, _ = conv_shape(state, "tail.0", source=source)
        scale = scale_from_channels(tail_out, image_channels=rgb, source=source, key="tail.0.weight")
        esa, _, _ = conv_shape(state, "cells.0.att.conv1", source=source)
        branch, _, _ = conv_shape(state, "cells.0.branch.0", source=source)
        hyperparameters: dict[str, object] = {
            "features": features,
            "esa_channels": esa,
            "branch_channels": branch,
            "image_channels": rgb,
        }
        train = "cells.0.conv2.conv1x1_sbx.k0" in state
        if options.lora_weights is not None or options.lora_scaling is not None:
            raise OptionError(f"{source}: LoRA options were given, but EFDN files hold no LoRA factors")
        if train:
            if options.edbb_variant is None:
                raise OptionError(
                    f"{source}: EFDN train-form checkpoint: the EDBB branch set is not recorded in "
                    "the file; pass edbb_variant='plain' or 'gv' (the published EFDN_gv is 'gv')"
                )
            branches = EDBBBranches.parse(options.edbb_variant)
            seq_mid = tensor(state, "cells.0.conv2.conv1x1_3x3.k0", source=source, dims=4).shape[0]
            hyperparameters["edbb_variant"] = branches.name()
            hyperparameters["edbb_seq_channels"] = int(seq_mid)
        return Detection(form="train" if train else "deploy", scale=scale, hyperparameters=hyperparameters)

    def build(self, detection: Detection) -> nn.Module:
        hp = detection.hyperparameters
        variant = hp.get("edbb_variant")
        config = EFDNConfig(
            features=hp["features"],
            esa_channels=hp["esa_channels"],
            branch_channels=hp["branch_channels"],
            scale=detection.scale,
            image_channels=hp["image_channels"],
            edbb_branches=EDBBBranches.parse(variant) if variant else None,
            edbb_seq_channels=int(hp.get("edbb_seq_channels", 0)),
        )
        return EFDN(config)


ARCHITECTURE = EFDNArchitecture()
