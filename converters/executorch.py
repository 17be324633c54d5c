"""ExecuTorch ``.pte``: XNNPACK-delegated (runs here) and CoreML-delegated (for iOS; Apple-only runtime)."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edge_sr.converters.base import SDK, Converter, ExportFacts, Runner, from_layout, to_layout
from edge_sr.converters.spec import ExportSpec
from edge_sr.tolerances import Tolerance, verify_equivalent


def _dynamic_shapes(spec: ExportSpec, min_size: int):
    if spec.shape.kind != "dynamic":
        return None
    low = max(spec.shape.min_size, min_size)
    height = torch.export.Dim("height", min=low, max=spec.shape.max_size)
    width = torch.export.Dim("width", min=low, max=spec.shape.max_size)
    return ({1: height, 2: width} if spec.layout == "nhwc" else {2: height, 3: width},)


def _read(path: Path) -> tuple[bytes, Any]:
    """The file's bytes and its deserialised form (a ``PTEFile`` or, in older ExecuTorch, the program)."""
    from executorch.exir._serialize._program import deserialize_pte_binary

    data = path.read_bytes()
    return data, deserialize_pte_binary(data)


def _delegates(path: Path, pte: Any = None) -> list[str]:
    program = pte if pte is not None else _read(path)[1]
    program = getattr(program, "program", program)
    return [d.id for plan in program.execution_plan for d in plan.delegates]


def _flatc_json(text: str) -> Any:
    """flatc's JSON, which writes non-finite floats bare (a conv fused with a ReLU has
    ``"output_max": inf``); Python's reader takes them as ``Infinity`` and ``NaN``."""
    import json
    import re

    text = re.sub(r'(?<=[\s:\[,])(-?)inf\b', r"\1Infinity", text)
    return json.loads(re.sub(r'(?<=[\s:\[,])-?nan\b', "NaN", text))


def _xnnpack_ops(pte: Any) -> dict[str, int]:
    """How many of each XNNPACK node the program's XNNPACK delegates hold (``Conv2d``,
    ``Convert``, ``StaticTranspose``, ...): what the partitioner made of the graph, e.g. the
    float islands of an int8 program (a ``Convert`` each way) or layout transposes."""
    import struct
    import tempfile
    from collections import Counter
    from importlib import resources

    from executorch.exir._serialize._flatbuffer import _flatc_decompile

    program = getattr(pte, "program", pte)
    delegate_data = [
        program.backend_delegate_data[delegate.processed.index].data
        for plan in program.execution_plan for delegate in plan.delegates
        if delegate.id == "XnnpackBackend" and delegate.processed.location == 0
    ]
    counts: Counter[str] = Counter()
    schema = resources.files("executorch.backends.xnnpack.serialization").joinpath("schema.fbs").read_bytes()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "schema.fbs").write_bytes(schema)
        for index, blob in enumerate(delegate_data):
            # XNNPACK's header: magic "XH00" at 4, then the flatbuffer's offset and size at 10.
            if blob[4:8] != b"XH00":
                continue
            offset, size = struct.unpack_from("<II", blob, 10)
            graph_path = Path(folder) / f"graph{index}.bin"
            graph_path.write_bytes(blob[offset:offset + size])
            _flatc_decompile(folder, str(Path(folder) / "schema.fbs"), str(graph_path), ["--raw-binary"])
            graph = _flatc_json((Path(folder) / f"graph{index}.json").read_text())
            counts.update(node["xnode_union_type"].removeprefix("XNN") for node in graph.get("xnodes", []))
    return dict(sorted(counts.items()))


def _size_breakdown(data: bytes, pte: Any) -> dict[str, int]:
    """Where a ``.pte``'s bytes go: constant tensors (weights, biases and per-channel scales,
    wherever the program stores them), the delegates' serialised graphs, and the rest (the
    program itself, the content-hash keys naming each constant, alignment padding)."""
    program = getattr(pte, "program", pte)
    named = getattr(pte, "named_data", None)
    constants = sum(len(getattr(b, "buffer", b)) for b in named.buffers) if named is not None else 0
    constants += sum(len(buffer.storage) for buffer in program.constant_buffer)
    delegates = sum(len(blob.data) for blob in program.backend_delegate_data)
    return {
        "bytes": len(data), "constant_data": constants, "delegate_graphs": delegates,
        "program_keys_and_padding": len(data) - constants - delegates,
    }


