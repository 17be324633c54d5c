"""TFLite / LiteRT ``.tflite`` through litert-torch, run with ``ai_edge_litert``'s interpreter.

PixelShuffle is exported as a one-hot TRANSPOSE_CONV (see ``prepare``) so no rank-6
RESHAPE/TRANSPOSE reaches GPU delegates and H/W can stay dynamic; with NHWC I/O the
converter cancels the layout permutes, leaving no TRANSPOSE at all; fp16 stores weights as float16 with DEQUANTIZE ops
(ai-edge-quantizer's float-casting weight-only recipe), the form mobile GPU delegates run in fp16.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
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

SIGNATURE = "serving_default"
LEGACY_PYTHON_ENV = "EDGE_SR_TFLITE_RUNTIME_PYTHON"
"""A Python with the legacy ``tflite-runtime`` interpreter (it needs numpy<2, so it lives in its
own environment; ``scripts/setup-env.sh`` makes one where the wheel installs)."""
LEGACY_SCRIPT = """
import sys, numpy as np
from tflite_runtime.interpreter import Interpreter
import tflite_runtime
runner = Interpreter(model_path=sys.argv[1], num_threads=1).get_signature_runner(sys.argv[4])
source, target = runner.get_input_details()[sys.argv[5]], runner.get_output_details()[sys.argv[6]]
x = np.load(sys.argv[2])
if np.dtype(source["dtype"]) != np.float32:
    scale, zero = source["quantization"]
    info = np.iinfo(source["dtype"])
    x = np.clip(np.round(x / scale) + zero, info.min, info.max).astype(source["dtype"])
y = runner(**{sys.argv[5]: x})[sys.argv[6]]
if np.dtype(target["dtype"]) != np.float32:
    scale, zero = target["quantization"]
    y = (y.astype(np.float32) - zero) * scale
np.save(sys.argv[3], y.astype(np.float32))
print(tflite_runtime.__version__)
"""
MAX_DELEGATE_RANK = 4
"""GPU delegates reject RESHAPE/TRANSPOSE tensors above rank 4."""


class NamedIO(nn.Module):
    """Gives the TFLite signature the contract's names: input ``lr``, output ``sr``."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, lr: torch.Tensor) -> dict[str, torch.Tensor]:
        return {OUTPUT_NAME: self.inner(lr)}


@contextlib.contextmanager
def _quiet():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _fp16_weights(source: Path, destination: Path) -> None:
    from ai_edge_quantizer import qtyping, quantizer
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    job = quantizer.Quantizer(str(source))
    for op in (qtyping.TFLOperationName.CONV_2D, qtyping.TFLOperationName.DEPTHWISE_CONV_2D, qtyping.TFLOperationName.CONV_2D_TRANSPOSE):
        job.add_weight_only_config(regex=".*", operation_name=op, num_bits=16, algorithm_key=AlgorithmName.FLOAT_CASTING)
    job.quantize().export_model(str(destination), overwrite=True)


