"""Quantisation-friendly graph preparation; every step is exact in fp32 and checked.

``fold_input_normalization``: SPAN feeds ``(x - mean) * 255`` (values up to about ±143) into
``conv_1``.  Folding the affine into ``conv_1`` keeps the first activation in [0, 1]; the one
subtlety is the border, where ``conv_1`` zero-pads the *normalised* input, i.e. pads the raw
input with ``mean``.  The folded conv zero-pads the raw input and adds back, on the border
pixels only, what the ``mean``-valued padding would have contributed: a fixed correction
computed by convolving a border indicator (1 outside the image, 0 inside) with the folded
kernel's per-tap mean response.  Exact up to float rounding, at any input size.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from edge_sr.errors import OptionError
from edge_sr.tolerances import Tolerance, verify_equivalent

FOLD_FP32 = Tolerance(
    name="fold-fp32",
    atol=1e-4,
    rtol=1e-6,
    meaning="graph preparation for quantisation (normalisation fold) vs the deploy module, fp32",
)


class NormalizationFoldedConv(nn.Module):
    """``conv(pad_mean(x)) `` written as ``conv(pad_0(x)) + border_correction``.

    Input NCHW float32 RGB in [0, 1]; output as the original ``conv_1(normalize(x))``.
    """

    def __init__(self, conv: nn.Conv2d, mean: torch.Tensor, img_range: float) -> None:
        super().__init__()
        weight = conv.weight.detach().double()
        bias = conv.bias.detach().double()
        mean = mean.detach().double().flatten()
        self.padding = conv.padding
        folded = weight * img_range
        self.conv = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, padding=conv.padding)
        self.conv.weight.data.copy_(folded.float())
        # Interior pixels: W*r*x - W*r*mean summed over every tap.
        self.conv.bias.data.copy_((bias - (folded * mean.view(1, -1, 1, 1)).sum(dim=(1, 2, 3))).float())
        # Border pixels also see padded taps, which should have carried `mean`, not 0.
        self.border = nn.Conv2d(1, conv.out_channels, conv.kernel_size, bias=False)
        self.border.weight.data.copy_((folded * mean.view(1, -1, 1, 1)).sum(dim=1, keepdim=True).float())
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad_h, pad_w = self.padding
        # Derived from x (not ones_like) so fixed-shape converters cannot fold the H×W mask
        # into a stored constant (65 KB at 256², a third of an int8 SPAN).  The padding value
        # is 0 and the mask is shifted afterwards, not padded with 1: int8 converters give the
        # pad its input's quantisation, and 1 is not on the grid of a tensor that is 0
        # everywhere (LiteRT lost the correction: the outer LR ring was off by ~15/255).
        minus_inside = F.pad(x[:, :1] * 0.0 - 1.0, (pad_w, pad_w, pad_h, pad_h))
        return self.conv(x) + self.border(minus_inside + 1.0)


def fold_input_normalization(module: nn.Module) -> tuple[nn.Module, bool]:
    """A copy of a SPAN-family module with its input normalisation folded into ``conv_1`` (and
    DSCF-Fused's ``conv_fused``, the other conv that reads the normalised input).

    Returns ``(copy, folded)``; ``folded`` is False when the network has no normalisation.
    """
    from edge_sr.archs.blocks.conv3xc import Conv3XCDeploy
    from edge_sr.archs.span.model import InputNormalization

    normalize = getattr(module, "normalize", None)
    conv_1 = getattr(module, "conv_1", None)
    if not isinstance(normalize, InputNormalization):
        return module, False
    if not isinstance(conv_1, Conv3XCDeploy) or not isinstance(conv_1.eval_conv, nn.Conv2d):
        raise OptionError("normalisation fold: expected a deploy-form conv_1 (collapse the model first)")
    # DSCF-Fused feeds the normalised input to a second conv (block 1's fused 5x5); it folds the same way.
    conv_fused = getattr(module, "conv_fused", None)
    if conv_fused is not None and not isinstance(conv_fused, nn.Conv2d):
        raise OptionError(f"normalisation fold: expected conv_fused to be a Conv2d, found {type(conv_fused).__name__}")
    folded = copy.deepcopy(module)
    folded.conv_1 = Conv3XCDeploy(NormalizationFoldedConv(conv_1.eval_conv, normalize.mean, normalize.img_range))
    if conv_fused is not None:
        folded.conv_fused = NormalizationFoldedConv(conv_fused, normalize.mean, normalize.img_range)
    folded.normalize = nn.Identity()
    return folded, True


def check_fold(original: nn.Module, folded: nn.Module, sample: torch.Tensor) -> float:
    """Max abs difference on ``sample``; raises VerificationError beyond ``FOLD_FP32``."""
    return verify_equivalent(original, folded, sample, tolerance=FOLD_FP32, what="normalisation fold")
