"""Exact graph rewrites on an exported (ATen) graph that make it quantise better.

Each pass keeps the fp32 function unchanged (checked by the caller against the source module
with ``QUANT_PREPARE_FP32``) and copies the replaced node's metadata (shapes, module stack) to
the new nodes, so quantisers annotate them as they would the original op.

``split_concat_conv``: ``conv(cat([a, b, c, d]))`` becomes ``conv_a(a) + conv_b(b) + ...`` with
the weight split along its input channels.  PT2E quantisers give a ``cat`` one scale shared by
all its inputs; SPAN concatenates a ±37 feature map with a [-0.3, 4.5] SiLU output, so the
shared scale erases the small branch (about 2.4 dB on Set14).  After the split each branch
keeps its own scale and only the partial sums are requantised.
"""

from __future__ import annotations

import torch
from torch import fx

from edge_sr.tolerances import Tolerance

aten = torch.ops.aten

QUANT_PREPARE_FP32 = Tolerance(
    name="quant-prepare-fp32",
    atol=1e-4,
    rtol=1e-6,
    meaning="exported graph after quantisation-friendly rewrites vs the deploy module, fp32",
)


def tensor_attr(graph_module: fx.GraphModule, target: str) -> torch.Tensor:
    """The tensor a ``get_attr`` node with this target reads."""
    owner_path, _, name = target.rpartition(".")
    owner = graph_module.get_submodule(owner_path) if owner_path else graph_module
    return getattr(owner, name)


def conv_arguments(node: fx.Node) -> list:
    """``aten.conv2d``'s seven arguments (input, weight, bias, stride, padding, dilation, groups),
    defaults filled in."""
    defaults = [None, None, None, [1, 1], [0, 0], [1, 1], 1]
    return list(node.args) + defaults[len(node.args) :]


def split_concat_conv(graph_module: fx.GraphModule) -> int:
    """Rewrite every channel-``cat`` that feeds only an ungrouped conv; returns the count."""
    rewritten = 0
    for node in list(graph_module.graph.nodes):
        if node.op != "call_function" or node.target != aten.conv2d.default:
            continue
        source, weight_node, bias, stride, padding, dilation, groups = conv_arguments(node)
        if not isinstance(source, fx.Node) or source.target != aten.cat.default or len(source.users) != 1:
            continue
        if (source.args[1] if len(source.args) > 1 else 0) not in (1, -3) or groups != 1:
            continue
        if weight_node.op != "get_attr":
            continue
        weight = tensor_attr(graph_module, weight_node.target)
        start, total = 0, None
        with graph_module.graph.inserting_before(node):
            for index, part in enumerate(source.args[0]):
                channels = part.meta["val"].shape[1]
                attr = f"{weight_node.target.replace('.', '_')}_split{index}"
                graph_module.register_buffer(attr, weight[:, start : start + channels].detach().clone().contiguous())
                start += channels
                part_weight = graph_module.graph.get_attr(attr)
                part_weight.meta = dict(weight_node.meta)
                if "val" in weight_node.meta:
                    part_weight.meta["val"] = getattr(graph_module, attr)
                conv = graph_module.graph.call_function(
                    aten.conv2d.default,
                    (part, part_weight, bias if index == 0 else None, stride, padding, dilation, 1),
                )
                conv.meta = dict(node.meta)
                if total is None:
                    total = conv
                else:
                    total = graph_module.graph.call_function(aten.add.Tensor, (total, conv))
                    total.meta = dict(node.meta)
        node.replace_all_uses_with(total)
        graph_module.graph.erase_node(node)
        graph_module.graph.erase_node(source)
        rewritten += 1
    if rewritten:
        graph_module.graph.eliminate_dead_code()
        graph_module.recompile()
    return rewritten


def decompose_silu(graph_module: fx.GraphModule) -> int:
    """``silu(x)`` → ``x * sigmoid(x)``, for quantisers that annotate sigmoid and mul but not SiLU
    (litert-torch's leaves SiLU as a float island between DEQUANTIZE and QUANTIZE)."""
    rewritten = 0
    for node in list(graph_module.graph.nodes):
        if node.op != "call_function" or node.target not in (aten.silu.default, aten.silu_.default):
            continue
        with graph_module.graph.inserting_before(node):
            gate = graph_module.graph.call_function(aten.sigmoid.default, (node.args[0],))
            gate.meta = dict(node.meta)
            product = graph_module.graph.call_function(aten.mul.Tensor, (node.args[0], gate))
            product.meta = dict(node.meta)
        node.replace_all_uses_with(product)
        graph_module.graph.erase_node(node)
        rewritten += 1
    if rewritten:
        graph_module.recompile()
    return rewritten
