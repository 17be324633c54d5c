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


class _ExecuTorchBase(Converter):
    sdks = (SDK("executorch", "executorch"),)
    min_input_size = 1
    halve_for_fp16 = True
    """fp16 by exporting a half-precision module (XNNPACK) rather than by a backend option."""

    def partitioners(self, spec: ExportSpec) -> list[Any]:
        raise NotImplementedError

    def export(self, module: nn.Module, spec: ExportSpec, path: Path, *, sample: torch.Tensor) -> ExportFacts:
        from executorch.exir import to_edge_transform_and_lower

        if spec.precision == "fp16" and self.halve_for_fp16:
            module, sample = copy.deepcopy(module).half(), sample.half()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exported = torch.export.export(module, (sample,), dynamic_shapes=_dynamic_shapes(spec, self.min_input_size))
            program = to_edge_transform_and_lower(exported, partitioner=self.partitioners(spec)).to_executorch()
        path.write_bytes(program.buffer)
        return ExportFacts(details={"delegates": sorted(set(_delegates(path)))})

    def inspect(self, path: Path) -> dict[str, Any]:
        data, pte = _read(path)
        delegates = _delegates(path, pte)
        return {
            "delegates": sorted(set(delegates)), "delegate_count": len(delegates), "bytes": len(data),
            "size": _size_breakdown(data, pte),
        }


class ExecuTorchXNNPACKConverter(_ExecuTorchBase):
    name = "executorch"
    suffix = ".pte"
    title = "ExecuTorch (XNNPACK)"
    runtime_name = "executorch.runtime (XNNPACK)"
    int8_shape_kinds = ("fixed", "dynamic")

    def export_int8(self, build: Any, spec: ExportSpec, path: Path, *, sample: torch.Tensor) -> ExportFacts:
        from executorch.exir import to_edge_transform_and_lower

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exported = torch.export.export(build.converted, (sample,), dynamic_shapes=_dynamic_shapes(spec, self.min_input_size))
            program = to_edge_transform_and_lower(exported, partitioner=self.partitioners(spec)).to_executorch()
        path.write_bytes(program.buffer)
        details = {"delegates": sorted(set(_delegates(path))), "quantizer": "XNNPACKQuantizer (PT2E)"}
        float_weights = build.report.get("float_weights", {})
        if float_weights.get("recipe") == "fp16" and float_weights.get("tensors"):
            details["float16_weights"] = {
                "tensors": 0, "bytes_saved": 0,
                "why": "the recipe's float16 values are stored as float32: XNNPACK's fp32 convs take fp32 weights, and fp16 "
                       "layers would split the delegate (its partitioner leaves fp32<->fp16 casts to portable ops outside it)",
            }
        return ExportFacts(details=details)

    def partitioners(self, spec: ExportSpec) -> list[Any]:
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

        return [XnnpackPartitioner()]

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
