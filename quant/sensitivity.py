"""Per-layer sensitivity and the float-fallback search, on a fake-quantised simulation.

The calibrated PT2E graph's observers are replaced by switchable fake-quantisers holding the
exact scales and zero points the target's converter will use, so switching one layer to float
costs one evaluation instead of a re-calibration.  The search's answer is then rebuilt for real
(:class:`~edge_sr.quant.pt2e.KeepFloat`) and re-measured by the caller in the target's runtime.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import fx, nn

from edge_sr.quant.pt2e import layer_labels

OBSERVER_PREFIX = "activation_post_process_"
UNBOUNDED_GRID = 2**20
"""Integer bound of an unclipped point: ±2^20 steps is beyond any activation of these networks."""


class SwitchableFakeQuant(nn.Module):
    """Fake int8 quantisation with fixed qparams (per-tensor, or per-channel along ``axis``)."""

    def __init__(self, scale: torch.Tensor, zero_point: torch.Tensor, quant_min: int, quant_max: int, axis: int | None):
        super().__init__()
        self.register_buffer("scale", scale.detach().float().clone())
        self.register_buffer("zero_point", zero_point.detach().int().clone())
        self.quant_min, self.quant_max, self.axis = quant_min, quant_max, axis
        self.enabled = True
        self.clip = True
        """False: per-tensor points round to their grid without the int8 bounds (a diagnostic)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        if self.axis is None:
            low, high = (self.quant_min, self.quant_max) if self.clip else (-UNBOUNDED_GRID, UNBOUNDED_GRID)
            return torch.fake_quantize_per_tensor_affine(
                x, float(self.scale.flatten()[0]), int(self.zero_point.flatten()[0]), low, high
            )
        return torch.fake_quantize_per_channel_affine(
            x, self.scale, self.zero_point, self.axis, self.quant_min, self.quant_max
        )


@dataclass
class Simulation:
    """A fake-quantised copy of a calibrated graph and, per layer label, its switchable points."""

    module: fx.GraphModule
    points: dict[str, list[str]]
    labels: dict[str, str]

    def set_float(self, labels: set[str] | frozenset[str]) -> None:
        """Quantise everything except the points of ``labels``."""
        off = {name for label in labels for name in self.points[label]}
        for name, point in self.module.named_children():
            if isinstance(point, SwitchableFakeQuant):
                point.enabled = name not in off

    def set_activation_clipping(self, enabled: bool) -> None:
        """With ``enabled=False`` every per-tensor (activation) point keeps its step size but
        not its int8 bounds: what is left of the drop is rounding, the rest was clipping."""
        for point in self.module.children():
            if isinstance(point, SwitchableFakeQuant):
                point.clip = enabled

    def set_quantised_only(self, label: str | None) -> None:
        """Quantise only the points of ``label``; ``None`` quantises nothing."""
        on = set(self.points[label]) if label is not None else set()
        for name, point in self.module.named_children():
            if isinstance(point, SwitchableFakeQuant):
                point.enabled = name in on


def simulate(prepared: fx.GraphModule) -> Simulation:
    """Replace each observer of a calibrated graph with a :class:`SwitchableFakeQuant`."""
    simulation = copy.deepcopy(prepared)
    labels = layer_labels(simulation)
    for node in simulation.graph.nodes:
        if node.op == "call_module" and node.target.startswith(OBSERVER_PREFIX):
            observer = getattr(simulation, node.target)
            scale, zero_point = observer.calculate_qparams()
            axis = getattr(observer, "ch_axis", None) if observer.qscheme in (
                torch.per_channel_symmetric, torch.per_channel_affine
            ) else None
            setattr(simulation, node.target, SwitchableFakeQuant(scale, zero_point, observer.quant_min, observer.quant_max, axis))
    points: dict[str, list[str]] = {label: [] for label in labels.values()}
    for node in simulation.graph.nodes:
        if node.name not in labels:
            continue
        owned = points[labels[node.name]]
        inputs = [a for a in node.all_input_nodes if a.op == "call_module" and a.target.startswith(OBSERVER_PREFIX)]
        outputs = [u for u in node.users if u.op == "call_module" and u.target.startswith(OBSERVER_PREFIX)]
        owned.extend(n.target for n in inputs + outputs if n.target not in owned)
    simulation.recompile()
    return Simulation(module=simulation, points={k: v for k, v in points.items() if v}, labels=labels)


