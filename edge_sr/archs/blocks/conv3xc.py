"""Conv3XC, SPAN's re-parameterisable 3x3 convolution, in train and deploy form."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edge_sr.archs.blocks.fold import FoldableBlock, center_tap


class Conv3XCTrain(FoldableBlock):
    """Train form: ``conv.2(conv.1(conv.0(pad(x))))`` + ``sk(x)``, all with bias.

    ``conv.0`` is 1x1 c_in -> gain*c_in, ``conv.1`` 3x3 (no padding) gain*c_in -> gain*c_out,
    ``conv.2`` 1x1 gain*c_out -> c_out; the input is zero-padded by one pixel *before* the first
    1x1, which is what makes the fold exact at the borders.

    ``eval_conv`` (when ``stale_eval_conv``) exists only so that published train-form files load
    with strict keys: those files store a stale copy of the folded kernel, and the branches are
    the truth, so it is never used in ``forward``.
    """

    def __init__(self, c_in: int, c_out: int, *, gain: int, stale_eval_conv: bool = True) -> None:
        super().__init__()
        self.sk = nn.Conv2d(c_in, c_out, 1)
        self.conv = nn.Sequential(
            nn.Conv2d(c_in, c_in * gain, 1),
            nn.Conv2d(c_in * gain, c_out * gain, 3),
            nn.Conv2d(c_out * gain, c_out, 1),
        )
        if stale_eval_conv:
            self.eval_conv = nn.Conv2d(c_in, c_out, 3, padding=1)
            self.eval_conv.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (1, 1, 1, 1))) + self.sk(x)

    def folded_state_dict(self) -> dict[str, torch.Tensor]:
        first, middle, last = (c.weight.double() for c in self.conv)
        b_first, b_middle, b_last = (c.bias.double() for c in self.conv)
        kernel = torch.einsum("om,mnuv,ni->oiuv", last[:, :, 0, 0], middle, first[:, :, 0, 0])
        kernel = kernel + center_tap(self.sk.weight.double(), 3)
        # A zero-padded pixel leaves conv.0 as its bias, so b_first reaches every tap.
        bias_mid = middle.sum(dim=(2, 3)) @ b_first + b_middle
        bias = last[:, :, 0, 0] @ bias_mid + b_last + self.sk.bias.double()
        dtype = self.sk.weight.dtype
        return {"eval_conv.weight": kernel.to(dtype), "eval_conv.bias": bias.to(dtype)}


class Conv3XCDeploy(nn.Module):
    """Deploy form: one convolution stored under ``eval_conv`` (a Conv2d, or a LoRA conv)."""

    def __init__(self, conv: nn.Module) -> None:
        super().__init__()
        self.eval_conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.eval_conv(x)