SCALAR_OPERAND_CONSTANTS = Tolerance(
    name="scalar-operand-constants",
    atol=0.0,
    rtol=0.0,
    meaning="a graph whose elementwise ops read [1, 1, 1, 1] constants vs the same graph reading Python numbers, same input",
)
"""PyTorch casts a Python-number operand to the tensor's dtype before the op, as the constant is."""

SCALAR_OPERAND_OPS = (torch.ops.aten.add.Tensor, torch.ops.aten.sub.Tensor, torch.ops.aten.mul.Tensor, torch.ops.aten.div.Tensor)


def _scalar_operands_as_constants(module: nn.Module, sample: torch.Tensor, *, dynamic_shapes: Any) -> tuple[nn.Module, int, float]:
    """``module`` as a graph whose elementwise add/sub/mul/div of a 4-D tensor and a Python
    number (SPAN's ``sigmoid(x) − 0.5``) read a ``[1, 1, 1, 1]`` constant of the tensor's dtype
    instead, how many were rewritten, and the max abs difference from ``module`` on ``sample``,
    which must be zero (:data:`SCALAR_OPERAND_CONSTANTS`).

    ExecuTorch turns such a number into a rank-0 or rank-1 tensor, and XNNPACK's channels-last
    pass runs any op reading one in NCHW: a full-size transpose before it and one after.  SPAN
    ch28 has six such pairs; without them it runs 2-4 % faster at 256² on this CPU (one or two
    threads, fp32 and int8, interleaved runs).  A 4-D constant keeps the op in NHWC.  The graph's
    quantisation is untouched: the number was not quantised and the constant is not either.
    Tensor layout and values are unchanged: NCHW in, NCHW out."""
    graph_module = module if isinstance(module, torch.fx.GraphModule) else torch.export.export(
        module, (sample,), dynamic_shapes=dynamic_shapes
    ).module()
    rewritten = copy.deepcopy(graph_module)
    count = 0
    for node in list(rewritten.graph.nodes):
        if node.op != "call_function" or node.target not in SCALAR_OPERAND_OPS or len(node.args) != 2 or node.kwargs:
            continue
        numbers = [i for i, arg in enumerate(node.args) if isinstance(arg, (int, float)) and not isinstance(arg, bool)]
        # The op's own output: quantisation's dequantize nodes carry no shape.
        value = node.meta.get("val")
        if len(numbers) != 1 or not isinstance(value, torch.Tensor) or value.dim() != 4 or not value.dtype.is_floating_point:
            continue
        name = f"_scalar_operand_{count}"
        rewritten.register_buffer(name, torch.full((1, 1, 1, 1), node.args[numbers[0]], dtype=value.dtype))
        with rewritten.graph.inserting_before(node):
            constant = rewritten.graph.get_attr(name)
        args = list(node.args)
        args[numbers[0]] = constant
        node.args = tuple(args)
        count += 1
    if not count:
        return module, 0, 0.0
    rewritten.graph.lint()
    rewritten.recompile()
    diff = verify_equivalent(graph_module, rewritten, sample, tolerance=SCALAR_OPERAND_CONSTANTS, what="scalar operands as [1, 1, 1, 1] constants")
    return rewritten, count, diff


