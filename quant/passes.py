"""Exact graph rewrites on an exported (ATen) graph that make it quantise better.

Each pass keeps the fp32 function unchanged (checked by the caller against the source module
with ``QUANT_PREPARE_FP32``) and copies the replaced node's metadata (shapes, module stack) to
the new nodes, so quantisers annotate them as they would the original op.

``split_concat_conv``: ``conv(cat([a, b, c, d]))`` becomes ``conv_a(a) + conv_b(b) + ...`` with
the weight split along its input channels.  PT2E quantisers give a ``cat`` one scale shared by
all its inputs; SPAN concatenates a ±37 feature map with a [-0.3, 4.5] SiLU output, so the
shared scale erases the small branch (about 2.4 dB on Set14).  After the split each branch
keeps its own scale and only the partial sums are requantised.

``compose_pointwise_convs``: a 1×1 conv reading a conv's output (or a sum of convs' outputs)
becomes one conv per term with the composed kernel, ``P(C(x)) = (P∘C)(x)``, exact at every
border because a 1×1 conv pads nothing.  The tensor between them is then never quantised.  In
SPAN that tensor is ``conv_1``'s output (the image's intensity, carried by the long skip into
``conv_cat``) and ``conv_2``'s; composed, the skip's partial sum reads the 8-bit input itself.
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


def _stored_tensor(graph_module: fx.GraphModule, attr: str, value: torch.Tensor, *, like: fx.Node) -> fx.Node:
    """Register ``value`` as buffer ``attr`` and return a ``get_attr`` node for it, with the
    metadata of ``like`` (the weight node it replaces)."""
    graph_module.register_buffer(attr, value)
    node = graph_module.graph.get_attr(attr)
    node.meta = {**like.meta, "val": getattr(graph_module, attr)}
    return node


def _add_term(graph_module: fx.GraphModule, total: fx.Node | None, term: fx.Node, *, like: fx.Node) -> fx.Node:
    """``total + term`` (or ``term`` first), both new nodes carrying the metadata of ``like``, the
    node the sum replaces."""
    term.meta = dict(like.meta)
    if total is None:
        return term
    total = graph_module.graph.call_function(aten.add.Tensor, (total, term))
    total.meta = dict(like.meta)
    return total


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
                part_weight = _stored_tensor(
                    graph_module, f"{weight_node.target.replace('.', '_')}_split{index}",
                    weight[:, start : start + channels].detach().clone().contiguous(), like=weight_node,
                )
                start += channels
                conv = graph_module.graph.call_function(
                    aten.conv2d.default,
                    (part, part_weight, bias if index == 0 else None, stride, padding, dilation, 1),
                )
                total = _add_term(graph_module, total, conv, like=node)
        node.replace_all_uses_with(total)
        graph_module.graph.erase_node(node)
        graph_module.graph.erase_node(source)
        rewritten += 1
    if rewritten:
        graph_module.graph.eliminate_dead_code()
        graph_module.recompile()
    return rewritten


MAX_COMPOSED_WORK = 1.5
"""A composition may cost at most this many times the multiply-adds (and weights) it replaces:
the 1×1 conv, plus producers that only fed it.  SPAN's ``conv_1`` composes at 1.3× (its border
term adds a 1-channel conv; ``conv_2``'s composition saves more: SPAN ch28 has 560 weights fewer
in all) and DSCF's at 1.4× (260 weights more, 0.2 %).  EFDN's 1×1 convs over sums of two 1×1
convs would cost 2×: in simulation they took Set14 / Urban100 another 0.008 / 0.003 dB lower, but added
7,200 weights to EFDN x2, whose all-integer LiteRT file would then pass 30 % of the fp32 one."""


def _stored_conv(node: fx.Node) -> bool:
    """An ungrouped conv whose weight (and bias, if any) are stored tensors."""
    if node.op != "call_function" or node.target != aten.conv2d.default:
        return False
    _source, weight_node, bias_node, _stride, _padding, _dilation, groups = conv_arguments(node)
    return groups == 1 and weight_node.op == "get_attr" and (
        not isinstance(bias_node, fx.Node) or bias_node.op == "get_attr"
    )


def _pointwise_conv(graph_module: fx.GraphModule, node: fx.Node) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """``(weight [O, M], bias [O] or None)`` in float64 if ``node`` is a stored ungrouped 1×1
    conv with stride 1 and no padding; else None."""
    if not _stored_conv(node):
        return None
    _source, weight_node, bias_node, stride, padding, dilation, _groups = conv_arguments(node)
    weight = tensor_attr(graph_module, weight_node.target)
    if tuple(weight.shape[2:]) != (1, 1) or list(stride) != [1, 1] or list(dilation) != [1, 1] or any(padding):
        return None
    bias = tensor_attr(graph_module, bias_node.target).double() if isinstance(bias_node, fx.Node) else None
    return weight[:, :, 0, 0].double(), bias


def _conv_terms(node: fx.Node) -> tuple[list[fx.Node], list[fx.Node]] | None:
    """``(convs, adds)`` if ``node`` is a stored conv or a tree of plain adds of them; else None."""
    if _stored_conv(node):
        return [node], []
    if node.op == "call_function" and node.target == aten.add.Tensor and len(node.args) == 2 and not node.kwargs:
        parts = [_conv_terms(arg) if isinstance(arg, fx.Node) else None for arg in node.args]
        if all(part is not None for part in parts):
            return [c for convs, _ in parts for c in convs], [node] + [a for _, adds in parts for a in adds]
    return None


def compose_pointwise_convs(graph_module: fx.GraphModule) -> int:
    """Compose every 1×1 conv with the conv(s) whose sum it reads, where that costs at most
    ``MAX_COMPOSED_WORK`` times the work it replaces; returns the count."""
    rewritten = 0
    for node in list(graph_module.graph.nodes):
        pointwise = _pointwise_conv(graph_module, node)
        if pointwise is None or not isinstance(node.args[0], fx.Node):
            continue
        found = _conv_terms(node.args[0])
        if found is None:
            continue
        weight, bias = pointwise
        convs, adds = found
        # Producers that only fed this 1×1 conv disappear with it.
        private = all(set(n.users) <= {node, *adds} for n in adds)
        kernels = [tensor_attr(graph_module, conv_arguments(conv)[1].target).double() for conv in convs]
        replaced = weight.numel() + sum(k.numel() for conv, k in zip(convs, kernels) if private and len(conv.users) == 1)
        composed = sum(weight.shape[0] * k[0].numel() for k in kernels)
        if composed > MAX_COMPOSED_WORK * replaced:
            continue
        total = None
        with graph_module.graph.inserting_before(node):
            for index, (conv, kernel) in enumerate(zip(convs, kernels)):
                source, _weight, conv_bias, stride, padding, dilation, _groups = conv_arguments(conv)
                term_bias = weight @ tensor_attr(graph_module, conv_bias.target).double() if isinstance(conv_bias, fx.Node) else None
                if index == 0 and bias is not None:
                    term_bias = bias if term_bias is None else term_bias + bias
                attrs = [
                    None if value is None else _stored_tensor(
                        graph_module, f"{node.name}_composed{index}_{kind}", value.float().contiguous(), like=conv_arguments(node)[1],
                    )
                    for kind, value in (("weight", torch.einsum("om,mikl->oikl", weight, kernel)), ("bias", term_bias))
                ]
                term = graph_module.graph.call_function(
                    aten.conv2d.default, (source, attrs[0], attrs[1], stride, padding, dilation, 1)
                )
                total = _add_term(graph_module, total, term, like=node)
        node.replace_all_uses_with(total)
        graph_module.graph.erase_node(node)
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
