"""ConvLoRA: a convolution with a low-rank additive update, as used to fine-tune DSCLoRA."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edge_sr.archs.blocks.fold import FoldableBlock


class LoRAConv2d(FoldableBlock):
    """``conv(x, W + dW, b)`` with ``dW = (lora_B @ lora_A).view(W.shape) * scaling``.

    Shapes for a k x k kernel: ``lora_A`` (rank*k, c_in*k), ``lora_B`` (c_out*k, rank*k).  The
    view is a raw reshape of the product, as in the published ConvLoRA.  When
    ``weights_hold_update`` is true the file's ``weight`` already includes ``dW`` (it was saved
    after an in-place merge), so the factors are ignored rather than counted twice.
    ``forward`` computes the sum on the fly and never writes to ``weight``.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel_size: int,
        *,
        rank: int,
        scaling: float,
        weights_hold_update: bool,
    ) -> None:
        super().__init__()
        k = kernel_size
        self.weight = nn.Parameter(torch.empty(c_out, c_in, k, k))
        self.bias = nn.Parameter(torch.empty(c_out))
        self.lora_A = nn.Parameter(torch.empty(rank * k, c_in * k))
        self.lora_B = nn.Parameter(torch.zeros(c_out * k, rank * k))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        nn.init.zeros_(self.bias)
        nn.init.kaiming_uniform_(self.lora_A, a=5**0.5)
        self.scaling = float(scaling)
        self.weights_hold_update = weights_hold_update
        self.padding = k // 2

    def delta(self) -> torch.Tensor:
        return (self.lora_B @ self.lora_A).view(self.weight.shape) * self.scaling

    def effective_weight(self) -> torch.Tensor:
        if self.weights_hold_update:
            return self.weight
        return self.weight + self.delta()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.effective_weight(), self.bias, padding=self.padding)

    def folded_state_dict(self) -> dict[str, torch.Tensor]:
        weight = self.weight.double()
        if not self.weights_hold_update:
            delta = (self.lora_B.double() @ self.lora_A.double()).view(weight.shape)
            weight = weight + delta * self.scaling
        return {"weight": weight.to(self.weight.dtype), "bias": self.bias.detach().clone()}
