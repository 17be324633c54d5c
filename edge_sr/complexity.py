"""Parameter and FLOP counts as the NTIRE Efficient-SR challenge reports them.

FLOPs here are convolution multiply-accumulates (MACs) at a 256x256 LR input, counted the way
the challenge's fvcore tables count them: every convolution contributes
``output elements x (in_channels / groups) x kernel area``, a bilinear resize 4 per output
element (EFDN's attention; 0.013 G of its 16.70 G); elementwise ops, pooling and biases are
ignored.  Parameters include frozen tensors (e.g. SPANF's fixed ``conv_near``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

FLOP_INPUT_SIZE = 256


@dataclass(frozen=True)
class Complexity:
    parameters: int
    macs: int
    input_size: int = FLOP_INPUT_SIZE

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def count_conv_macs(module: nn.Module, *, height: int, width: int, channels: int = 3) -> int:
    """Convolution MACs of one forward pass at ``height x width``, computed on the meta device.

    Runs a copy of ``module`` on shape-only tensors under PyTorch's flop counter, so it costs no
    arithmetic, sees convolutions however they are called (modules or ``F.conv2d``), and leaves
    the module untouched.  The counter reports 2 FLOPs per MAC.
    """
    from torch.utils.flop_counter import FlopCounterMode

    probe = copy.deepcopy(module).to("meta")
    counter = FlopCounterMode(
        display=False,
        custom_mapping={torch.ops.aten.upsample_bilinear2d: _bilinear_resize_flops},
    )
    with torch.no_grad(), counter:
        probe(torch.empty(1, channels, height, width, device="meta"))
    per_op = counter.get_flop_counts().get("Global", {})
    conv_flops = sum(n for op, n in per_op.items() if "convolution" in str(op))
    resize_flops = sum(n for op, n in per_op.items() if "upsample_bilinear2d" in str(op))
    return conv_flops // 2 + resize_flops


def _bilinear_resize_flops(*args, out_shape=None, **kwargs) -> int:
    # fvcore's rule, which the challenge tables include: 4 per output element.
    count = 1
    for size in out_shape:
        count *= size
    return 4 * count


def measure(module: nn.Module, *, size: int = FLOP_INPUT_SIZE) -> Complexity:
    return Complexity(
        parameters=count_parameters(module),
        macs=count_conv_macs(module, height=size, width=size),
        input_size=size,
    )
