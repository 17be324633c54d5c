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


def _qdq_int8_to_uint8(model) -> int:
    """Rewrite every int8 quantised tensor of a QDQ graph as uint8 (values and zero points + 128).

    Exact: ``(q + 128) - (z + 128) = q - z``.  Why: onnxruntime fuses QDQ into integer kernels,
    and on x86 CPUs without VNNI its int8-activation × int8-weight kernels multiply in int16
    pairs that saturate (measured on an AVX2-only EPYC: SPAN ch28 reached 39.9 dB against the
    PyTorch quantised graph instead of 45.9 dB, and ran 1.7× slower).  uint8 × uint8 takes a
    path without that overflow on every CPU.  Returns the number of tensors rewritten.
    """
    import numpy as np
    from onnx import numpy_helper

    constants = constant_tensors(model)
    quantised = set()
    for node in model.graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and len(node.input) > 2:
            quantised.add(node.input[2])
        if node.op_type == "DequantizeLinear":
            quantised.add(node.input[0])
    shifted = 0
    for name in sorted(quantised & constants.keys()):
        tensor = constants[name]
        values = numpy_helper.to_array(tensor)
        if values.dtype == np.int8:
            tensor.CopyFrom(numpy_helper.from_array((values.astype(np.int16) + 128).astype(np.uint8), tensor.name))
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
        shifted = _qdq_int8_to_uint8(model)
        reference = path.with_name(path.name + ".float32-weights")
        try:
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
        return ExportFacts(details={
            "opset": INT8_OPSET, "format": "QDQ (QuantizeLinear/DequantizeLinear), uint8 activations and weights",
            "exporter": "torch.onnx dynamo", "tensors_shifted_to_uint8": shifted, "float16_weights": float16,
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
