"""SPAB, SPAN's parameter-free-attention block, with two or three Conv3XC."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SPAB(nn.Module):
    """``o_1 = c1_r(x)``, ``o_k = c_k_r(silu(o_{k-1}))`` for k = 2..n.

    With attention: ``out = (o_n + x) * (sigmoid(o_n) - 0.5)``; without (SPANF's first block,
    whose input and output widths differ): ``out = o_n``.

    ``forward`` returns ``(out, silu(o_1))``: SPAN feeds the last block's first feature to
    ``conv_cat``, and the published code applies an *in-place* SiLU to ``o_1`` before handing
    it back, so what the trained ``conv_cat`` saw is ``silu(o_1)``, not ``o_1``.  Using
    ``o_1`` costs about 15 dB on Set5.
    """

    def __init__(self, convs: list[nn.Module], *, attention: bool) -> None:
        super().__init__()
        self.num_convs = len(convs)
        for index, conv in enumerate(convs, start=1):
            self.add_module(f"c{index}_r", conv)
        self.attention = attention

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        first = F.silu(self.c1_r(x))
        out = first
        for index in range(2, self.num_convs + 1):
            out = getattr(self, f"c{index}_r")(out if index == 2 else F.silu(out))
        if self.attention:
            out = (out + x) * (torch.sigmoid(out) - 0.5)
        return out, first