def _compact(path: Path, *, float16_exact_weights: bool = False) -> dict[str, Any]:
    """Rewrite ``path`` smaller without changing any output; returns the bytes saved by dropping
    names and by the rest, and how many PReLUs were fused.

    - With ``float16_exact_weights`` (INT8 artifacts), float convs' weights whose values all sit
      on the float16 grid are stored as float16 (:func:`_store_float16_exact_weights`); how
      many, and the bytes saved, come back under ``"float16_weights"``.

    - Tensor names go, except the signature's inputs' and outputs'.  The converter's names are
      MLIR locations (6 KB on SPAN ch28): debug information; runtimes name tensors by index.
    - Identical vectors are stored once and shared (a flatbuffer may point many tables at one
      vector).  The converter writes every tensor's shape and quantisation record afresh; an
      all-int8 artifact repeats one all-zero int64 zero-point vector per weight and per bias
      (224 B each for 28 channels), 10 % of SPAN ch28's int8 file.
    - Tensors without constant data all read the empty buffer 0 (the converter gives each its
      own empty buffer), and empty quantisation records are dropped.
    - Identical flat tables (quantisation records, op options) are stored once too.
    - litert-torch writes each PReLU as ``relu(x) − α·relu(−x)`` (four ops, three more tensors);
      it becomes one float PRELU op (:func:`_fuse_relu_form_prelus`), equal to the bit.

    Models with buffers stored past the flatbuffer (> 2 GB) are left alone."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    class _CompactBuilder(flatbuffers.Builder):
        """Shares each distinct vector except constant data, whose byte vectors start 16-byte
        aligned, as the schema's ``force_align: 16`` asks and converters write them (the
        generated packer would align them to 1)."""

        def __init__(self, size: int):
            super().__init__(size)
            self.shared: dict[tuple[str, bytes], int] = {}

        def CreateNumpyVector(self, x):
            if x.dtype == np.uint8:
                # Constant data stays one vector per buffer: delegates may key packed weights by
                # their address.
                self.Prep(16, x.size)
                return super().CreateNumpyVector(x)
            key = (x.dtype.str, x.tobytes())
            if key not in self.shared:
                self.shared[key] = super().CreateNumpyVector(x)
            return self.shared[key]

    data = path.read_bytes()
    model = schema.ModelT.InitFromPackedBuf(data, 0)
    if any(buffer.offset > 1 for buffer in model.buffers or []):
        facts = {"tensor_names_bytes": 0, "tables_and_vectors_bytes": 0, "prelus_fused": 0}
        if float16_exact_weights:
            facts["float16_weights"] = {"tensors": 0, "bytes_saved": 0, "why": "buffers stored past the flatbuffer (> 2 GB) are left as written"}
        return facts
    prelus_fused = _fuse_relu_form_prelus(model, schema)
    if prelus_fused:
        _drop_unreferenced_tensors(model)
    float16 = _store_float16_exact_weights(model, schema) if float16_exact_weights else None
    kept = {
        (signature.subgraphIndex, tensor.tensorIndex)
        for signature in model.signatureDefs or []
        for tensor in (signature.inputs or []) + (signature.outputs or [])
    }
    names_saved = 0
    shared_tables: dict[tuple, int] = {}
    for graph_index, graph in enumerate(model.subgraphs or []):
        for tensor_index, tensor in enumerate(graph.tensors or []):
            if (graph_index, tensor_index) not in kept:
                names_saved += len(tensor.name or b"")
                tensor.name = None
            empty = tensor.quantization is not None and _no_quantization(tensor.quantization)
            tensor.quantization = None if empty else _SharedTable.wrap(tensor.quantization, shared_tables)
        for operator in graph.operators or []:
            operator.builtinOptions = _SharedTable.wrap(operator.builtinOptions, shared_tables)
    _point_data_free_tensors_at_buffer_0(model)
    builder = _CompactBuilder(len(data))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    compact = bytes(builder.Output())
    path.write_bytes(compact)
    facts = {
        "tensor_names_bytes": names_saved, "tables_and_vectors_bytes": len(data) - len(compact) - names_saved,
        "prelus_fused": prelus_fused,
    }
    if float16 is not None:
        facts["tables_and_vectors_bytes"] -= float16["bytes_saved"]
        facts["float16_weights"] = float16
    return facts


class _SharedTable:
    """Packs a flat table (scalar and vector fields only) once for all its equals: the 18
    sigmoid outputs' quantisation records are one, and so are the options of every 3×3 conv."""

    def __init__(self, table: Any, key: tuple, packed: dict[tuple, int]):
        self.table, self.key, self.packed = table, key, packed

    @classmethod
    def wrap(cls, table: Any, packed: dict[tuple, int]) -> Any:
        if table is None:
            return None
        fields = []
        for name, value in sorted(vars(table).items()):
            if isinstance(value, np.ndarray):
                value = (value.dtype.str, value.tobytes())
            elif isinstance(value, list):
                value = tuple(value)
            elif value is not None and not isinstance(value, (int, float, bytes, tuple)):
                return table  # a nested table: packed on its own
            fields.append((name, value))
        return cls(table, (type(table).__name__, *fields), packed)

    def Pack(self, builder: Any) -> int:
        if self.key not in self.packed:
            self.packed[self.key] = self.table.Pack(builder)
        return self.packed[self.key]


