"""CoreML ``.mlpackage`` (ML program): named I/O, fixed / enumerated / ranged shapes, optional image I/O.

coremltools predicts only on macOS, so on Linux the artifact is verified by reading its spec
back (I/O names, shapes, op types, weight precision); on macOS the runner checks the numbers.
"""

from __future__ import annotations

import json
import sys
import uuid
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edge_sr.converters.base import SDK, Converter, ExportFacts, Runner, from_layout, to_layout
from edge_sr.converters.contract import INPUT_NAME, OUTPUT_NAME
from edge_sr.converters.spec import ExportSpec


def _explain_resize(error: Exception, spec: ExportSpec) -> str | None:
    if spec.shape.kind != "fixed" and "upsample" in str(error):
        return (
            "CoreML needs a constant output size for a bilinear resize, and EFDN's attention resizes "
            "to the input's own size; convert EFDN for CoreML with a fixed --input-size"
        )
    return None


class ImageOutput(nn.Module):
    """Image outputs carry 0..255 values: clamp to [0, 1] and scale (image inputs are scaled by CoreML)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x).clamp(0.0, 1.0) * 255.0


class CoreMLConverter(Converter):
    name = "coreml"
    suffix = ".mlpackage"
    title = "CoreML (ML program)"
    sdks = (SDK("coremltools", "coremltools"),)
    runtime_name = "CoreML (macOS/iOS only)"
    default_precision = "fp16"
    shape_kinds = ("fixed", "enumerated", "dynamic")
    has_image_io = True
    int8_shape_kinds = ("fixed",)

    def export_int8(self, build: Any, spec: ExportSpec, path: Path, *, sample: torch.Tensor) -> ExportFacts:
        import coremltools as ct

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # coremltools reads the ATen dialect only.
            exported = torch.export.export(build.converted, (sample,)).run_decompositions({})
            model = ct.convert(
                exported,
                inputs=[ct.TensorType(name=INPUT_NAME, shape=tuple(sample.shape))],
                outputs=[ct.TensorType(name=OUTPUT_NAME)],
                convert_to="mlprogram",
                compute_precision=ct.precision.FLOAT16,
                minimum_deployment_target=ct.target.iOS17,
            )
        model.author = "edge-sr"
        model.short_description = "Super-resolution, W8A8; see the .contract.json beside this package"
        _save_reproducibly(model, path)
        return ExportFacts(details={"minimum_deployment_target": "iOS17", "compute_precision": "int8 weights and activations, fp16 elsewhere"})

    def unsupported(self, spec: ExportSpec) -> str | None:
        if spec.image_io and spec.layout == "nhwc":
            return "image I/O already defines the pixel layout; drop --layout nhwc"
        return super().unsupported(spec)

    def explain(self, error: Exception, spec: ExportSpec) -> str | None:
        return _explain_resize(error, spec)

    def _input_shape(self, spec: ExportSpec):
        import coremltools as ct

        def full(height, width):
            return (1, height, width, 3) if spec.layout == "nhwc" else (1, 3, height, width)

        if spec.shape.kind == "fixed":
            return full(*spec.shape.sizes[0])
        if spec.shape.kind == "enumerated":
            shapes = [full(h, w) for h, w in spec.shape.sizes]
            return ct.EnumeratedShapes(shapes=shapes, default=shapes[0])
        dim = lambda: ct.RangeDim(lower_bound=spec.shape.min_size, upper_bound=spec.shape.max_size, default=64)  # noqa: E731
        return full(dim(), dim())

    def export(self, module: nn.Module, spec: ExportSpec, path: Path, *, sample: torch.Tensor) -> ExportFacts:
        import coremltools as ct

        if spec.image_io:
            module = ImageOutput(module)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(module.eval(), sample)
            shape = self._input_shape(spec)
            if spec.image_io:
                inputs = [ct.ImageType(name=INPUT_NAME, shape=shape, scale=1.0 / 255.0, color_layout=ct.colorlayout.RGB)]
                outputs = [ct.ImageType(name=OUTPUT_NAME, color_layout=ct.colorlayout.RGB)]
            else:
                inputs = [ct.TensorType(name=INPUT_NAME, shape=shape)]
                outputs = [ct.TensorType(name=OUTPUT_NAME)]
            model = ct.convert(
                traced,
                inputs=inputs,
                outputs=outputs,
                convert_to="mlprogram",
                compute_precision=ct.precision.FLOAT16 if spec.precision == "fp16" else ct.precision.FLOAT32,
                minimum_deployment_target=ct.target.iOS16,
            )
        model.author = "edge-sr"
        model.short_description = "Super-resolution; see the .contract.json beside this package"
        _save_reproducibly(model, path)
        return ExportFacts(details={"minimum_deployment_target": "iOS16", "compute_precision": spec.precision})

    def runs_here(self) -> bool:
        return sys.platform == "darwin"

    def runner(self, path: Path, spec: ExportSpec, *, threads: int | None = None) -> Runner | None:
        if not self.runs_here():
            return None
        import coremltools as ct
        import numpy as np
        from PIL import Image

        model = ct.models.MLModel(str(path), compute_units=ct.ComputeUnit.CPU_ONLY)

        def run(x: torch.Tensor) -> torch.Tensor:
            if spec.image_io:
                image = Image.fromarray((x[0].permute(1, 2, 0).clamp(0, 1) * 255).round().byte().numpy())
                result = np.asarray(model.predict({INPUT_NAME: image})[OUTPUT_NAME].convert("RGB"), dtype=np.float32) / 255.0
                return torch.from_numpy(result).permute(2, 0, 1)[None]
            result = model.predict({INPUT_NAME: to_layout(x, spec.layout).numpy()})[OUTPUT_NAME]
            return from_layout(torch.from_numpy(np.asarray(result, dtype=np.float32)), spec.layout)

        return run

    def inspect(self, path: Path) -> dict[str, Any]:
        import coremltools as ct
        from coremltools.proto import MIL_pb2

        spec = ct.models.MLModel(str(path), skip_model_load=True).get_spec()

        def describe(feature) -> dict[str, Any]:
            kind = feature.type.WhichOneof("Type")
            facts: dict[str, Any] = {"name": feature.name, "type": kind}
            if kind == "multiArrayType":
                array = feature.type.multiArrayType
                facts["shape"] = list(array.shape)
                facts["enumerated"] = [list(s.shape) for s in array.enumeratedShapes.shapes]
                facts["ranges"] = [[r.lowerBound, r.upperBound] for r in array.shapeRange.sizeRanges]
            elif kind == "imageType":
                image = feature.type.imageType
                facts["shape"] = [image.height, image.width]
                facts["enumerated"] = [[s.height, s.width] for s in image.enumeratedSizes.sizes]
            return facts

        main = spec.mlProgram.functions["main"]
        block = main.block_specializations[main.opset]
        ops = [op.type for op in block.operations]
        weights = {"fp16": 0, "fp32": 0}
        for op in block.operations:
            if op.type != "const":
                continue
            value = op.attributes.get("val")
            if value is None or value.type.WhichOneof("type") != "tensorType":
                continue
            dtype = value.type.tensorType.dataType
            if dtype == MIL_pb2.DataType.FLOAT16:
                weights["fp16"] += 1
            elif dtype == MIL_pb2.DataType.FLOAT32:
                weights["fp32"] += 1
        int8_weights = 0
        for op in block.operations:
            if op.type.startswith("constexpr_"):
                for value in op.attributes.values():
                    if value.type.WhichOneof("type") == "tensorType" and value.type.tensorType.dataType in (
                        MIL_pb2.DataType.INT8, MIL_pb2.DataType.UINT8
                    ):
                        int8_weights += 1
                        break
        return {
            "inputs": [describe(f) for f in spec.description.input],
            "outputs": [describe(f) for f in spec.description.output],
            "ops": sorted(set(ops)),
            "quantize_ops": ops.count("quantize"),
            "dequantize_ops": ops.count("dequantize"),
            "int8_weight_tensors": int8_weights,
            "op_count": len(ops),
            "const_tensors": weights,
            "spec_version": spec.specificationVersion,
        }


CONVERTER = CoreMLConverter()


PACKAGE_NAMESPACE = uuid.UUID("0d7c61f4-5a0e-4a59-9a43-2a4f6f3c8e11")
"""Namespace of the package items' UUIDs: derived from each item's path, so stable."""


CONVERSION_DATE_KEY = "com.github.apple.coremltools.conversion_date"


def _save_reproducibly(model, path: Path) -> None:
    """``model.save`` made byte-reproducible: the same model gives the same package bytes.

    coremltools serialises the spec with protobuf's default (map order varies per process),
    stamps it with the day of conversion (:data:`CONVERSION_DATE_KEY`, dropped here: the same
    command on the next day must give the same file) and gives manifest items random UUIDs; an
    ExportedProgram conversion also leaves a debug-handle map the manifest does not list.  The
    weights file is already deterministic.
    """
    from coremltools.proto import Model_pb2

    model.save(str(path))
    (path / "executorch_debug_handle_mapping.json").unlink(missing_ok=True)
    spec_path = path / "Data" / "com.apple.CoreML" / "model.mlmodel"
    spec = Model_pb2.Model()
    spec.ParseFromString(spec_path.read_bytes())
    spec.description.metadata.userDefined.pop(CONVERSION_DATE_KEY, None)
    spec_path.write_bytes(spec.SerializeToString(deterministic=True))
    manifest_path = path / "Manifest.json"
    manifest = json.loads(manifest_path.read_text())
    renamed = {
        old: str(uuid.uuid5(PACKAGE_NAMESPACE, item["path"])).upper()
        for old, item in manifest["itemInfoEntries"].items()
    }
    manifest["itemInfoEntries"] = {renamed[old]: item for old, item in manifest["itemInfoEntries"].items()}
    manifest["rootModelIdentifier"] = renamed[manifest["rootModelIdentifier"]]
    manifest_path.write_text(json.dumps(manifest, indent=4, sort_keys=True) + "\n")
