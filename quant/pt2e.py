"""The PT2E flow every integer target shares: export → exact rewrites → annotate → calibrate → convert.

A target brings its own quantiser (XNNPACK's, litert-torch's, CoreML's); this module wraps it
so that the recipe's range estimator is used for every activation, the layers the recipe keeps
in float are left unannotated, and the rewrites of :mod:`edge_sr.quant.passes` are applied and
checked first.  It also gives each quantisable op a stable *layer label*
(``<module path>/<op>[#n]``, e.g. ``block_2.c1_r.eval_conv/conv2d``) used by the sensitivity
analysis, the recipe's ``keep_float`` and the model contract.

Tensor contract of the graphs handled here: NCHW float32 RGB in [0, 1] in, NCHW float32 out.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from collections.abc import Iterable, Sequence

import torch
from torch import fx, nn

from edge_sr.errors import OptionError
from edge_sr.quant.passes import QUANT_PREPARE_FP32, split_concat_conv
from edge_sr.quant.ranges import RangeEstimatorObserver
from edge_sr.quant.recipe import Int8Recipe
from edge_sr.tolerances import Tolerance, verify_equivalent

ANNOTATION_KEY = "quantization_annotation"
QUANTISABLE_OPS = {
    "conv2d",
    "conv_transpose2d",
    "add",
    "sub",
    "mul",
    "sigmoid",
    "silu",
    "relu",
    "hardtanh",
    "prelu",
    "leaky_relu",
    "cat",
    "mean",
    "upsample_bilinear2d",
    "max_pool2d",
    "avg_pool2d",
    "pixel_shuffle",
}


FLOAT16_MAX = 65504.0
FLOAT16_WEIGHTS = Tolerance(
    name="float16-weights",
    atol=2.0**-25,
    rtol=2.0**-11,
    meaning="a float conv's weights rounded to float16 values vs the float32 weights: half a unit in the last place",
)
WEIGHTED_OPS = ("conv2d", "conv_transpose2d", "linear")


def op_name(node: fx.Node) -> str:
    """``aten.conv2d.default`` → ``conv2d``; ``aten.add_.Tensor`` → ``add``."""
    target = getattr(node.target, "_opname", None) or getattr(node.target, "__name__", str(node.target))
    return target.split(".")[0].rstrip("_")


def _module_path(node: fx.Node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return "<root>"
    path = list(stack.values())[-1][0]
    return path.replace("L['self'].", "").replace("L__self___", "") or "<root>"


def layer_labels(graph_module: fx.GraphModule) -> dict[str, str]:
    """Node name → layer label, for every quantisable compute node, in graph order."""
    labels: dict[str, str] = {}
    seen: dict[str, int] = {}
    for node in graph_module.graph.nodes:
        if node.op != "call_function" or op_name(node) not in QUANTISABLE_OPS:
            continue
        base = f"{_module_path(node)}/{op_name(node)}"
        seen[base] = seen.get(base, 0) + 1
        labels[node.name] = base if seen[base] == 1 else f"{base}#{seen[base]}"
    return labels


def export_for_quantization(
    module: nn.Module, sample: torch.Tensor, *, dynamic_shapes=None, check: torch.Tensor | None = None
) -> fx.GraphModule:
    """The ATen graph the quantisers annotate, with the exact rewrites applied and verified.

    ``sample``: NCHW float32 RGB in [0, 1] (any legal size).  ``check`` defaults to ``sample``.
    """
    # The exported module shares parameter storage with its source; refit and reconstruction
    # write into the graph, which must never reach the caller's module.
    source = copy.deepcopy(module)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph_module = torch.export.export(source, (sample,), dynamic_shapes=dynamic_shapes).module()
    split_concat_conv(graph_module)
    verify_equivalent(
        module, graph_module, sample if check is None else check, tolerance=QUANT_PREPARE_FP32,
        what="quantisation rewrites (split concat-conv)",
    )
    return graph_module


def _with_estimator(spec, recipe: Int8Recipe):
    """The recipe's range estimator for a per-tensor activation spec; other specs unchanged."""
    from torchao.quantization.pt2e.quantizer import QuantizationSpec

    if not isinstance(spec, QuantizationSpec) or spec.is_dynamic:
        return spec
    if spec.qscheme not in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        return spec
    observer = RangeEstimatorObserver.with_args(
        estimator=recipe.range_estimator, percentile=recipe.percentile, eps=2**-12
    )
    return dataclasses.replace(spec, observer_or_fake_quant_ctr=observer)