def _fuse_relu_form_prelus(model: Any, schema: Any) -> int:
    """Replace each ``SUB(RELU(x), MUL(MUL(x, −1) with fused RELU, α))`` with ``PRELU(x, α)``;
    returns how many.  Only float32 patterns whose intermediate tensors nothing else reads, and
    whose α is a constant that broadcasts along the last (channel) axis, as XNNPACK's PRELU wants.

    litert-torch decomposes ``aten._prelu_kernel`` that way because GPU delegates reject the
    stock GREATER/SELECT form; PRELU itself they (and XNNPACK, and NNAPI) run natively.  For
    x ≥ 0 both give x; for x < 0, ``0 − α·(−x)`` is ``α·x`` exactly, since IEEE negation is exact
    and rounding is symmetric about zero.  In an all-integer artifact the PReLUs are float
    islands between DEQUANTIZE and QUANTIZE, and stay so."""
    def code_of(operator: Any) -> int:
        record = model.operatorCodes[operator.opcodeIndex]
        return max(record.builtinCode, record.deprecatedBuiltinCode)

    def constant(graph: Any, index: int) -> np.ndarray | None:
        tensor = graph.tensors[index]
        data = model.buffers[tensor.buffer].data
        if tensor.type != schema.TensorType.FLOAT32 or data is None or len(data) == 0:
            return None
        return np.frombuffer(bytes(data), dtype=np.float32)

    def fused_activation(operator: Any) -> int:
        return getattr(operator.builtinOptions, "fusedActivationFunction", 0)

    prelu_code: int | None = None
    fused = 0
    for graph in model.subgraphs or []:
        operators = graph.operators or []
        producer = {int(t): op for op in operators for t in op.outputs}
        readers: dict[int, int] = {}
        for op in operators:
            for t in op.inputs:
                readers[int(t)] = readers.get(int(t), 0) + 1
        pinned = {int(t) for t in list(graph.inputs) + list(graph.outputs)}

        def private(index: int) -> bool:
            return readers.get(index, 0) == 1 and index not in pinned

        removed: set[int] = set()
        for sub in operators:
            if code_of(sub) != schema.BuiltinOperator.SUB or fused_activation(sub) or len(sub.inputs) != 2:
                continue
            relu_x, alpha_term = (int(t) for t in sub.inputs)
            relu_op, alpha_op = producer.get(relu_x), producer.get(alpha_term)
            if relu_op is None or alpha_op is None or code_of(relu_op) != schema.BuiltinOperator.RELU:
                continue
            if code_of(alpha_op) != schema.BuiltinOperator.MUL or fused_activation(alpha_op) or len(alpha_op.inputs) != 2:
                continue
            x = int(relu_op.inputs[0])
            for relu_neg_x, alpha in (tuple(int(t) for t in alpha_op.inputs), tuple(int(t) for t in reversed(alpha_op.inputs))):
                negate_op = producer.get(relu_neg_x)
                if negate_op is not None and constant(graph, alpha) is not None:
                    break
            else:
                continue
            # relu(−x) is one MUL by −1 with a fused RELU.
            if code_of(negate_op) != schema.BuiltinOperator.MUL or fused_activation(negate_op) != schema.ActivationFunctionType.RELU:
                continue
            minus_one = [int(t) for t in negate_op.inputs if int(t) != x]
            if len(minus_one) != 1 or x not in [int(t) for t in negate_op.inputs]:
                continue
            values = constant(graph, minus_one[0])
            if values is None or values.size != 1 or values[0] != -1.0:
                continue
            tensors = graph.tensors
            if any(tensors[t].type != schema.TensorType.FLOAT32 for t in (x, relu_x, alpha_term, relu_neg_x, int(sub.outputs[0]))):
                continue
            x_shape, alpha_shape = list(tensors[x].shape), list(tensors[alpha].shape)
            if not alpha_shape or any(d != 1 for d in alpha_shape[:-1]) or alpha_shape[-1] not in (1, x_shape[-1]):
                continue
            if not (private(relu_x) and private(alpha_term) and private(relu_neg_x)):
                continue
            if private(alpha) and alpha_shape[-1] == x_shape[-1] and len(x_shape) >= 2:
                # [1, 1, C] for NHWC: the slope shape TensorFlow's own converter writes for a
                # channel-wise PReLU, which the GPU delegate reads as per-channel.
                tensors[alpha].shape = np.array([1] * (len(x_shape) - 2) + [x_shape[-1]], dtype=np.int32)
                tensors[alpha].shapeSignature = None
            if prelu_code is None:
                prelu_code = _operator_code(model, schema, schema.BuiltinOperator.PRELU)
            sub.opcodeIndex = prelu_code
            sub.inputs = np.array([x, alpha], dtype=np.int32)
            sub.builtinOptionsType, sub.builtinOptions = schema.BuiltinOptions.NONE, None
            removed |= {id(relu_op), id(alpha_op), id(negate_op)}
            fused += 1
        graph.operators = [op for op in operators if id(op) not in removed]
    return fused


