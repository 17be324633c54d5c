"""The fold protocol: a train-form block knows the plain-conv tensors it is equivalent to."""

from __future__ import annotations

import torch
from torch import nn


class FoldableBlock(nn.Module):
    """A block whose deploy form is a plain convolution (plus whatever follows it unchanged).

    ``folded_state_dict`` returns the tensors of the block's deploy-form counterpart, with keys
    relative to the block, computed in float64 and returned in the block's dtype.  It never
    modifies the block.
    """

    def folded_state_dict(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError


def folded_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """The state_dict of ``module``'s deploy form: every FoldableBlock folded, the rest copied."""
    state: dict[str, torch.Tensor] = {}

    def visit(current: nn.Module, prefix: str) -> None:
        if isinstance(current, FoldableBlock):
            for key, tensor in current.folded_state_dict().items():
                state[prefix + key] = tensor.detach().clone()
            return
        for key, tensor in current.named_parameters(recurse=False):
            state[prefix + key] = tensor.detach().clone()
        for key, tensor in current.named_buffers(recurse=False):
            if key not in current._non_persistent_buffers_set:
                state[prefix + key] = tensor.detach().clone()
        for name, child in current.named_children():
            visit(child, f"{prefix}{name}.")

    visit(module, "")
    return state


def center_tap(kernel_1x1: torch.Tensor, size: int) -> torch.Tensor:
    """Embed a 1x1 kernel (O, I, 1, 1) at the centre of a size x size kernel."""
    pad = (size - 1) // 2
    return torch.nn.functional.pad(kernel_1x1, (pad, pad, pad, pad))
