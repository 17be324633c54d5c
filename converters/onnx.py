"""ONNX (opset 17, simplified with onnxsim), run with onnxruntime's CPU provider."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edge_sr.converters.base import (
    FLOAT16_MIN_SAVED_BYTES, SDK, Converter, ExportFacts, Runner, check_float16_storage, from_layout, to_layout,
)
from edge_sr.converters.contract import INPUT_NAME, OUTPUT_NAME
from edge_sr.converters.spec import ExportSpec
from edge_sr.tolerances import Tolerance

OPSET = 17
INT8_OPSET = 18
"""The dynamo exporter writes per-channel QuantizeLinear/DequantizeLinear from opset 13; it emits 18."""


def constant_tensors(model) -> dict[str, Any]:
    """Name → ``TensorProto`` of every constant: initializers and ``Constant`` nodes' values
    (the dynamo exporter writes some zero points as the latter)."""
    constants = {tensor.name: tensor for tensor in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            constants.update({node.output[0]: a.t for a in node.attribute if a.name == "value"})
    return constants


WEIGHT_READERS = {"Conv": 1, "ConvTranspose": 1, "Gemm": 1, "MatMul": 1}
"""Op type → the input that takes its weight: a ``DequantizeLinear`` there dequantises weights."""

INT8_WEIGHTS_EXACT = Tolerance(
    name="onnx-int8-weights-exact",
    atol=0.0,
    rtol=0.0,
    meaning="the QDQ artifact with int8 weights (uint8 x int8 kernels) vs the same graph with uint8 weights (uint8 x uint8), onnxruntime",
)
"""onnxruntime's uint8 × int8 kernels on x86 without VNNI (AVX2's VPMADDUBSW) add two products in
int16, which can saturate; uint8 × uint8 takes a path that cannot.  Where they agree the faster
artifact ships."""


def _weight_dequantizers(model) -> set[str]:
    """Outputs of the ``DequantizeLinear`` nodes that feed a weight input (:data:`WEIGHT_READERS`),
    and of any ``QuantizeLinear`` feeding one of those (weights left unfolded)."""
    weights = {node.input[WEIGHT_READERS[node.op_type]] for node in model.graph.node
               if node.op_type in WEIGHT_READERS and len(node.input) > WEIGHT_READERS[node.op_type]}
    dequantizers = [node for node in model.graph.node if node.op_type == "DequantizeLinear" and node.output[0] in weights]
    return weights | {node.input[0] for node in dequantizers}


def _qdq_int8_to_uint8(model, *, weights: bool) -> int:
    """Rewrite the int8 quantised tensors of a QDQ graph as uint8 (values and zero points + 128):
    every one with ``weights``, else the activations' only (weights stay int8).

    Exact: ``(q + 128) - (z + 128) = q - z``.  Why: onnxruntime fuses QDQ into integer kernels,
    and on x86 CPUs without VNNI its int8-activation kernels multiply in int16 pairs that
    saturate (measured on an AVX2-only EPYC: int8 × int8 took SPAN ch28 to 39.9 dB against the
    PyTorch quantised graph instead of 45.9 dB, and ran 1.7× slower).  uint8 activations × int8
    weights is onnxruntime's own default and its fast path: SPAN ch28 at 256² on one thread ran
    177 ms against 433 ms for uint8 × uint8, with output identical to the bit on all four
    benchmarks and flat colours.  Its pairs can still saturate on such CPUs, so the converter
    checks it against uint8 × uint8 (:data:`INT8_WEIGHTS_EXACT`).  A zero point shared by a
    weight and an activation is split in two.  Returns the number of tensors rewritten.
    """
    from onnx import numpy_helper

    constants = constant_tensors(model)
    weight_outputs = set() if weights else _weight_dequantizers(model)
    kept = {name for node in model.graph.node if node.op_type == "DequantizeLinear" and node.output[0] in weight_outputs
            for name in node.input[0:3:2]}
    shifted = 0
    for node in model.graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear") or node.output[0] in weight_outputs:
            continue
        for position in ([2] if node.op_type == "QuantizeLinear" else [0, 2]):
            name = node.input[position] if position < len(node.input) else ""
            if name not in constants:
                continue
            values = numpy_helper.to_array(constants[name])
            if values.dtype != np.int8:
                continue
            shifted_values = (values.astype(np.int16) + 128).astype(np.uint8)
            if name in kept:
                # The weight keeps this tensor as int8; the activation gets a shifted copy.
                node.input[position] = name = f"{name}_uint8"
                if name in constants:
                    continue
                constants[name] = numpy_helper.from_array(shifted_values, name)
                model.graph.initializer.append(constants[name])
            else:
                constants[name].CopyFrom(numpy_helper.from_array(shifted_values, name))
            shifted += 1
    return shifted


def _store_float16_exact_weights(model) -> dict[str, int]:
    """Store each float Conv's, ConvTranspose's or Gemm's float32 weight initializer whose
    values are all float16 values as a float16 initializer behind a ``Cast`` to float32, under
    the weight's old name.  Bit-exact, since every value converts back unchanged (onnxruntime
    folds the Cast once, at load); weights off the grid are left as they are.  The build puts
    them on it (``Int8Recipe.float_weights="fp16"``).  Returns how many and the bytes saved."""
    from onnx import TensorProto, helper, numpy_helper

    initializers = {tensor.name: tensor for tensor in model.graph.initializer}
    casts, stored, saved = [], 0, 0
    for node in model.graph.node:
        if node.op_type not in ("Conv", "ConvTranspose", "Gemm") or len(node.input) < 2:
            continue
        tensor = initializers.get(node.input[1])
        if tensor is None or tensor.data_type != TensorProto.FLOAT:
            continue
        values = numpy_helper.to_array(tensor)
        halved = values.astype(np.float16)
        if values.nbytes - halved.nbytes < FLOAT16_MIN_SAVED_BYTES or not np.array_equal(halved.astype(np.float32), values):
            continue
        source = f"{tensor.name}_float16"
        model.graph.initializer.remove(tensor)
        model.graph.initializer.append(numpy_helper.from_array(halved, source))
        casts.append(helper.make_node("Cast", [source], [tensor.name], to=TensorProto.FLOAT))
        del initializers[tensor.name]
        stored += 1
        saved += values.nbytes - halved.nbytes
    # Constants first, so the graph stays in topological order.
    for position, cast in enumerate(casts):
        model.graph.node.insert(position, cast)
    return {"tensors": stored, "bytes_saved": saved}


class ONNXConverter(Converter):
    name = "onnx"
    suffix = ".onnx"
    title = "ONNX"
    sdks = (SDK("onnx", "onnx"), SDK("onnxsim", "onnxsim"), SDK("onnxruntime", "onnxruntime"))
    runtime_name = "onnxruntime"
    int8_shape_kinds = ("fixed", "dynamic")

    def export_int8(self, build: Any, spec: ExportSpec, path: Path, *, sample: torch.Tensor) -> ExportFacts:
        import onnx

        dynamic = None
        if spec.shape.kind == "dynamic":
            height = torch.export.Dim("height", min=spec.shape.min_size, max=spec.shape.max_size)
            width = torch.export.Dim("width", min=spec.shape.min_size, max=spec.shape.max_size)
            dynamic = ({2: height, 3: width},)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exported = torch.export.export(build.converted, (sample,), dynamic_shapes=dynamic)
            program = torch.onnx.export(
                exported, dynamo=True, opset_version=INT8_OPSET, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                verbose=False,
            )
        program.save(str(path))
        model = onnx.load(str(path))
        # The dynamo exporter records a stack trace and shape per node: half the file at int8.
        for node in model.graph.node:
            node.doc_string = ""
            del node.metadata_props[:]
        del model.graph.value_info[:]
        uint8_weights_model = onnx.ModelProto()
        uint8_weights_model.CopyFrom(model)
        shifted_with_weights = _qdq_int8_to_uint8(uint8_weights_model, weights=True)
        shifted = _qdq_int8_to_uint8(model, weights=False)
        uint8_weights = path.with_name(path.name + ".uint8-weights")
        reference = path.with_name(path.name + ".float32-weights")
        notes: list[str] = []
        try:
            onnx.save(model, str(path))
            onnx.save(uint8_weights_model, str(uint8_weights))
            holds, diff, bound = INT8_WEIGHTS_EXACT.check(self.runner(path, spec)(sample), self.runner(uint8_weights, spec)(sample))
            weights = "int8"
            if not holds:
                model, shifted, weights = uint8_weights_model, shifted_with_weights, "uint8"
                notes.append(
                    f"weights written as uint8: onnxruntime's uint8 x int8 kernels moved the output by {diff:.3g} on this CPU "
                    f"(tolerance {INT8_WEIGHTS_EXACT.name}: {bound:g}), saturating; uint8 x uint8 is exact and slower"
                )
            onnx.save(model, str(reference))
            float16 = _store_float16_exact_weights(model)
            onnx.save(model, str(path))
            onnx.checker.check_model(str(path))
            if float16["tensors"]:
                float16["max_abs_diff"] = check_float16_storage(
                    self.runner(path, spec), self.runner(reference, spec), sample, path=path,
                )
        finally:
            reference.unlink(missing_ok=True)
            uint8_weights.unlink(missing_ok=True)
        return ExportFacts(notes=notes, details={
            "opset": INT8_OPSET, "format": f"QDQ (QuantizeLinear/DequantizeLinear), uint8 activations, {weights} weights",
            "exporter": "torch.onnx dynamo", "tensors_shifted_to_uint8": shifted, "weights": weights,
            "int8_weights_vs_uint8_max_abs_diff": diff, "float16_weights": float16,
        })

    def export(self, module: nn.Module, spec: ExportSpec, path: Path, *, sample: torch.Tensor) -> ExportFacts:
        import onnx
        import onnxsim

        if spec.precision == "fp16":
            module, sample = copy.deepcopy(module).half(), sample.half()
        dynamic_axes = None
        if spec.shape.kind == "dynamic":
            h_axis, w_axis = (1, 2) if spec.layout == "nhwc" else (2, 3)
            dynamic_axes = {INPUT_NAME: {h_axis: "height", w_axis: "width"}, OUTPUT_NAME: {h_axis: "out_height", w_axis: "out_width"}}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module, (sample,), str(path), dynamo=False, opset_version=OPSET,
                input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], dynamic_axes=dynamic_axes,
            )
        model = onnx.load(str(path))
        simplified, ok = onnxsim.simplify(model)
        notes = []
        if ok:
            onnx.save(simplified, str(path))
        else:
            notes.append("onnxsim could not validate its simplification; the unsimplified graph was kept")
        onnx.checker.check_model(str(path))
        return ExportFacts(notes=notes, details={"opset": OPSET, "simplified": bool(ok)})

    def runner(self, path: Path, spec: ExportSpec, *, threads: int | None = None) -> Runner | None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        dtype = np.float16 if spec.precision == "fp16" else np.float32

        def run(x: torch.Tensor) -> torch.Tensor:
            feed = to_layout(x, spec.layout).numpy().astype(dtype)
            (y,) = session.run([OUTPUT_NAME], {INPUT_NAME: feed})
            return from_layout(torch.from_numpy(y.astype(np.float32)), spec.layout)

        return run

    def inspect(self, path: Path) -> dict[str, Any]:
        import onnx

        model = onnx.load(str(path))

        def dims(value) -> list[int | str]:
            return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in value.type.tensor_type.shape.dim]

        return {
            "inputs": [{"name": v.name, "shape": dims(v)} for v in model.graph.input],
            "outputs": [{"name": v.name, "shape": dims(v)} for v in model.graph.output],
            "ops": sorted({n.op_type for n in model.graph.node}),
            "opset": max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
        }


CONVERTER = ONNXConverter()