DEQUANTIZE_FLOAT16_VERSION = 3
"""The DEQUANTIZE version TFLite's op-version table gives a float16 input."""


def _store_float16_exact_weights(model: Any, schema: Any) -> dict[str, int]:
    """Store each float conv's (CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV, FULLY_CONNECTED)
    constant float32 weight whose values are all float16 values as a FLOAT16 constant read by a
    DEQUANTIZE op that writes the float32 tensor, the form TFLite's fp16-weight models take:
    XNNPACK and the default kernels expand it once at load, GPU delegates compute in fp16.
    Bit-exact, since every value converts back unchanged; weights off the grid are left as they
    are.  The build puts them on it (``Int8Recipe.float_weights="fp16"``)."""
    weighted = {
        schema.BuiltinOperator.CONV_2D, schema.BuiltinOperator.DEPTHWISE_CONV_2D,
        schema.BuiltinOperator.TRANSPOSE_CONV, schema.BuiltinOperator.FULLY_CONNECTED,
    }
    stored = saved = 0
    dequantize: int | None = None
    replaced: set[int] = set()
    for graph in model.subgraphs or []:
        converted: set[int] = set()
        dequantize_ops = []
        for operator in graph.operators or []:
            record = model.operatorCodes[operator.opcodeIndex]
            if max(record.builtinCode, record.deprecatedBuiltinCode) not in weighted or len(operator.inputs) < 2:
                continue
            index = int(operator.inputs[1])
            tensor = graph.tensors[index] if index >= 0 else None
            if index in converted or tensor is None or tensor.type != schema.TensorType.FLOAT32:
                continue
            data = model.buffers[tensor.buffer].data
            if data is None or len(data) < 2 * FLOAT16_MIN_SAVED_BYTES or (tensor.quantization and not _no_quantization(tensor.quantization)):
                continue
            values = np.frombuffer(bytes(data), dtype="<f4")
            halved = values.astype("<f2")
            if not np.array_equal(halved.astype("<f4"), values):
                continue
            buffer = schema.BufferT()
            buffer.data = np.frombuffer(halved.tobytes(), dtype=np.uint8).copy()
            model.buffers.append(buffer)
            source = schema.TensorT()
            source.shape, source.type, source.buffer = np.array(tensor.shape, dtype=np.int32), schema.TensorType.FLOAT16, len(model.buffers) - 1
            graph.tensors.append(source)
            replaced.add(tensor.buffer)
            tensor.buffer = 0  # the schema's empty buffer: the DEQUANTIZE writes it now
            if dequantize is None:
                dequantize = _operator_code(model, schema, schema.BuiltinOperator.DEQUANTIZE, version=DEQUANTIZE_FLOAT16_VERSION)
            op = schema.OperatorT()
            op.opcodeIndex, op.inputs, op.outputs = dequantize, np.array([len(graph.tensors) - 1], dtype=np.int32), np.array([index], dtype=np.int32)
            op.builtinOptionsType = schema.BuiltinOptions.NONE
            dequantize_ops.append(op)
            converted.add(index)
            stored += 1
            saved += len(data) - buffer.data.size
        # Constants first: each DEQUANTIZE runs before any op reads its output.
        graph.operators = dequantize_ops + list(graph.operators or [])
    read = {t.buffer for g in model.subgraphs or [] for t in g.tensors or []} | {m.buffer for m in model.metadata or []}
    for index in replaced - read:
        model.buffers[index].data = None
    return {"tensors": stored, "bytes_saved": saved}