def attribute_owner(module: nn.Module, target: str) -> tuple[nn.Module, str]:
    """``(submodule, name)`` holding a ``get_attr`` target such as ``block_1.conv.weight``."""
    owner_path, _, name = target.rpartition(".")
    return (module.get_submodule(owner_path) if owner_path else module), name


def graph_tensor(module: nn.Module, target: str) -> torch.Tensor:
    """The tensor a ``get_attr`` node of ``module`` reads."""
    return getattr(*attribute_owner(module, target))


def _is_weight(node: fx.Node) -> bool:
    return node.op == "get_attr"


def _on_image_grid(spec):
    """A spec fixed to the 8-bit image grid ([0, 1] in 255 steps) in ``spec``'s integer type."""
    from torchao.quantization.pt2e.quantizer import FixedQParamsQuantizationSpec, QuantizationSpec

    if not isinstance(spec, QuantizationSpec) or spec.is_dynamic:
        return spec
    info = torch.iinfo(spec.dtype)
    low = info.min if spec.quant_min is None else spec.quant_min
    high = info.max if spec.quant_max is None else spec.quant_max
    if high - low != 255:
        return spec
    return FixedQParamsQuantizationSpec(
        dtype=spec.dtype, scale=1.0 / 255.0, zero_point=low, quant_min=low, quant_max=high,
        qscheme=torch.per_tensor_affine,
    )


VALUE_MOVING_OPS = frozenset({
    "pixel_shuffle", "view", "_unsafe_view", "reshape", "permute", "transpose", "clone", "contiguous",
    "squeeze", "unsqueeze", "flatten", "alias", "detach",
})
"""Ops that rearrange values without computing new ones: the output grid may be pinned through them."""


def _pin_image_grid(model: fx.GraphModule) -> None:
    """Quantise the graph's image input and image output on the 8-bit image grid.

    Input: every consumer's spec for a placeholder.  Output: the last annotated producer of the
    output, found by walking back through ops that only move values (pixel shuffle, views).  The
    walk stops at anything that computes: when the last conv is kept in float, the output is
    float and nothing upstream may be pinned to [0, 1].
    """
    for node in model.graph.nodes:
        annotation = node.meta.get(ANNOTATION_KEY)
        if annotation is None:
            continue
        for source in list(annotation.input_qspec_map):
            if source.op == "placeholder":
                annotation.input_qspec_map[source] = _on_image_grid(annotation.input_qspec_map[source])
    output = next(node for node in model.graph.nodes if node.op == "output")
    producer = output.args[0][0] if isinstance(output.args[0], (tuple, list)) else output.args[0]
    while isinstance(producer, fx.Node) and producer.op == "call_function":
        annotation = producer.meta.get(ANNOTATION_KEY)
        if annotation is not None and annotation.output_qspec is not None and not _is_shared(annotation.output_qspec):
            annotation.output_qspec = _on_image_grid(annotation.output_qspec)
            return
        if op_name(producer) not in VALUE_MOVING_OPS:
            return
        producer = producer.args[0] if producer.args and isinstance(producer.args[0], fx.Node) else None


ELEMENTWISE_OPS = ("add", "sub", "mul")