class _ExecuTorchBase(Converter):
    sdks = (SDK("executorch", "executorch"),)
    min_input_size = 1
    halve_for_fp16 = True
    """fp16 by exporting a half-precision module (XNNPACK) rather than by a backend option."""

    def partitioners(self, spec: ExportSpec) -> list[Any]:
        raise NotImplementedError

    def prepare_for_lowering(self, module: nn.Module, spec: ExportSpec, *, sample: torch.Tensor) -> tuple[nn.Module, ExportFacts]:
        """The module this backend's partitioner lowers best, each rewrite checked exact and
        noted; the default lowers ``module`` as it is."""
        return module, ExportFacts()

    def _lower(self, module: nn.Module, spec: ExportSpec, path: Path, *, sample: torch.Tensor) -> ExportFacts:
        from executorch.exir import to_edge_transform_and_lower

        dynamic_shapes = _dynamic_shapes(spec, self.min_input_size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module, facts = self.prepare_for_lowering(module, spec, sample=sample)
            exported = torch.export.export(module, (sample,), dynamic_shapes=dynamic_shapes)
            program = to_edge_transform_and_lower(exported, partitioner=self.partitioners(spec)).to_executorch()
        path.write_bytes(program.buffer)
        facts.details = {"delegates": sorted(set(_delegates(path))), **facts.details}
        return facts

    def export(self, module: nn.Module, spec: ExportSpec, path: Path, *, sample: torch.Tensor) -> ExportFacts:
        if spec.precision == "fp16" and self.halve_for_fp16:
            module, sample = copy.deepcopy(module).half(), sample.half()
        return self._lower(module, spec, path, sample=sample)

    def inspect(self, path: Path) -> dict[str, Any]:
        data, pte = _read(path)
        delegates = _delegates(path, pte)
        inspection = {
            "delegates": sorted(set(delegates)), "delegate_count": len(delegates), "bytes": len(data),
            "size": _size_breakdown(data, pte),
        }
        if "XnnpackBackend" in delegates:
            inspection["xnnpack_ops"] = _xnnpack_ops(pte)
        return inspection


class ExecuTorchXNNPACKConverter(_ExecuTorchBase):
    name = "executorch"
    suffix = ".pte"
    title = "ExecuTorch (XNNPACK)"
    runtime_name = "executorch.runtime (XNNPACK)"
    int8_shape_kinds = ("fixed", "dynamic")

    def export_int8(self, build: Any, spec: ExportSpec, path: Path, *, sample: torch.Tensor) -> ExportFacts:
        facts = self._lower(build.converted, spec, path, sample=sample)
        details = facts.details
        details["quantizer"] = "XNNPACKQuantizer (PT2E)"
        float_weights = build.report.get("float_weights", {})
        if float_weights.get("recipe") == "fp16" and float_weights.get("tensors"):
            details["float16_weights"] = {
                "tensors": 0, "bytes_saved": 0,
                "why": "the recipe's float16 values are stored as float32: XNNPACK's fp32 convs take fp32 weights, and fp16 "
                       "layers would split the delegate (its partitioner leaves fp32<->fp16 casts to portable ops outside it)",
            }
        return facts

    def partitioners(self, spec: ExportSpec) -> list[Any]:
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

        return [XnnpackPartitioner()]

    def prepare_for_lowering(self, module: nn.Module, spec: ExportSpec, *, sample: torch.Tensor) -> tuple[nn.Module, ExportFacts]:
        module, rewritten, diff = _scalar_operands_as_constants(module, sample, dynamic_shapes=_dynamic_shapes(spec, self.min_input_size))
        notes = [f"{rewritten} number operands of elementwise ops as [1, 1, 1, 1] constants, run in NHWC (checked: max diff {diff:.1e})"] if rewritten else []
        return module, ExportFacts(notes=notes, details={"scalar_operands_as_constants": rewritten})

    def runner(self, path: Path, spec: ExportSpec, *, threads: int | None = None) -> Runner | None:
        from executorch.runtime import Runtime

        if threads:
            # The XNNPACK threadpool is sized when a method loads: set it first.
            from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool

            _unsafe_reset_threadpool(threads)
        method = Runtime.get().load_program(str(path)).load_method("forward")
        # INT8 programs quantise inside the delegate: their I/O is float32 too.
        dtype = torch.float16 if spec.precision == "fp16" else torch.float32

        def run(x: torch.Tensor) -> torch.Tensor:
            (y,) = method.execute([to_layout(x, spec.layout).to(dtype)])
            return from_layout(y.float(), spec.layout)

        return run


class ExecuTorchCoreMLConverter(_ExecuTorchBase):
    name = "executorch-coreml"
    suffix = ".coreml.pte"
    title = "ExecuTorch (CoreML delegate, iOS/macOS)"
    sdks = (SDK("executorch", "executorch"), SDK("coremltools", "coremltools"))
    runtime_name = "executorch.runtime (CoreML delegate; Apple devices only)"
    halve_for_fp16 = False
    default_precision = "fp16"

    def explain(self, error: Exception, spec: ExportSpec) -> str | None:
        from edge_sr.converters.coreml import _explain_resize

        return _explain_resize(error, spec)

    def partitioners(self, spec: ExportSpec) -> list[Any]:
        import coremltools as ct
        from executorch.backends.apple.coreml.compiler import CoreMLBackend
        from executorch.backends.apple.coreml.partition import CoreMLPartitioner

        specs = CoreMLBackend.generate_compile_specs(
            minimum_deployment_target=ct.target.iOS17,
            compute_precision=ct.precision.FLOAT16 if spec.precision == "fp16" else ct.precision.FLOAT32,
        )
        return [CoreMLPartitioner(compile_specs=specs)]

    def runs_here(self) -> bool:
        return False  # the CoreML delegate runs only on Apple platforms

    def runner(self, path: Path, spec: ExportSpec, *, threads: int | None = None) -> Runner | None:
        return None


XNNPACK = ExecuTorchXNNPACKConverter()
COREML_DELEGATE = ExecuTorchCoreMLConverter()
