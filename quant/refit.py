"""Sequential least-squares refit of conv weights and biases to the quantised network's inputs.

Quantising activations perturbs every conv's input; quantising weights perturbs its kernel.
Walking the convs in graph order, each is refitted so that, *given the inputs it really sees in
the fake-quantised network* (earlier layers already refitted and rounded), its output matches
the float network's output for the float inputs:

    W', b' = argmin ‖ (W x_float + b) − (W' x_quant + b') ‖²,

then ``W'`` is rounded with error compensation (:func:`edge_sr.quant.rounding.round_rows`) and
``b'`` re-solved for the rounded weights (bias correction; biases stay float / int32 in every
target).  The refitted weights are written into the float graph module as on-grid float
weights, so every target's own quantiser reproduces them exactly; the simulation's weight
quantisers are updated to the new scales.

Inputs to both graphs: calibration crops, NCHW float32 RGB in [0, 1].
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import fx

from edge_sr.quant.pt2e import graph_tensor
from edge_sr.quant.rounding import round_rows
from edge_sr.quant.sensitivity import OBSERVER_PREFIX, Simulation

aten = torch.ops.aten
COLUMNS_PER_IMAGE = 1024
RIDGE = 1e-6
"""Relative ridge on the (uncentred) input second moment; larger values shrink the fit towards 0."""


class _Stop(Exception):
    pass


class _Tap(torch.nn.Module):
    """Identity on a conv's input; when armed, records it (and optionally stops the forward)."""

    def __init__(self) -> None:
        super().__init__()
        self.armed, self.stop, self.seen = False, False, None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.armed:
            self.seen = x
            if self.stop:
                raise _Stop
        return x


def _add_taps(module: fx.GraphModule, names: set[str]) -> dict[str, _Tap]:
    """Insert a :class:`_Tap` before the first argument of each named node (in place)."""
    taps = {}
    for node in list(module.graph.nodes):
        if node.name not in names:
            continue
        tap = _Tap()
        attribute = f"_refit_tap_{len(taps)}"
        module.add_module(attribute, tap)
        with module.graph.inserting_before(node):
            tapped = module.graph.call_module(attribute, (node.args[0],))
        node.args = (tapped, *node.args[1:])
        taps[node.name] = tap
    module.recompile()
    return taps


def _conv_args(node: fx.Node) -> list:
    defaults = [None, None, None, [1, 1], [0, 0], [1, 1], 1]
    return list(node.args) + defaults[len(node.args) :]