def _operator_code(model: Any, schema: Any, builtin: int, *, version: int = 1) -> int:
    """Index of ``builtin``'s operator code (``version`` if added), added if the model has none."""
    for index, record in enumerate(model.operatorCodes or []):
        if max(record.builtinCode, record.deprecatedBuiltinCode) == builtin:
            return index
    record = schema.OperatorCodeT()
    # Codes below 127 are also written to the deprecated int8 field older runtimes read.
    record.builtinCode, record.deprecatedBuiltinCode, record.version = builtin, min(builtin, 127), version
    model.operatorCodes = list(model.operatorCodes or []) + [record]
    return len(model.operatorCodes) - 1


def _drop_unreferenced_tensors(model: Any) -> None:
    """Tensors no operator, graph input/output or signature names go; references are renumbered.
    Buffers only they read are left empty, for :func:`_point_data_free_tensors_at_buffer_0`."""
    for graph_index, graph in enumerate(model.subgraphs or []):
        signature_tensors = [
            tensor for signature in model.signatureDefs or [] if signature.subgraphIndex == graph_index
            for tensor in (signature.inputs or []) + (signature.outputs or [])
        ]
        used = {int(t) for op in graph.operators or [] for field in (op.inputs, op.outputs, op.intermediates)
                if field is not None for t in field if t >= 0}
        used |= {int(t) for t in list(graph.inputs) + list(graph.outputs)}
        used |= {tensor.tensorIndex for tensor in signature_tensors}
        renumbered = {old: new for new, old in enumerate(sorted(used))}

        def renumber(values: Any) -> Any:
            if values is None:
                return None
            return np.array([renumbered[int(t)] if t >= 0 else -1 for t in values], dtype=np.int32)

        dropped_buffers = {graph.tensors[t].buffer for t in range(len(graph.tensors)) if t not in renumbered}
        graph.tensors = [graph.tensors[old] for old in sorted(used)]
        for op in graph.operators or []:
            op.inputs, op.outputs, op.intermediates = renumber(op.inputs), renumber(op.outputs), renumber(op.intermediates)
        graph.inputs, graph.outputs = renumber(graph.inputs), renumber(graph.outputs)
        for tensor in signature_tensors:
            tensor.tensorIndex = renumbered[tensor.tensorIndex]
        still_read = {t.buffer for g in model.subgraphs for t in g.tensors or []} | {m.buffer for m in model.metadata or []}
        for index in dropped_buffers - still_read:
            if index != 0:
                model.buffers[index].data = None


