"""Error-compensating int8 weight rounding (GPTQ-style), written back as on-grid float weights.

Rounding each weight to its nearest int8 level costs SPAN ch28 about 0.25 dB on its own: the
folded re-parameterised kernels have a wide range inside each output channel, so the steps are
coarse.  Instead, each conv's weights are rounded one input tap at a time and the rounding error
of a tap is pushed onto the taps not yet rounded, weighted by the inverse of the layer's input
second-moment matrix ``H = E[x xᵀ]`` (measured on the calibration crops), which minimises the
layer's output error rather than the weight error.

The result is a float module whose conv weights sit exactly on a per-output-channel symmetric
int8 grid ``w = s·q``, ``s = max|w₀|/127`` (``w₀`` the original weights, ``q ∈ [-127, 127]``).
Each row's largest-magnitude tap is rounded first and never moved afterwards, so every
converter's own per-channel min/max quantiser derives the same ``s`` and reproduces ``q``
exactly: the rounding survives any target without a target-specific hook.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

WEIGHT_LEVELS = 127
POSITIONS_PER_BATCH = 1024
DAMPING = 0.01


@dataclass(frozen=True)
class RoundingReport:
    """Per conv: relative output error of nearest rounding vs the compensated rounding."""

    layers: dict[str, tuple[float, float]]

    def as_dict(self) -> dict[str, object]:
        return {
            name: {"nearest_rel_error": round(a, 6), "compensated_rel_error": round(b, 6)}
            for name, (a, b) in self.layers.items()
        }


def sample_columns(flat: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` columns of ``flat`` (taps × positions), at fixed pseudo-random positions.

    Not a fixed stride: a stride dividing the image width samples the same image columns in
    every row (a stride of 4 on 64-wide crops never saw the right-most column, so the taps
    that only act on the right border went unfitted: one LR column off by ~0.03 after the
    refit).  The positions depend only on the shape, so float and quantised inputs pair up.
    """
    positions = flat.shape[1]
    if positions <= count:
        return flat
    chosen = torch.randperm(positions, generator=torch.Generator().manual_seed(0))[:count].sort().values
    return flat[:, chosen]


def _layer_inputs(module: nn.Module, convs: dict[str, nn.Conv2d], batches: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per conv, a fixed subsample of its unfolded input columns, (taps, samples) float64."""
    columns: dict[str, list[torch.Tensor]] = {name: [] for name in convs}
    hooks = []
    for name, conv in convs.items():
        def hook(layer, args, _output, name=name):
            unfolded = F.unfold(
                args[0].detach(), layer.kernel_size, dilation=layer.dilation, padding=layer.padding, stride=layer.stride
            )
            taps = unfolded.shape[1]
            flat = unfolded.permute(1, 0, 2).reshape(taps, -1)
            columns[name].append(sample_columns(flat, POSITIONS_PER_BATCH).double())
        hooks.append(conv.register_forward_hook(hook))
    try:
        with torch.no_grad():
            for batch in batches:
                module(batch)
    finally:
        for handle in hooks:
            handle.remove()
    return {name: torch.cat(parts, dim=1) for name, parts in columns.items()}


def round_nearest(weight: torch.Tensor) -> torch.Tensor:
    """``weight`` (rows × taps) rounded to its nearest per-row symmetric int8 levels, dequantised."""
    scale = (weight.abs().amax(dim=1) / WEIGHT_LEVELS).clamp(min=1e-12)[:, None]
    return torch.clamp(torch.round(weight / scale), -WEIGHT_LEVELS, WEIGHT_LEVELS) * scale


def round_rows(weight: torch.Tensor, hessian: torch.Tensor) -> torch.Tensor:
    """Integer levels ``q`` (rows × taps, float64) for ``weight`` (rows × taps) given ``H`` (taps × taps)."""
    rows, taps = weight.shape
    w = weight.double()
    scale = (w.abs().amax(dim=1) / WEIGHT_LEVELS).clamp(min=1e-12)
    damped = hessian + DAMPING * hessian.diagonal().mean().clamp(min=1e-12) * torch.eye(taps, dtype=torch.float64)
    # Each row: its largest tap first (it is on the grid exactly), the rest by descending H_ii.
    base_order = torch.argsort(hessian.diagonal(), descending=True)
    orders = []
    for row in range(rows):
        lead = int(w[row].abs().argmax())
        orders.append(torch.cat([torch.tensor([lead]), base_order[base_order != lead]]))
    order = torch.stack(orders)
    permuted_h = damped[order[:, :, None], order[:, None, :]]
    upper = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(permuted_h)), upper=True)
    work = torch.gather(w, 1, order) / scale[:, None]
    levels = torch.zeros_like(work)
    for tap in range(taps):
        levels[:, tap] = torch.clamp(torch.round(work[:, tap]), -WEIGHT_LEVELS, WEIGHT_LEVELS)
        error = (work[:, tap] - levels[:, tap]) / upper[:, tap, tap]
        work[:, tap + 1 :] -= error[:, None] * upper[:, tap, tap + 1 :]
    result = torch.empty_like(levels)
    result.scatter_(1, order, levels)
    return result, scale


def _relative_output_error(reference: torch.Tensor, candidate: torch.Tensor, inputs: torch.Tensor) -> float:
    delta = (reference - candidate) @ inputs
    return float(delta.norm() / (reference @ inputs).norm().clamp(min=1e-12))


def compensated_rounding(module: nn.Module, batches: Sequence[torch.Tensor]) -> tuple[nn.Module, RoundingReport]:
    """A copy of ``module`` whose every ungrouped ``nn.Conv2d`` has compensated on-grid weights.

    ``batches``: calibration crops, NCHW float32 RGB in [0, 1].  Grouped convs are left as they are
    (their quantiser rounds them to nearest).
    """
    rounded = copy.deepcopy(module).eval()
    convs = {name: m for name, m in rounded.named_modules() if isinstance(m, nn.Conv2d) and m.groups == 1}
    inputs = _layer_inputs(rounded, convs, batches)
    layers = {}
    for name, conv in convs.items():
        x = inputs[name]
        weight = conv.weight.detach().double().reshape(conv.out_channels, -1)
        hessian = x @ x.T / x.shape[1]
        levels, scale = round_rows(weight, hessian)
        nearest = round_nearest(weight)
        compensated = levels * scale[:, None]
        layers[name] = (
            _relative_output_error(weight, nearest, x),
            _relative_output_error(weight, compensated, x),
        )
        conv.weight.data.copy_(compensated.reshape(conv.weight.shape).float())
    return rounded, RoundingReport(layers=layers)
