"""Exact per-channel rescaling of activation regions: cross-layer equalisation, generalised.

Per-tensor int8 activations give every channel of a tensor the same step, so a channel whose
values span ±1 in a tensor that spans ±40 keeps about three levels.  SPAN's residual stream is
such a tensor (its channels' ranges differ 50×), and so are the partial sums of the split
``conv_cat``.  Rescaling the channels so they share one range, and undoing the scale where the
values are consumed, changes nothing in real arithmetic and gives every channel the whole
8-bit range.

A *region* is a set of tensors (NCHW, one channel count) that carry one per-channel scale
``s > 0`` together.  It is grown from conv outputs through the ops that are linear in the
scaled operand: ``add`` / ``sub`` of two region tensors, and ``mul`` of a region tensor by a
tensor outside every region (SPAN's attention gate).  Where the scale comes from and where it
goes:

- every member is produced by a conv, whose output channels absorb ``s`` (weights and bias
  × ``s``), or by a joining op;
- every conv consuming a member absorbs ``1/s`` in its input channels;
- every other consumer (a sigmoid, a SiLU, a mul by another region's tensor) gets the unscaled
  tensor back from an inserted depthwise 1×1 conv with weights ``1/s``: a one-tap per-channel
  weight sits exactly on any int8 per-channel grid, and the op costs C multiplies per pixel.

A region is rescaled when all its consumers are convs (the classic case), or when it contains a
join (a residual stream): there the unscaling convs cost one requantisation each, against a
finer step for every joined tensor.  A lone conv output feeding a non-linear op is left alone:
its unscaled copy would be quantised per tensor again.  Regions touching the graph's inputs or
outputs, shared weights or anything else are left alone too.

``s`` is fitted to the per-channel robust ranges (99.99th percentile of |x| on the calibration
crops) of all the region's tensors at once, minimising the mean quantisation step each channel
gets relative to its own range (:func:`_scales`).
The caller checks the rewritten graph against its source (:data:`EQUALIZE_FP32`).

Tensor contract: the graph takes NCHW float32 RGB in [0, 1]; statistics come from calibration
crops of that form.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import fx

from edge_sr.quant.passes import conv_arguments, tensor_attr
from edge_sr.tolerances import Tolerance

aten = torch.ops.aten

EQUALIZE_FP32 = Tolerance(
    name="quant-equalize-fp32",
    atol=3e-4,
    rtol=1e-6,
    meaning="exported graph after per-channel activation equalisation vs the deploy module, fp32",
)
"""Exact in real arithmetic; what is left is float32: the rescaled weights are rounded to
float32 (8e-6 at the output of SPAN ch28 computed in float64) and both networks compute with
features up to ±40 in float32 (0.7–1.3e-4 measured on random inputs, 0.08 of an 8-bit step)."""
RANGE_QUANTILE = 0.9999
SAMPLES_PER_CHANNEL = 1 << 15
MAX_SCALE_RATIO = 256.0
"""Scales are clamped to [1/ratio, ratio] around their geometric mean: a nearly dead channel is
not blown up to the range of the live ones (its consumers' weights would shrink off their grid)."""

CONV = aten.conv2d.default
JOINS = {aten.add.Tensor, aten.sub.Tensor}
GATES = {aten.mul.Tensor}


@dataclass
class Region:
    """Tensors (graph nodes) that carry one per-channel scale, and how it enters and leaves."""

    members: list[fx.Node] = field(default_factory=list)
    producers: list[fx.Node] = field(default_factory=list)
    """Convs whose outputs are members: their output channels absorb ``s``."""
    conv_consumers: list[tuple[fx.Node, fx.Node]] = field(default_factory=list)
    """``(conv, member)``: the conv reads the member as its input; input channels absorb ``1/s``."""
    unscaled_uses: list[tuple[fx.Node, fx.Node]] = field(default_factory=list)
    """``(user, member)``: the user needs the unscaled member (through a depthwise conv)."""
    joined: bool = False
    feasible: bool = True
    reason: str = ""


@dataclass(frozen=True)
class EqualizationReport:
    """Per rescaled region: its member count, unscaling convs inserted, and the spread of the
    channel ranges before and after (max / median of each member's per-channel robust range,
    the worst member)."""

    regions: list[dict]

    def as_dict(self) -> dict[str, object]:
        return {"regions": self.regions}


def _channels(node: fx.Node) -> int | None:
    value = node.meta.get("val")
    if not isinstance(value, torch.Tensor) or value.dim() != 4:
        return None
    return int(value.shape[1])


def _same_shape(a: fx.Node, b: fx.Node) -> bool:
    va, vb = a.meta.get("val"), b.meta.get("val")
    return isinstance(va, torch.Tensor) and isinstance(vb, torch.Tensor) and tuple(va.shape) == tuple(vb.shape)


def _is_conv(node: fx.Node) -> bool:
    return node.op == "call_function" and node.target == CONV


def _joins(node: fx.Node) -> list[fx.Node]:
    """The tensors an op ties to its output's scale (empty: the op does not propagate a scale)."""
    if node.op != "call_function":
        return []
    if node.target in JOINS and len(node.args) == 2 and all(isinstance(a, fx.Node) for a in node.args):
        if node.kwargs.get("alpha", 1) == 1 and all(_same_shape(a, node) for a in node.args):
            return list(node.args)
    if node.target in GATES and len(node.args) == 2 and all(isinstance(a, fx.Node) for a in node.args):
        scaled = [a for a in node.args if _same_shape(a, node) and _scalable(a)]
        if len(scaled) == 1 and not _scalable(next(a for a in node.args if a is not scaled[0])):
            return scaled
    return []


def _scalable(node: fx.Node) -> bool:
    """Whether a tensor could carry a scale at all: a conv output, or an op joining scalable
    tensors (an add of a tensor and a constant, say, cannot)."""
    return _is_conv(node) or bool(_joins(node))


def find_regions(graph_module: fx.GraphModule) -> list[Region]:
    """Every region of the graph, feasible or not (``reason`` says why not)."""
    nodes = [n for n in graph_module.graph.nodes if n.op == "call_function" and _channels(n) and _scalable(n)]
    parent = {n: n for n in nodes}

    def root(n: fx.Node) -> fx.Node:
        while parent[n] is not n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    joining = set()
    for node in nodes:
        tied = _joins(node)
        if not tied:
            continue
        joining.add(node)
        for other in tied:
            if other in parent:
                parent[root(other)] = root(node)
    groups: dict[fx.Node, Region] = {}
    for node in nodes:
        groups.setdefault(root(node), Region()).members.append(node)
    weight_uses: dict[str, int] = {}
    for node in graph_module.graph.nodes:
        if _is_conv(node):
            for argument in conv_arguments(node)[1:3]:
                if isinstance(argument, fx.Node):
                    weight_uses[argument.target] = weight_uses.get(argument.target, 0) + 1

    def own_constant(node) -> bool:
        # Rescaling a constant another conv also reads would change that conv too.
        return isinstance(node, fx.Node) and node.op == "get_attr" and weight_uses.get(node.target, 0) == 1

    regions = list(groups.values())
    for region in regions:
        members = set(region.members)
        channels = {_channels(m) for m in members}
        if len(channels) != 1:
            region.feasible, region.reason = False, "members differ in channel count"
            continue
        for member in region.members:
            if member in joining:
                region.joined = True
                if any(a not in members for a in _joins(member)):
                    region.feasible, region.reason = False, f"{member.name} joins a tensor that cannot carry a scale"
            elif _is_conv(member):
                region.producers.append(member)
                weight, bias = conv_arguments(member)[1:3]
                if not own_constant(weight):
                    region.feasible, region.reason = False, f"{member.name}: weights not a constant of its own"
                if bias is not None and not own_constant(bias):
                    region.feasible, region.reason = False, f"{member.name}: bias not a constant of its own"
            else:
                region.feasible, region.reason = False, f"{member.name} is computed by {member.target}, which cannot absorb a scale"
            for user in member.users:
                if user in members and member in _joins(user):
                    continue
                if _is_conv(user) and user.args[0] is member and member not in user.args[1:]:
                    if not own_constant(conv_arguments(user)[1]):
                        region.feasible, region.reason = False, f"{user.name}: weights not a constant of its own"
                    region.conv_consumers.append((user, member))
                elif user.op == "output":
                    region.feasible, region.reason = False, f"{member.name} is a graph output"
                else:
                    region.unscaled_uses.append((user, member))
        if region.feasible and region.unscaled_uses and not region.joined:
            region.feasible, region.reason = False, "a lone conv output read by an op that needs it unscaled"
        if region.feasible and not region.conv_consumers and not region.joined:
            region.feasible, region.reason = False, "nothing consumes it linearly"
    return regions


def _channel_ranges(graph_module: fx.GraphModule, members: list[fx.Node], batches: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per member, the per-channel robust range (quantile of |x|) over the calibration batches."""
    wanted = {m.name for m in members}
    samples: dict[str, list[torch.Tensor]] = {name: [] for name in wanted}

    class Recorder(fx.Interpreter):
        def run_node(self, node):
            value = super().run_node(node)
            if node.name in wanted:
                flat = value.detach().abs().transpose(0, 1).reshape(value.shape[1], -1)
                stride = max(1, math.ceil(flat.shape[1] * len(batches) / SAMPLES_PER_CHANNEL))
                samples[node.name].append(flat[:, ::stride].float())
            return value

    with torch.no_grad():
        for batch in batches:
            Recorder(graph_module).run(batch)
    return {
        name: torch.quantile(torch.cat(parts, dim=1), RANGE_QUANTILE, dim=1).double()
        for name, parts in samples.items()
    }


def _scales(ranges: list[torch.Tensor]) -> torch.Tensor:
    """One scale per channel for tensors with these per-channel ranges.

    Each tensor is quantised with one step, set by its largest scaled channel; a channel's
    step relative to its own range is ``max_c'(s_c' r_c') / (s_c r_c)``.  The scales minimise
    the mean over tensors of the log of the summed squares of those ratios (for one tensor:
    every channel at one range, ``s = 1/r``), normalised to a geometric mean of 1 and clamped to
    ``MAX_SCALE_RATIO`` around it.  Dead channels keep 1.
    """
    stacked = torch.stack(ranges)
    live = stacked.amax(dim=0) > 1e-6 * float(stacked.max().clamp(min=1e-30))
    log_range = stacked[:, live].clamp(min=1e-30).log()
    log_scale = (-log_range.mean(dim=0)).clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([log_scale], max_iter=200, line_search_fn="strong_wolfe")
    sharpness = 50.0  # the smooth maximum's temperature (log units): within ~2 % of the max

    def objective():
        optimizer.zero_grad()
        scaled = log_scale[None] + log_range
        step = torch.logsumexp(sharpness * scaled, dim=1, keepdim=True) / sharpness
        loss = torch.logsumexp(2 * (step - scaled), dim=1).mean()
        loss.backward()
        return loss

    optimizer.step(objective)
    result = torch.zeros(stacked.shape[1], dtype=torch.float64)
    with torch.no_grad():
        centred = log_scale - log_scale.mean()
        bound = math.log(MAX_SCALE_RATIO)
        result[live] = centred.clamp(-bound, bound)
    return result.exp()


def _spread(ranges: torch.Tensor) -> float:
    return float(ranges.max() / ranges.median().clamp(min=1e-30))


def equalize_activations(graph_module: fx.GraphModule, batches: Sequence[torch.Tensor]) -> EqualizationReport:
    """Rescale every feasible region of ``graph_module`` in place (weights, biases, inserted
    depthwise convs); returns what was done.  ``batches``: NCHW float32 RGB [0, 1] crops."""
    regions = [r for r in find_regions(graph_module) if r.feasible]
    if not regions:
        return EqualizationReport(regions=[])
    ranges = _channel_ranges(graph_module, [m for r in regions for m in r.members], batches)
    done = []
    for index, region in enumerate(regions):
        member_ranges = [ranges[m.name] for m in region.members]
        scale = _scales(member_ranges)
        for conv in region.producers:
            weight, bias = conv_arguments(conv)[1:3]
            w = tensor_attr(graph_module, weight.target)
            w.data.copy_((w.double() * scale.view(-1, 1, 1, 1)).to(w.dtype))
            if isinstance(bias, fx.Node):
                b = tensor_attr(graph_module, bias.target)
                b.data.copy_((b.double() * scale).to(b.dtype))
        for conv, _member in region.conv_consumers:
            _absorb_input_scale(graph_module, conv, scale)
        needs_unscaling: dict[fx.Node, list[fx.Node]] = {}
        for user, member in region.unscaled_uses:
            needs_unscaling.setdefault(member, []).append(user)
        for number, (member, users) in enumerate(needs_unscaling.items()):
            _insert_unscale(graph_module, users, member, scale, name=f"equalize_r{index}_u{number}")
        after = [r * scale for r in member_ranges]
        done.append({
            "members": [m.name for m in region.members],
            "unscaling_convs": len(needs_unscaling),
            "channel_spread_before": round(max(_spread(r) for r in member_ranges), 2),
            "channel_spread_after": round(max(_spread(r) for r in after), 2),
        })
    graph_module.graph.lint()
    graph_module.recompile()
    return EqualizationReport(regions=done)


def _absorb_input_scale(graph_module: fx.GraphModule, conv: fx.Node, scale: torch.Tensor) -> None:
    """Divide ``conv``'s weights by ``scale`` along its input channels (any group count)."""
    weight_node, groups = conv_arguments(conv)[1], conv_arguments(conv)[6]
    w = tensor_attr(graph_module, weight_node.target)
    out_channels, in_per_group = w.shape[0], w.shape[1]
    out_per_group = out_channels // groups
    factors = torch.empty(out_channels, in_per_group, dtype=torch.float64)
    for group in range(groups):
        factors[group * out_per_group : (group + 1) * out_per_group] = scale[group * in_per_group : (group + 1) * in_per_group]
    w.data.copy_((w.double() / factors[:, :, None, None]).to(w.dtype))


def _insert_unscale(graph_module: fx.GraphModule, users: list[fx.Node], member: fx.Node, scale: torch.Tensor, *, name: str) -> None:
    """Feed ``users`` ``member / scale`` through one depthwise 1×1 conv instead of ``member``."""
    channels = scale.numel()
    graph_module.register_buffer(name, (1.0 / scale).float().view(channels, 1, 1, 1).contiguous())
    with graph_module.graph.inserting_after(member):
        weight = graph_module.graph.get_attr(name)
    with graph_module.graph.inserting_after(weight):
        unscaled = graph_module.graph.call_function(CONV, (member, weight, None, [1, 1], [0, 0], [1, 1], channels))
    weight.meta["val"] = getattr(graph_module, name)
    # Shape of the member; layer label (module path) of the op that needed it.
    unscaled.meta = {"val": member.meta["val"], "nn_module_stack": users[0].meta.get("nn_module_stack", {})}
    for user in users:
        user.replace_input_with(member, unscaled)