def _columns(x: torch.Tensor, kernel, *, stride, padding, dilation) -> torch.Tensor:
    unfolded = F.unfold(x, kernel, dilation=dilation, padding=padding, stride=stride)
    flat = unfolded.permute(1, 0, 2).reshape(unfolded.shape[1], -1)
    return flat[:, :: max(1, flat.shape[1] // (COLUMNS_PER_IMAGE * x.shape[0]))].double()


def _capture(module: fx.GraphModule, taps: dict[str, _Tap], names: list[str], batches, columns) -> dict[str, torch.Tensor]:
    """Run ``batches`` and return, per name, the tapped input's columns; stops at the last tap if alone."""
    found: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    for name in names:
        taps[name].armed, taps[name].stop = True, len(names) == 1
    try:
        with torch.no_grad():
            for batch in batches:
                try:
                    module(batch)
                except _Stop:
                    pass
                for name in names:
                    found[name].append(columns[name](taps[name].seen))
    finally:
        for name in names:
            taps[name].armed, taps[name].stop, taps[name].seen = False, False, None
    return {name: torch.cat(parts, dim=1) for name, parts in found.items()}


@dataclass(frozen=True)
class RefitReport:
    """Per conv node: relative output error before and after the refit, on calibration data."""

    layers: dict[str, tuple[float, float]]

    def as_dict(self) -> dict[str, object]:
        return {name: {"before": round(a, 5), "after": round(b, 5)} for name, (a, b) in self.layers.items()}


def _run_refitting(sim: fx.GraphModule, batches: Sequence[torch.Tensor], refit_conv) -> None:
    """Run the fake-quantised graph once over all batches in lockstep, node by node, calling
    ``refit_conv(node, inputs)`` before each call, ``inputs()`` giving the node's first input for
    every batch.

    Everything upstream of a conv has already been refitted and rounded when its input is
    computed, so one pass gives every conv the inputs it really sees: the sequential refit costs
    one forward instead of one forward per conv.  Batches stay separate (the exported graph may
    fix the batch size); values are freed after their last use, as ``fx.Interpreter`` does.
    """
    interpreters = []
    for batch in batches:
        interpreter = fx.Interpreter(sim)
        interpreter.env, interpreter.args_iter = {}, iter([batch])
        interpreters.append(interpreter)
    for node in sim.graph.nodes:
        if node.op == "output":
            break
        if node.op == "call_function" and node.args and refit_conv(node, lambda: [i.env[node.args[0]] for i in interpreters]):
            # The weight quantiser's output was computed from the old weights: recompute it.
            weight_q = node.args[1]
            weight = sim.get_submodule(weight_q.target)(graph_tensor(sim, weight_q.args[0].target))
            for interpreter in interpreters:
                interpreter.env[weight_q] = weight
        for interpreter in interpreters:
            interpreter.env[node] = interpreter.run_node(node)
            for dead in interpreter.user_to_last_uses.get(node, []):
                del interpreter.env[dead]


def refit(float_graph: fx.GraphModule, simulation: Simulation, batches: Sequence[torch.Tensor]) -> RefitReport:
    """Refit, in place, the convs of ``float_graph`` and of ``simulation.module`` (same node names)."""
    sim = simulation.module
    convs = {}
    for node in sim.graph.nodes:
        if node.op != "call_function" or node.target != aten.conv2d.default:
            continue
        _, weight_q, bias, stride, padding, dilation, groups = _conv_args(node)
        if groups != 1 or not (isinstance(weight_q, fx.Node) and weight_q.op == "call_module" and weight_q.target.startswith(OBSERVER_PREFIX)):
            continue
        convs[node.name] = (weight_q, bias, stride, padding, dilation)
    float_nodes = {n.name: n for n in float_graph.graph.nodes}
    convs = {name: c for name, c in convs.items() if name in float_nodes}
    names = list(convs)

    def columns_for(weight_q, stride, padding, dilation):
        kernel = tuple(graph_tensor(sim, weight_q.args[0].target).shape[2:])
        return lambda x: _columns(x, kernel, stride=stride, padding=padding, dilation=dilation)

    columns = {name: columns_for(c[0], *c[2:]) for name, c in convs.items()}
    # Float inputs come from an untouched copy of the float graph, all in one pass.
    reference = copy.deepcopy(float_graph)
    x_float_all = _capture(reference, _add_taps(reference, set(names)), names, batches, columns)
    del reference
    layers = {}

    def refit_conv(node: fx.Node, inputs) -> bool:
        if node.name not in convs:
            return False
        weight_q, bias_node, *_ = convs[node.name]
        x_quant = torch.cat([columns[node.name](x) for x in inputs()], dim=1)
        return _refit_layer(
            node.name, float_graph, float_nodes[node.name], sim, weight_q, bias_node,
            x_float_all.pop(node.name), x_quant, layers,
        )

    with torch.no_grad():
        _run_refitting(sim, batches, refit_conv)
    return RefitReport(layers=layers)


def _refit_layer(name, float_graph, float_node, sim, weight_q, bias_node, x_float, x_quant, layers) -> bool:
    """Least-squares refit + compensated rounding + bias correction of one conv; True if applied."""
    quantiser = getattr(sim, weight_q.target)
    sim_weight = graph_tensor(sim, weight_q.args[0].target)
    float_weight = graph_tensor(float_graph, _conv_args(float_node)[1].target)
    weight = float_weight.detach().double().reshape(float_weight.shape[0], -1)
    float_bias_node = _conv_args(float_node)[2]
    bias = (
        graph_tensor(float_graph, float_bias_node.target).detach().double()
        if float_bias_node is not None else torch.zeros(weight.shape[0], dtype=torch.float64)
    )
    target = weight @ x_float + bias[:, None]
    count = x_quant.shape[1]
    taps = x_quant.shape[0]
    augmented = torch.cat([x_quant, torch.ones(1, count, dtype=torch.float64)])
    gram = augmented @ augmented.T / count
    gram[:taps, :taps] += RIDGE * gram.diagonal()[:taps].mean().clamp(min=1e-12) * torch.eye(taps, dtype=torch.float64)
    solution = torch.linalg.solve(gram, augmented @ target.T / count).T
    levels, scale = round_rows(solution[:, :taps], x_quant @ x_quant.T / count)
    rounded = levels * scale[:, None]
    new_bias = (target - rounded @ x_quant).mean(dim=1)
    if float_bias_node is None:
        # No bias to absorb the correction: refit the weights only (bias stays 0).
        new_bias = torch.zeros_like(new_bias)
    before = float((weight @ x_quant + bias[:, None] - target).norm() / target.norm().clamp(min=1e-12))
    after = float((rounded @ x_quant + new_bias[:, None] - target).norm() / target.norm().clamp(min=1e-12))
    if after >= before:
        return False
    layers[name] = (before, after)
    new_weight = rounded.reshape(float_weight.shape).float()
    float_weight.data.copy_(new_weight)
    sim_weight.data.copy_(new_weight)
    quantiser.scale.copy_(scale.float())
    if float_bias_node is not None:
        graph_tensor(float_graph, float_bias_node.target).data.copy_(new_bias.float())
        if bias_node is not None:
            graph_tensor(sim, bias_node.target).data.copy_(new_bias.float())
    return True
