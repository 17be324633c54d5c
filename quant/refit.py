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

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import fx

from edge_sr.quant.pt2e import graph_tensor
from edge_sr.quant.rounding import round_nearest, round_rows, sample_columns
from edge_sr.quant.sensitivity import OBSERVER_PREFIX, Simulation

aten = torch.ops.aten
COLUMNS_PER_IMAGE = 1024
RIDGE = 1e-6
"""Relative ridge on the (uncentred) input second moment; larger values shrink the fit towards 0."""


def _conv_args(node: fx.Node) -> list:
    defaults = [None, None, None, [1, 1], [0, 0], [1, 1], 1]
    return list(node.args) + defaults[len(node.args) :]


def _columns(x: torch.Tensor, kernel, *, stride, padding, dilation) -> torch.Tensor:
    unfolded = F.unfold(x, kernel, dilation=dilation, padding=padding, stride=stride)
    flat = unfolded.permute(1, 0, 2).reshape(unfolded.shape[1], -1)
    return sample_columns(flat, COLUMNS_PER_IMAGE * x.shape[0]).double()


@dataclass(frozen=True)
class RefitReport:
    """Per conv node: relative output error before and after the refit, on calibration data."""

    layers: dict[str, tuple[float, float]]

    def as_dict(self) -> dict[str, object]:
        return {name: {"before": round(a, 5), "after": round(b, 5)} for name, (a, b) in self.layers.items()}


def _walk(module: fx.GraphModule, batches: Sequence[torch.Tensor], before_call) -> None:
    """Run ``module`` over all batches in lockstep, node by node, calling
    ``before_call(node, inputs)`` before each call (``inputs()`` gives the node's first input for
    every batch).  When it returns True it has changed the conv's weights, and the weight
    quantiser's output is recomputed before the conv runs.

    In the fake-quantised graph this is the sequential refit in one pass: everything upstream of
    a conv is already refitted and rounded when its input is computed.  Batches stay separate
    (the exported graph may fix the batch size); values are freed after their last use, as
    ``fx.Interpreter`` does.
    """
    interpreters = []
    for batch in batches:
        interpreter = fx.Interpreter(module)
        interpreter.env, interpreter.args_iter = {}, iter([batch])
        interpreters.append(interpreter)
    for node in module.graph.nodes:
        if node.op == "output":
            break
        if node.op == "call_function" and node.args and before_call(node, lambda: [i.env[node.args[0]] for i in interpreters]):
            weight_q = node.args[1]
            weight = module.get_submodule(weight_q.target)(graph_tensor(module, weight_q.args[0].target))
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

    def columns_for(weight_q, stride, padding, dilation):
        kernel = tuple(graph_tensor(sim, weight_q.args[0].target).shape[2:])
        return lambda x: _columns(x, kernel, stride=stride, padding=padding, dilation=dilation)

    columns = {name: columns_for(c[0], *c[2:]) for name, c in convs.items()}
    # Float inputs first, in one pass over the float graph (its weights change only afterwards).
    x_float_all: dict[str, torch.Tensor] = {}

    def record(node: fx.Node, inputs) -> bool:
        if node.name in convs:
            x_float_all[node.name] = torch.cat([columns[node.name](x) for x in inputs()], dim=1)
        return False

    with torch.no_grad():
        _walk(float_graph, batches, record)
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
        _walk(sim, batches, refit_conv)
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
    # Without the refit the target rounds the original weights to their nearest int8 levels:
    # that, not the float weights, is what the refit must beat (on the image input of the first
    # conv the float weights see no input noise at all, yet their rounding costs ~0.8 8-bit² of
    # output noise on SPAN ch28).
    before = float((round_nearest(weight) @ x_quant + bias[:, None] - target).norm() / target.norm().clamp(min=1e-12))
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