def _no_quantization(record: Any) -> bool:
    return all(
        values is None or len(values) == 0
        for values in (record.scale, record.zeroPoint, record.min, record.max)
    ) and record.details is None


def _point_data_free_tensors_at_buffer_0(model: Any) -> None:
    """Every tensor without constant data reads buffer 0, the schema's empty sentinel, and the
    converter's one empty buffer per such tensor goes; buffer references are renumbered."""
    def empty(buffer: Any) -> bool:
        return (buffer.data is None or len(buffer.data) == 0) and buffer.offset <= 1

    buffers = model.buffers or []
    if not buffers or not empty(buffers[0]):
        return
    renumbered: dict[int, int] = {}
    kept_buffers = [buffers[0]]
    for index, buffer in enumerate(buffers):
        if index == 0 or empty(buffer):
            renumbered[index] = 0
        else:
            renumbered[index] = len(kept_buffers)
            kept_buffers.append(buffer)
    for entry in model.metadata or []:
        # Metadata may live in an empty buffer; it keeps one of its own.
        if renumbered[entry.buffer] == 0 and entry.buffer != 0:
            renumbered[entry.buffer] = len(kept_buffers)
            kept_buffers.append(buffers[entry.buffer])
        entry.buffer = renumbered[entry.buffer]
    if model.metadataBuffer is not None:
        model.metadataBuffer = np.array([renumbered[int(index)] for index in model.metadataBuffer], dtype=np.int32)
    for graph in model.subgraphs or []:
        for tensor in graph.tensors or []:
            tensor.buffer = renumbered[tensor.buffer]
    model.buffers = kept_buffers


def quantize_io(values: np.ndarray, details: dict[str, Any]) -> np.ndarray:
    """float32 → the tensor's dtype; full-integer models take int8 ``round(x / scale) + zero_point``."""
    dtype = np.dtype(details["dtype"])
    if dtype == np.float32:
        return values
    scale, zero_point = details["quantization"]
    info = np.iinfo(dtype)
    return np.clip(np.round(values / scale) + zero_point, info.min, info.max).astype(dtype)


def dequantize_io(values: np.ndarray, details: dict[str, Any]) -> np.ndarray:
    if np.dtype(details["dtype"]) == np.float32:
        return values.astype(np.float32)
    scale, zero_point = details["quantization"]
    return ((values.astype(np.float32) - zero_point) * scale).astype(np.float32)