def _annotate_unclaimed_elementwise(model: fx.GraphModule, config) -> list[str]:
    """Quantise the inputs and output of every add/sub/mul the target's quantiser left alone.

    litert-torch's quantiser claims adds and muls by their ``source_fn_stack`` metadata, which
    ``torch.export`` no longer records, and the rewrites add nodes of their own; an unclaimed op
    whose producer is also unclaimed stays float through conversion (SPAN's first conv + border
    term, and the split concat conv: four float ADDs on full feature maps in a "full-integer"
    artifact).  Such an op gets the target's own activation specs; ``config`` is its global
    quantisation config (``input_activation`` / ``output_activation``).  Returns the node names.
    """
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation

    if config is None or config.input_activation is None:
        return []
    claimed = []
    for node in model.graph.nodes:
        if node.op != "call_function" or op_name(node) not in ELEMENTWISE_OPS or ANNOTATION_KEY in node.meta:
            continue
        activations = [a for a in node.args[:2] if isinstance(a, fx.Node) and not _is_weight(a)]
        if not activations:
            continue
        node.meta[ANNOTATION_KEY] = QuantizationAnnotation(
            input_qspec_map={a: config.input_activation for a in activations},
            output_qspec=config.output_activation, _annotated=True,
        )
        claimed.append(node.name)
    return claimed


def _is_shared(spec) -> bool:
    from torchao.quantization.pt2e.quantizer import SharedQuantizationSpec

    return isinstance(spec, SharedQuantizationSpec)


def RecipeQuantizer(inner, *, recipe: Int8Recipe, keep: Iterable[str]):
    """Wraps a target's PT2E quantiser so the recipe applies whatever the target's defaults are.

    After the target annotates: adds, subs and muls it did not claim are quantised with its own
    activation specs (:func:`_annotate_unclaimed_elementwise`); nodes named in ``keep`` lose every annotation and their
    weightless producers stop quantising their outputs, so a kept layer computes in float, on
    float inputs unless an integer conv produces them (XNNPACK and TFLite have no integer conv
    with a float output; one left in the graph fails to lower); what it outputs is quantised by
    its consumers as usual; per-tensor activation specs get the recipe's range
    estimator (weights keep the target's per-channel min/max, which reproduces on-grid weights
    exactly); with ``recipe.image_grid_io`` the image input and output use the fixed 8-bit
    image grid.  Built as a subclass of torchao's ``Quantizer`` on call, so importing this module
    does not import torchao.
    """
    from torchao.quantization.pt2e.quantizer import Quantizer

    class _RecipeQuantizer(Quantizer):
        def __init__(self) -> None:
            super().__init__()
            self.inner = inner
            self.recipe = recipe
            self.keep = frozenset(keep)

        def transform_for_annotation(self, model):
            return self.inner.transform_for_annotation(model)

        def annotate(self, model):
            model = self.inner.annotate(model)
            _annotate_unclaimed_elementwise(model, getattr(self.inner, "global_config", None))
            for node in model.graph.nodes:
                if node.name in self.keep:
                    node.meta.pop(ANNOTATION_KEY, None)
                    # Its inputs should reach it unquantised too: producers stop quantising their
                    # outputs (their other consumers still quantise what they read) — except
                    # integer convs, which integer backends run only with integer outputs.
                    for source in node.all_input_nodes:
                        annotation = source.meta.get(ANNOTATION_KEY)
                        if annotation is not None and not any(_is_weight(s) for s in annotation.input_qspec_map):
                            annotation.output_qspec = None
            for node in model.graph.nodes:
                annotation = node.meta.get(ANNOTATION_KEY)
                if annotation is None:
                    continue
                for source in list(annotation.input_qspec_map):
                    if not _is_weight(source):
                        annotation.input_qspec_map[source] = _with_estimator(annotation.input_qspec_map[source], recipe)
                annotation.output_qspec = _with_estimator(annotation.output_qspec, recipe)
            if recipe.image_grid_io:
                _pin_image_grid(model)
            return model

        def validate(self, model) -> None:
            self.inner.validate(model)

    return _RecipeQuantizer()


def float_weight_targets(prepared: fx.GraphModule) -> list[str]:
    """Attributes holding the weights of convs (and linears) the quantiser left in float: in a
    prepared graph a quantised weight reaches its op through an observer, a float one directly."""
    targets: list[str] = []
    for node in prepared.graph.nodes:
        if node.op != "call_function" or op_name(node) not in WEIGHTED_OPS or len(node.args) < 2:
            continue
        weight = node.args[1]
        if isinstance(weight, fx.Node) and weight.op == "get_attr" and weight.target not in targets:
            targets.append(weight.target)
    return targets


