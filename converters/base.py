"""The converter interface every target implements, and the runner type every runtime returns."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from edge_sr.converters.spec import ExportSpec
from edge_sr.tolerances import Tolerance

Runner = Callable[[torch.Tensor], torch.Tensor]
"""Runs an artifact: NCHW float32 RGB in [0, 1] (batch 1) in, NCHW float32 out, whatever the
artifact's own layout, dtype or quantisation; so evaluation, benchmarks and tests treat every
runtime alike."""


@dataclass(frozen=True)
class SDK:
    """A Python package a converter or runtime needs: import name and pip name."""

    module: str
    package: str

    def available(self) -> bool:
        return importlib.util.find_spec(self.module) is not None

    def version(self) -> str | None:
        try:
            return importlib.metadata.version(self.package)
        except importlib.metadata.PackageNotFoundError:
            return None


@dataclass
class ExportFacts:
    """What a converter reports about the artifact it wrote."""

    runtime_inputs: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


class Converter(ABC):
    """One deployment target.

    ``export`` writes the artifact for an already prepared module (deploy form, layout applied);
    ``runner`` returns a callable for the artifact in its own runtime, or None when that runtime
    cannot run on this machine (then ``inspect`` is the verification); ``inspect`` reads the
    artifact back and returns facts to check against the spec (I/O names, shapes, op types).
    """

    name: str
    suffix: str
    title: str
    sdks: tuple[SDK, ...]
    runtime_name: str
    default_precision: str = "fp32"
    rewrite_pixel_shuffle: bool = False
    """Replace PixelShuffle by a one-hot transposed conv before export (see ``prepare``)."""
    rewrite_normalization: bool = False
    """Replace SPAN's ``(x - mean) * 255`` by a depthwise 1x1 conv before export (see ``prepare``)."""

    def missing_packages(self) -> list[str]:
        return [sdk.package for sdk in self.sdks if not sdk.available()]

    def versions(self) -> dict[str, str | None]:
        return {sdk.package: sdk.version() for sdk in self.sdks}

    shape_kinds: tuple[str, ...] = ("fixed", "dynamic")
    """Shape policies the format can express (only CoreML has enumerated shapes)."""
    has_image_io: bool = False
    """Whether the format has image-typed inputs/outputs (CoreML)."""

    int8_shape_kinds: tuple[str, ...] = ()
    """Shape policies this target's INT8 path supports (empty: no INT8 path)."""
    int8_fold_quantize: bool = True
    """Whether the q/dq graph handed to ``export_int8`` stores int8 weight constants."""

    def int8_quantizer(self) -> Any:
        """A fresh PT2E quantiser for this target (weights per-channel symmetric int8,
        activations per-tensor int8); the recipe's estimator and fallback are applied around it.

        Default: XNNPACK's annotation (every conv, add, mul, sigmoid, ... quantised in and out),
        whose quantize/dequantize graph ExecuTorch lowers, onnxruntime fuses into QLinear*
        kernels and coremltools turns into MIL quantize/dequantize ops.
        """
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            XNNPACKQuantizer,
            get_symmetric_quantization_config,
        )

        quantizer = XNNPACKQuantizer()
        quantizer.set_global(get_symmetric_quantization_config(is_per_channel=True))
        return quantizer

    def int8_graph_passes(self) -> tuple[Callable[..., int], ...]:
        """Exact rewrites of the exported graph this target's quantiser needs (each returns a count).

        ``x·sigmoid(x)`` instead of ``silu``: the quantisers annotate the product, so the SiLU's
        input channels can be equalised and its output gets its own int8 range (measured on
        SPAN ch28: 0.04 dB less drop on Set14 with equalisation)."""
        from edge_sr.quant.passes import decompose_silu

        return (decompose_silu,)

    def int8_unhonoured(self, recipe: Any) -> list[str]:
        """Parts of an INT8 recipe this target cannot honour (the pipeline refuses them)."""
        if recipe.weight_granularity != "per-channel":
            return [f"the {self.title} INT8 path quantises weights per channel only"]
        return []

    def export_int8(self, build: Any, spec: ExportSpec, path: Path, *, sample: torch.Tensor) -> ExportFacts:
        """Write the INT8 artifact for ``build`` (an :class:`edge_sr.quant.flow.Int8Build`)."""
        raise NotImplementedError(f"{self.name} has no INT8 path")

    def unsupported(self, spec: ExportSpec) -> str | None:
        """Why this target cannot honour ``spec`` (None when it can)."""
        if spec.precision == "int8":
            if not self.int8_shape_kinds:
                return f"{self.title} has no INT8 path"
            if spec.shape.kind not in self.int8_shape_kinds:
                return f"{self.title} INT8 supports {' or '.join(self.int8_shape_kinds)} shapes only"
            if spec.layout != "nchw" or spec.image_io:
                return "INT8 artifacts take NCHW tensors (no NHWC layout or image I/O yet)"
            unhonoured = self.int8_unhonoured(spec.recipe)
            if unhonoured:
                return "; ".join(unhonoured)
        if spec.shape.kind not in self.shape_kinds:
            return f"{self.title} has no {spec.shape.kind} shapes; use {' or '.join(self.shape_kinds)} (--input-size / --dynamic)"
        if spec.image_io and not self.has_image_io:
            return "image I/O is a CoreML option"
        return None

    def explain(self, error: Exception, spec: ExportSpec) -> str | None:
        """A hint for the user when the SDK fails in a known way (None if nothing to add)."""
        return None

    @abstractmethod
    def export(self, module: nn.Module, spec: ExportSpec, path: Path, *, sample: torch.Tensor) -> ExportFacts:
        """Write the artifact to ``path`` (a file, or a directory for packages)."""

    def runs_here(self) -> bool:
        """Whether this target's runtime can run on this machine (else artifacts are spec-verified)."""
        return True

    @abstractmethod
    def runner(self, path: Path, spec: ExportSpec, *, threads: int | None = None) -> Runner | None:
        """A callable running ``path`` in this target's runtime, or None if it cannot run here."""

    def secondary_runners(self, path: Path, spec: ExportSpec) -> tuple[dict[str, Runner], list[str]]:
        """Other runtimes that must agree with the artifact too, and notes on any not available."""
        return {}, []

    @abstractmethod
    def inspect(self, path: Path) -> dict[str, Any]:
        """Facts read back from the artifact: ``inputs``/``outputs`` (name, shape), ``ops`` (types)."""