class TFLiteConverter(Converter):
    name = "tflite"
    suffix = ".tflite"
    title = "TFLite / LiteRT"
    sdks = (SDK("litert_torch", "litert-torch"), SDK("ai_edge_litert", "ai-edge-litert"), SDK("ai_edge_quantizer", "ai-edge-quantizer"))
    runtime_name = "ai_edge_litert.interpreter (XNNPACK)"
    rewrite_pixel_shuffle = True
    rewrite_normalization = True
    int8_shape_kinds = ("fixed",)
    int8_fold_quantize = False
    """litert-torch cannot lower folded int8 weight constants (stablehlo.uniform_dequantize)."""

    def int8_quantizer(self) -> Any:
        from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config

        return PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))

    def export_int8(self, build: Any, spec: ExportSpec, path: Path, *, sample: torch.Tensor) -> ExportFacts:
        import litert_torch
        from litert_torch.quantize.quant_config import QuantConfig

        model = NamedIO(build.converted)
        # Exported graphs refuse .eval(); only the wrapper's own flag needs setting.
        model.training = False
        with _quiet():
            converted = litert_torch.convert(
                model, sample_kwargs={INPUT_NAME: sample},
                quant_config=QuantConfig(pt2e_quantizer=build.quantizer.inner),
            )
            converted.export(str(path))
        reference = path.with_name(path.name + ".float32-weights")
        try:
            shutil.copyfile(path, reference)
            compaction = _compact(path, float16_exact_weights=True)
            float16 = compaction.pop("float16_weights")
            if float16["tensors"]:
                _compact(reference)
                float16["max_abs_diff"] = check_float16_storage(
                    self.runner(path, spec), self.runner(reference, spec), sample, path=path,
                )
        finally:
            reference.unlink(missing_ok=True)
        return ExportFacts(details={
            "signature": SIGNATURE, "quantizer": "litert-torch PT2EQuantizer", "io": "int8 (scale/zero point in the contract)",
            "compaction": compaction, "float16_weights": float16,
        })

    def export(self, module: nn.Module, spec: ExportSpec, path: Path, *, sample: torch.Tensor) -> ExportFacts:
        import litert_torch

        model = NamedIO(module).eval()
        dynamic = None
        if spec.shape.kind == "dynamic":
            height = torch.export.Dim("height", min=spec.shape.min_size, max=spec.shape.max_size)
            width = torch.export.Dim("width", min=spec.shape.min_size, max=spec.shape.max_size)
            dynamic = {INPUT_NAME: {1: height, 2: width} if spec.layout == "nhwc" else {2: height, 3: width}}
        with _quiet():
            converted = litert_torch.convert(model, sample_kwargs={INPUT_NAME: sample}, dynamic_shapes=dynamic)
            if spec.precision == "fp16":
                fp32_path = path.with_name(path.name + ".fp32-intermediate")
                try:
                    converted.export(str(fp32_path))
                    _fp16_weights(fp32_path, path)
                finally:
                    fp32_path.unlink(missing_ok=True)
            else:
                converted.export(str(path))
        return ExportFacts(details={"signature": SIGNATURE, "compaction": _compact(path)})

    def runner(self, path: Path, spec: ExportSpec, *, threads: int | None = None) -> Runner | None:
        from ai_edge_litert.interpreter import Interpreter

        with _quiet():
            interpreter = Interpreter(model_path=str(path), num_threads=threads or None)
            signature = interpreter.get_signature_runner(SIGNATURE)

        input_details = signature.get_input_details()[INPUT_NAME]
        output_details = signature.get_output_details()[OUTPUT_NAME]

        def run(x: torch.Tensor) -> torch.Tensor:
            feed = quantize_io(to_layout(x, spec.layout).numpy().astype(np.float32), input_details)
            result = dequantize_io(np.asarray(signature(**{INPUT_NAME: feed})[OUTPUT_NAME]), output_details)
            return from_layout(torch.from_numpy(result), spec.layout)

        return run

    def secondary_runners(self, path: Path, spec: ExportSpec) -> tuple[dict[str, Runner], list[str]]:
        if spec.shape.kind == "dynamic":
            # Measured: tflite-runtime 2.14 keeps TRANSPOSE_CONV's traced output shape when the
            # input is resized, so it returns a wrongly sized image; LiteRT recomputes it.
            return {}, [
                "legacy tflite-runtime not checked: it keeps TRANSPOSE_CONV's traced output shape on "
                "resized inputs; dynamic-shape .tflite artifacts need LiteRT (ai-edge-litert)"
            ]
        python = os.environ.get(LEGACY_PYTHON_ENV)
        if not python or not Path(python).is_file():
            return {}, [f"legacy tflite-runtime check not run: set {LEGACY_PYTHON_ENV} to a Python with tflite-runtime"]

        def run(x: torch.Tensor) -> torch.Tensor:
            import subprocess
            import tempfile

            with tempfile.TemporaryDirectory() as scratch:
                source, result = Path(scratch) / "x.npy", Path(scratch) / "y.npy"
                np.save(source, to_layout(x, spec.layout).numpy().astype(np.float32))
                completed = subprocess.run(
                    [python, "-c", LEGACY_SCRIPT, str(path), str(source), str(result), SIGNATURE, INPUT_NAME, OUTPUT_NAME],
                    capture_output=True, text=True, timeout=300,
                )
                if completed.returncode != 0:
                    last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
                    raise RuntimeError(f"tflite-runtime could not run the artifact: {last}")
                return from_layout(torch.from_numpy(np.load(result).astype(np.float32)), spec.layout)

        return {"tflite-runtime (legacy interpreter)": run}, []

    def inspect(self, path: Path) -> dict[str, Any]:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        with _quiet():
            # Without default delegates, so the op list is the file's own, not XNNPACK's partition.
            interpreter = Interpreter(
                model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            )
        tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
        ops = interpreter._get_ops_details()
        high_rank = [
            {"op": op["op_name"], "rank": len(tensors[i]["shape_signature"])}
            for op in ops
            if op["op_name"] in ("RESHAPE", "TRANSPOSE")
            for i in list(op["outputs"]) + list(op["inputs"])
            if i in tensors and len(tensors[i]["shape_signature"]) > MAX_DELEGATE_RANK
        ]
        signature = interpreter.get_signature_runner(SIGNATURE)

        def describe(details: dict[str, Any]) -> list[dict[str, Any]]:
            described = []
            for name, d in details.items():
                facts = {"name": name, "shape": [int(v) for v in d["shape_signature"]], "dtype": np.dtype(d["dtype"]).name}
                if np.dtype(d["dtype"]) != np.float32:
                    scale, zero_point = d["quantization"]
                    facts["quantization"] = {"scale": float(scale), "zero_point": int(zero_point)}
                described.append(facts)
            return described

        float_compute = sorted({
            op["op_name"] for op in ops
            if op["op_name"] not in ("QUANTIZE", "DEQUANTIZE")
            and any(i in tensors and np.dtype(tensors[i]["dtype"]) == np.float32 for i in op["outputs"])
        })
        return {
            "inputs": describe(signature.get_input_details()),
            "outputs": describe(signature.get_output_details()),
            "ops": sorted({op["op_name"] for op in ops}),
            "float_ops": float_compute,
            "op_count": len(ops),
            "high_rank_reshapes": high_rank,
            "size": _size_breakdown(path),
        }