def round_float_weights(prepared: fx.GraphModule) -> None:
    """Round, in place, the float convs' weights (:func:`float_weight_targets`) to float16 values,
    held in their float32 tensors: what a target storing them as float16 computes with, so the
    simulation and every decision made on it see the artifact's weights.  Each tensor is checked
    against its source (:data:`FLOAT16_WEIGHTS`); one beyond float16's range stays as it is (the
    build report counts the tensors on the float16 grid)."""
    for target in float_weight_targets(prepared):
        tensor = graph_tensor(prepared, target)
        if not tensor.is_floating_point() or tensor.dtype == torch.float16 or float(tensor.detach().abs().max()) > FLOAT16_MAX:
            continue
        halved = tensor.detach().to(torch.float16).to(tensor.dtype)
        holds, diff, bound = FLOAT16_WEIGHTS.check(halved, tensor)
        if not holds:
            from edge_sr.errors import VerificationError

            raise VerificationError(f"float16 rounding of {target}: changed a weight by {diff:.3g} (tolerance {FLOAT16_WEIGHTS.name}: {bound:.3g})")
        tensor.data.copy_(halved)


def prepare_and_calibrate(
    graph_module: fx.GraphModule, quantizer, batches: Sequence[torch.Tensor]
) -> fx.GraphModule:
    """Observed graph after running every calibration batch (NCHW float32 RGB in [0, 1]).

    With the recipe's ``float_weights="fp16"`` the float convs' weights are rounded to float16
    values first (:func:`round_float_weights`), so calibration sees them as the artifact has them."""
    from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prepared = prepare_pt2e(copy.deepcopy(graph_module), quantizer)
    if quantizer.recipe.float_weights == "fp16":
        round_float_weights(prepared)
    with torch.no_grad():
        for batch in batches:
            prepared(batch.contiguous())
    # Settle every estimated range once, here: simulation and conversion copy the graph, and
    # each copy would otherwise repeat the search over the kept samples.
    for observer in prepared.modules():
        if isinstance(observer, RangeEstimatorObserver):
            observer.calculate_qparams()
    return prepared


def convert(prepared: fx.GraphModule, *, fold_quantize: bool = True) -> fx.GraphModule:
    """Quantize/dequantize graph (reference representation) from a calibrated graph.

    ``prepared`` is left as it is (``convert_pt2e`` rewrites its argument in place).
    """
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return convert_pt2e(copy.deepcopy(prepared), fold_quantize=fold_quantize)


def unquantised_by_target(prepared: fx.GraphModule, labels: dict[str, str], keep: Iterable[str]) -> list[str]:
    """Labels of the layers the target's quantiser did not annotate and the recipe did not keep:
    they take dequantised int8 values and their output is quantised by its consumers, so they
    compute in float (EFDN's PReLUs under both quantisers) unless the converter lowers the
    dequantise-op-quantise pattern to an integer kernel, as it may for data movement (pixel
    shuffle, pooling, resize).  ``keep``: node names kept in float on purpose."""
    kept = set(keep)
    return [
        label for node in prepared.graph.nodes
        if (label := labels.get(node.name)) is not None and node.name not in kept
        and op_name(node) != "cat" and ANNOTATION_KEY not in node.meta
    ]


def check_keep_float(labels: dict[str, str], keep_float: Iterable[str]) -> set[str]:
    """Node names for the recipe's ``keep_float`` labels; unknown labels are an error."""
    by_label = {label: node for node, label in labels.items()}
    unknown = [label for label in keep_float if label not in by_label]
    if unknown:
        raise OptionError(
            f"recipe keep_float: no layer {', '.join(map(repr, unknown))} in this graph "
            f"(layers: {', '.join(list(by_label)[:6])}, …; `edge-sr quantize MODEL --analyze` lists them)"
        )
    return {by_label[label] for label in keep_float}