def nchw_shape(spec: ExportSpec, scale: int, *, output: bool) -> list[int]:
    """The tensor shape a spec implies, -1 for dynamic or enumerated dimensions."""
    if spec.shape.kind == "fixed":
        height, width = spec.shape.sizes[0]
        if output:
            height, width = height * scale, width * scale
    else:
        height = width = -1
    shape = [1, 3, height, width]
    return [shape[0], shape[2], shape[3], shape[1]] if spec.layout == "nhwc" else shape


def to_layout(x: torch.Tensor, layout: str) -> torch.Tensor:
    return x.permute(0, 2, 3, 1).contiguous() if layout == "nhwc" else x.contiguous()


def from_layout(y: torch.Tensor, layout: str) -> torch.Tensor:
    return y.permute(0, 3, 1, 2).contiguous() if layout == "nhwc" else y


FLOAT16_MIN_SAVED_BYTES = 256
"""A weight stored as float16 adds a tensor and a DEQUANTIZE op (LiteRT, ~100 B) or a Cast node and
a second name (ONNX): weights that would save less stay float32."""
FLOAT16_STORAGE_EXACT = Tolerance(
    name="float16-storage-exact",
    atol=0.0,
    rtol=0.0,
    meaning="an artifact storing float16-valued weights as float16 vs the same artifact storing them as float32, same runtime",
)


def check_float16_storage(stored: Runner, reference: Runner, sample: torch.Tensor, *, path: Path) -> float:
    """Run the artifact whose float weights are stored as float16 (``stored``) and the same
    artifact with them in float32 (``reference``) on ``sample`` (NCHW float32 RGB in [0, 1]);
    they must agree to the bit (:data:`FLOAT16_STORAGE_EXACT`).  Returns the max abs difference."""
    from edge_sr.errors import VerificationError

    holds, diff, bound = FLOAT16_STORAGE_EXACT.check(stored(sample), reference(sample))
    if not holds:
        raise VerificationError(
            f"{path}: storing float weights as float16 changed the output by {diff:.3g} "
            f"(tolerance {FLOAT16_STORAGE_EXACT.name}: {bound:g})"
        )
    return diff