@dataclass(frozen=True)
class LayerSensitivity:
    """Predicted drop (dB) a layer costs quantised alone, and recovers when it alone stays float."""

    label: str
    cost_quantised_alone: float
    gain_float_alone: float | None
    """None when only the quantised-alone cost was measured (``analyze(..., float_alone=False)``)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "layer": self.label,
            "cost_quantised_alone_db": round(self.cost_quantised_alone, 4),
            "gain_float_alone_db": None if self.gain_float_alone is None else round(self.gain_float_alone, 4),
        }


def analyze(
    simulation: Simulation, drop: Callable[[nn.Module], float], *, progress=None, float_alone: bool = True,
) -> tuple[float, list[LayerSensitivity]]:
    """``(all-int8 drop, per-layer sensitivities ranked largest first)``.

    ``drop(module)`` is the PSNR (dB) a candidate loses against the float network.  Ranked by
    ``gain_float_alone``; with ``float_alone=False`` only the quantised-alone cost (what the
    fallback search orders by) is measured, in half the evaluations, and ranks the layers.  The cost is
    counted from the simulation with no point quantised, not from the float network: after the
    refit its weights are on the int8 grid and compensate for quantised inputs, which alone
    costs SPAN ch28 ~0.35 dB and would otherwise be charged to every layer.
    """
    simulation.set_quantised_only(None)
    unquantised = drop(simulation.module)
    simulation.set_float(set())
    quantised = drop(simulation.module)
    rows = []
    for label in simulation.points:
        simulation.set_quantised_only(label)
        alone = drop(simulation.module) - unquantised
        gain = None
        if float_alone:
            simulation.set_float({label})
            gain = quantised - drop(simulation.module)
        rows.append(LayerSensitivity(label, alone, gain))
        if progress is not None:
            progress(label)
    simulation.set_float(set())
    if float_alone:
        rows.sort(key=lambda row: (-row.gain_float_alone, row.label))
    else:
        rows.sort(key=lambda row: (-row.cost_quantised_alone, row.label))
    return quantised, rows


def _relative_noise(drop_db: float) -> float:
    """The output noise a predicted drop stands for, in units of the reference error (``m / e``)."""
    return 10.0 ** (max(drop_db, 0.0) / 10.0) - 1.0


def fallback_search(
    drop_keeping: Callable[[frozenset[str]], float],
    *,
    max_drop: float,
    ranking: list[LayerSensitivity],
    all_int8_drop: float,
    also_required: Callable[[frozenset[str]], bool] | None = None,
    prune_trials: int = 6,
) -> tuple[list[str], float]:
    """Few layers to keep in float for ``max_drop`` dB; returns ``(labels, drop)``.

    ``drop_keeping(labels)`` rebuilds the quantised network with ``labels`` in float and returns
    the drop a decision compares with the budget (the build passes the prediction's upper bound):
    the simulation only ranks and estimates, decisions are made on rebuilds (a rebuild
    re-calibrates and moves quantisation points).

    Layers are kept in order of the noise each adds quantised alone, largest first.  That cost is
    measured against a clean baseline, so it separates the many small contributors a tight
    budget must choose among (what a layer gains kept float alone, measured against the whole
    int8 network's noise, does not).  Quantisation noise from different layers adds roughly in
    power, so the number to keep is first estimated from the costs, scaled so they sum to the
    all-int8 noise; the rebuilds then walk from that estimate (galloping, then bisection) to the
    shortest prefix that meets the budget, and finally try quantising the cheapest kept layers
    one at a time.  With every ranked layer kept and still over budget, returns all of them.

    ``also_required(labels)``, called after ``drop_keeping(labels)``, is a second condition a
    candidate must meet (the build's flat-colour bound); the walk assumes it, too, holds from
    some prefix on.
    """
    ordered = sorted(ranking, key=lambda row: (-row.cost_quantised_alone, row.label))
    labels = [row.label for row in ordered]
    measured: dict[int, float] = {}

    def drop_with(count: int) -> float:
        if count not in measured:
            measured[count] = drop_keeping(frozenset(labels[:count]))
        return measured[count]

    def meets_keeping(kept: list[str], drop: float) -> bool:
        return drop <= max_drop and (also_required is None or also_required(frozenset(kept)))

    def meets(count: int) -> bool:
        return meets_keeping(labels[:count], drop_with(count))

    if meets(0) or not labels:
        return [], drop_with(0)
    costs = [_relative_noise(row.cost_quantised_alone) for row in ordered]
    interaction = _relative_noise(all_int8_drop) / sum(costs) if sum(costs) > 0 else 1.0
    allowed = _relative_noise(max_drop)
    estimate = next(
        (count for count in range(1, len(labels) + 1) if interaction * sum(costs[count:]) <= allowed), len(labels)
    )
    if meets(estimate):
        low, high, step = estimate, estimate, 1  # high meets; walk down until a prefix fails
        while low > 0 and meets(low):
            high, low = low, max(low - step, 0)
            step *= 2
    else:
        low, high, step = estimate, estimate, 1  # low fails; walk up until a prefix meets
        while high < len(labels) and not meets(high):
            low, high = high, min(high + step, len(labels))
            step *= 2
        if not meets(high):
            return labels, drop_with(high)
    while high - low > 1:
        middle = (low + high) // 2
        if meets(middle):
            high = middle
        else:
            low = middle
    chosen, drop = labels[:high], drop_with(high)
    for label in list(reversed(chosen))[:prune_trials]:
        trial = [c for c in chosen if c != label]
        trial_drop = drop_keeping(frozenset(trial))
        if meets_keeping(trial, trial_drop):
            chosen, drop = trial, trial_drop
    return chosen, drop