def _size_breakdown(path: Path) -> dict[str, int]:
    """Where a ``.tflite``'s bytes go: constant buffers (weights, biases), quantisation records
    (a float32 scale and an int64 zero point per tensor, or per output channel of a per-channel
    weight or bias; each distinct vector counted once, as :func:`_compact` stores it), tensor
    names, and the rest (ops, shapes, the flatbuffer's tables)."""
    from ai_edge_litert import schema_py_generated as schema

    data = path.read_bytes()
    model = schema.Model.GetRootAs(data, 0)
    constants = 0
    for index in range(model.BuffersLength()):
        buffer = model.Buffers(index)
        # Buffers past 2 GB live after the flatbuffer, addressed by offset and size.
        constants += buffer.DataLength() if buffer.Offset() <= 1 else buffer.Size()
    records: set[tuple[str, bytes]] = set()
    names = 0
    for graph_index in range(model.SubgraphsLength()):
        graph = model.Subgraphs(graph_index)
        for tensor_index in range(graph.TensorsLength()):
            tensor = graph.Tensors(tensor_index)
            names += len(tensor.Name() or b"")
            quantization = tensor.Quantization()
            if quantization is None:
                continue
            for kind, values in (("scale", quantization.ScaleAsNumpy()), ("zero_point", quantization.ZeroPointAsNumpy()),
                                 ("min", quantization.MinAsNumpy()), ("max", quantization.MaxAsNumpy())):
                if isinstance(values, np.ndarray):
                    records.add((kind, values.tobytes()))
    record_bytes = sum(len(values) for _, values in records)
    return {
        "bytes": len(data), "constant_data": constants, "quantisation_records": record_bytes,
        "tensor_names": names, "graph_and_tables": len(data) - constants - record_bytes - names,
    }


CONVERTER = TFLiteConverter()
