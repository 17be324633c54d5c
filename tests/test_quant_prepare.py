"""Graph preparation for quantisation is exact in fp32."""

from __future__ import annotations

import pytest
import torch

import edge_sr
from edge_sr.quant.prepare import FOLD_FP32, check_fold, fold_input_normalization


@pytest.mark.parametrize("name", ["span-ch28", "dsclora", "span-team46", "dscf-fused"])
def test_normalisation_fold_is_exact_borders_included(name, zoo_dir, real_crop):
    descriptor = edge_sr.load(name)
    folded, changed = fold_input_normalization(descriptor.module)
    assert changed
    for size in [(37, 41), (15, 22)]:
        x = real_crop(*size, index=6)
        assert check_fold(descriptor.module, folded, x) <= FOLD_FP32.atol
    # The first layer now sees the raw [0, 1] image, with the x255 moved into its weights.
    assert isinstance(folded.normalize, torch.nn.Identity)
    original = descriptor.module.conv_1.eval_conv.weight
    assert torch.allclose(folded.conv_1.eval_conv.conv.weight, original * 255.0)


def test_networks_without_normalisation_are_left_alone(zoo_dir):
    module = edge_sr.load("efdn").module
    folded, changed = fold_input_normalization(module)
    assert folded is module and not changed
