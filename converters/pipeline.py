"""The conversion pipeline, the same for every target.

deploy module (collapsed if needed) -> exact rewrites the target needs (each checked) ->
export into a staging folder -> read the artifact back and check names/shapes/ops ->
run it in its own runtime on a real DIV2K LR crop and compare with PyTorch (each size the
shape policy allows; two for dynamic, one odd) -> golden pair -> contract -> move into place.
Any failure removes the staging folder: no artifact is ever left half-written or unverified.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import sys
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image

import edge_sr
from edge_sr.archs import REGISTRY
from edge_sr.collapse import collapse, random_check_image
from edge_sr.converters import get_converter
from edge_sr.converters.base import Converter, nchw_shape
from edge_sr.converters.contract import (
    INPUT_NAME,
    OUTPUT_NAME,
    SCHEMA,
    SCHEMA_VERSION,
    Contract,
    contract_path,
    tensor_facts,
)
from edge_sr.converters.prepare import ChannelsLast, check_rewrite, replace_normalization, replace_pixel_shuffle
from edge_sr.converters.spec import ExportSpec
from edge_sr.descriptor import ModelDescriptor
from edge_sr.errors import EdgeSRError, OptionError, VerificationError
from edge_sr.tolerances import Tolerance

CONVERT_FP32 = Tolerance(
    name="convert-fp32", atol=1e-4, rtol=0.0,
    meaning="fp32 artifact in its runtime vs the PyTorch deploy module, max abs difference",
)
CONVERT_INT8_MIN_PSNR_DB = 40.0
"""INT8 artifacts: PSNR of the artifact's output vs the PyTorch quantize/dequantize graph it was
converted from (peak 1.0), at least this; runtimes fuse and round integer ops differently."""
CONVERT_FP16_MIN_PSNR_DB = 50.0
"""fp16 artifacts: PSNR of the clamped output vs the fp32 PyTorch output (peak 1.0), at least this."""
GOLDEN_WINDOW = 64
VERIFY_IMAGE = Path("div2k") / "DIV2K_test_LR_bicubic" / "X4" / "0901x4.png"


@contextlib.contextmanager
def native_output_silenced():
    """Send what SDKs print from native code and progress bars (fds 1 and 2) to a scratch file.

    Converters and runtimes print banners, progress bars and CPU probes that would bury the
    CLI's one-line results; errors still surface as Python exceptions.  EDGE_SR_DEBUG=1 keeps
    everything visible.
    """
    if os.environ.get("EDGE_SR_DEBUG"):
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


class ConverterUnavailable(EdgeSRError):
    """A target's SDK is not installed."""


class ConversionError(EdgeSRError):
    """A target's SDK failed to convert the network."""


@dataclass(frozen=True)
class ConversionResult:
    target: str
    artifact: Path
    contract: Path
    bytes: int
    verified: str
    max_abs_diff: float | None
    psnr_db: float | None
    seconds: float


def _verification_image() -> tuple[np.ndarray | None, str]:
    root = os.environ.get("EDGE_SR_DATA")
    if root and (Path(root) / VERIFY_IMAGE).is_file():
        image = np.asarray(Image.open(Path(root) / VERIFY_IMAGE).convert("RGB"))
        return image, f"DIV2K test LR x4 {VERIFY_IMAGE.name}"
    return None, "seeded smooth random image (EDGE_SR_DATA with DIV2K not available)"


def verification_crop(height: int, width: int) -> tuple[torch.Tensor, str]:
    """NCHW float32 [0, 1] crop (values k/255) from the centre of the verification image."""
    image, source = _verification_image()
    if image is None:
        x = random_check_image(height, width)
        return torch.round(x * 255) / 255, source
    if image.shape[0] < height or image.shape[1] < width:
        factor = max(height / image.shape[0], width / image.shape[1])
        size = (math.ceil(image.shape[1] * factor), math.ceil(image.shape[0] * factor))
        image = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BICUBIC))
        source += " (enlarged to cover the size)"
    top, left = (image.shape[0] - height) // 2, (image.shape[1] - width) // 2
    crop = image[top : top + height, left : left + width]
    tensor = torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1)).astype(np.float32) / 255.0)[None]
    return tensor, f"{source}, centre crop {width}x{height} at ({left}, {top})"


def psnr(candidate: torch.Tensor, reference: torch.Tensor) -> float:
    mse = float(((candidate.clamp(0, 1) - reference.clamp(0, 1)).double() ** 2).mean())
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def _prepare(module: torch.nn.Module, converter: Converter, spec: ExportSpec, sample: torch.Tensor) -> tuple[torch.nn.Module, list[str]]:
    prepared, notes = module, []
    if converter.rewrite_normalization:
        prepared, count = replace_normalization(prepared)
        if count:
            diff = check_rewrite(module, prepared, sample, what="input normalisation as a depthwise conv")
            notes.append(f"input normalisation exported as a depthwise 1x1 conv (checked: max diff {diff:.1e})")
    if converter.rewrite_pixel_shuffle:
        before = prepared
        prepared, count = replace_pixel_shuffle(prepared)
        if count:
            diff = check_rewrite(before, prepared, sample, what="pixel shuffle as a one-hot transposed conv")
            notes.append(f"pixel shuffle exported as a one-hot transposed conv (checked: max diff {diff:.1e})")
    if spec.layout == "nhwc":
        prepared = ChannelsLast(prepared)
    return prepared.eval(), notes


def _run_and_compare(
    run, runtime_name: str, x: torch.Tensor, reference: torch.Tensor, *, spec: ExportSpec, target: str
) -> tuple[torch.Tensor, float, float]:
    """Run an artifact on ``x`` and hold it to the precision's tolerance; returns (output, diff, PSNR)."""
    height, width = x.shape[2], x.shape[3]
    try:
        with native_output_silenced():
            candidate = run(x)
    except Exception as error:
        text = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ConversionError(
            f"{target}: the artifact converted, but {runtime_name} failed to run it at "
            f"{height}x{width} ({type(error).__name__}: {text[:300]})"
        ) from None
    if candidate.shape != reference.shape:
        raise VerificationError(
            f"{target}: {runtime_name} returned shape {tuple(candidate.shape)} for input {height}x{width}, "
            f"expected {tuple(reference.shape)}"
        )
    diff = float((candidate - reference).abs().max())
    quality = psnr(candidate, reference)
    if spec.precision == "fp32" and diff > CONVERT_FP32.atol:
        raise VerificationError(
            f"{target}: {runtime_name} output differs from PyTorch by {diff:.3g} at {height}x{width} "
            f"(tolerance {CONVERT_FP32.name}: {CONVERT_FP32.atol:g})"
        )
    if spec.precision == "fp16" and quality < CONVERT_FP16_MIN_PSNR_DB:
        raise VerificationError(
            f"{target}: fp16 output of {runtime_name} reaches only {quality:.1f} dB PSNR vs fp32 at "
            f"{height}x{width} (needs {CONVERT_FP16_MIN_PSNR_DB:g} dB)"
        )
    if spec.precision == "int8" and quality < CONVERT_INT8_MIN_PSNR_DB:
        raise VerificationError(
            f"{target}: int8 output of {runtime_name} reaches only {quality:.1f} dB PSNR vs the PyTorch "
            f"quantised graph at {height}x{width} (needs {CONVERT_INT8_MIN_PSNR_DB:g} dB)"
        )
    return candidate, diff, quality


def _verification_tolerance(precision: str) -> dict[str, Any]:
    """The named tolerance an artifact of ``precision`` is held to against its PyTorch source."""
    if precision == "fp32":
        return {"name": CONVERT_FP32.name, "max_abs_diff": CONVERT_FP32.atol}
    if precision == "fp16":
        return {"name": "convert-fp16-psnr", "min_psnr_db": CONVERT_FP16_MIN_PSNR_DB}
    return {"name": "convert-int8-vs-pytorch-quantised-graph", "min_psnr_db": CONVERT_INT8_MIN_PSNR_DB}


def _build_key(deploy: ModelDescriptor, converter: Converter, spec: ExportSpec) -> str:
    """What makes two INT8 builds the same: weights, recipe, quantiser, graph passes, folding."""
    import json

    quantizer = type(converter.int8_quantizer())
    return json.dumps({
        "weights": deploy.sha256, "arch": deploy.arch, "recipe": spec.recipe.to_dict(),
        "quantizer": f"{quantizer.__module__}.{quantizer.__qualname__}",
        "passes": [p.__name__ for p in converter.int8_graph_passes()], "fold_quantize": converter.int8_fold_quantize,
    }, sort_keys=True)


def _build_int8(deploy: ModelDescriptor, converter: Converter, spec: ExportSpec, sample: torch.Tensor, *, progress=None, builds: dict | None = None):
    """The INT8 build for ``spec.recipe``; reused from ``builds`` (keyed by :func:`_build_key`)
    when another target with the same quantiser already made it (e.g. ExecuTorch, ONNX and
    CoreML all use XNNPACK's annotation)."""
    if builds is not None:
        key = _build_key(deploy, converter, spec)
        if key in builds:
            if progress:
                progress("reusing the INT8 build of an earlier target (same quantiser and recipe)")
            return builds[key]
    build = _make_int8_build(deploy, converter, spec, sample, progress=progress)
    if builds is not None:
        builds[key] = build
    return build


def _make_int8_build(deploy: ModelDescriptor, converter: Converter, spec: ExportSpec, sample: torch.Tensor, *, progress=None):
    from edge_sr.quant.flow import build_int8, calibration_inputs

    recipe = spec.recipe
    batches, validation, calibration = calibration_inputs(recipe, scale=deploy.scale)
    low = max(16, REGISTRY.get(deploy.arch).min_dynamic_input_size)
    # The float graph is exported with free H/W: calibration crops and the artifact's size differ.
    height = torch.export.Dim("height", min=low, max=2048)
    width = torch.export.Dim("width", min=low, max=2048)
    build = build_int8(
        deploy.module, recipe=recipe, quantizer_factory=converter.int8_quantizer, sample=batches[0],
        dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=64), 2: height, 3: width},), batches=batches, validation=validation, scale=deploy.scale,
        graph_passes=converter.int8_graph_passes(), fold_quantize=converter.int8_fold_quantize, progress=progress,
    )
    build.report["calibration"] = calibration
    return build


def _int8_accuracy(
    deploy, converter, spec, int8_runner, build, datasets, *, output: Path, name: str, int8_bytes: int, progress=None
) -> dict[str, Any]:
    """fp32 artifact vs int8 artifact, each in the target's runtime, on ``datasets``; with both
    artifacts' sizes, since a tight budget can keep so much in float that the int8 one is the larger."""
    from edge_sr.quant.accuracy import FLAT_FIELD_SIZE, compare, flat_colours, flat_field
    from edge_sr.tiling import tiled

    fp32_spec = dataclasses.replace(spec, precision="fp32", recipe=None)
    if progress:
        progress("converting the fp32 reference artifact")
    stem = name.removesuffix(".int8") + ".fp32"
    fp32 = convert_model(deploy, target=converter.name, spec=fp32_spec, output_dir=output, stem=stem)
    if int8_runner is not None:
        with native_output_silenced():
            fp32_runner = converter.runner(fp32.artifact, fp32_spec)
        runs = {"fp32": fp32_runner, "int8": int8_runner}
        how = f"both artifacts run in {converter.runtime_name}"
    else:
        runs = {"fp32": deploy.module, "int8": build.converted}
        how = f"simulated: {converter.runtime_name} cannot run here; fp32 = PyTorch deploy module, int8 = PyTorch quantize/dequantize graph"
    tiling = None
    flat_size = FLAT_FIELD_SIZE
    if spec.shape.kind == "fixed":
        tile = flat_size = spec.shape.sizes[0]
        overlap = max(4, min(tile) // 8)
        runs = {key: tiled(run, tile=tile, scale=deploy.scale, overlap=overlap) for key, run in runs.items()}
        tiling = {"tile": list(tile), "overlap": overlap}
    if progress:
        progress("measuring accuracy on " + ", ".join(d.name for d in datasets))
    with native_output_silenced():
        result = compare(runs, datasets, scale=deploy.scale, progress=False)
        flat = flat_field(runs, size=flat_size)
        colours = flat_colours(runs, size=flat_size)
    return {
        "how": how,
        "simulated": int8_runner is None,
        "fp32_artifact": fp32.artifact.name,
        "artifact_bytes": {"fp32": fp32.bytes, "int8": int8_bytes, "int8_vs_fp32": round(int8_bytes / fp32.bytes, 4)},
        "tiling": tiling,
        "protocols": {"psnr_rgb": "RGB, border = scale (NTIRE)", "psnr_y": "Y MATLAB-rounded, border = scale (papers)"},
        **result,
        "flat_field": flat,
        "flat_colours": colours,
    }


def _check_io(inspected: dict[str, Any], spec: ExportSpec, scale: int, target: str) -> list[str]:
    """Compare the artifact's declared I/O with the spec; returns the checks that ran."""
    checks = []
    inputs, outputs = inspected.get("inputs"), inspected.get("outputs")
    if inputs is None:
        return checks
    names = ([i["name"] for i in inputs], [o["name"] for o in outputs])
    if names != ([INPUT_NAME], [OUTPUT_NAME]):
        raise VerificationError(f"{target}: expected I/O named {INPUT_NAME!r} -> {OUTPUT_NAME!r}, found {names[0]} -> {names[1]}")
    checks.append("io-names")
    if spec.shape.kind == "fixed" and not spec.image_io and "shape" in inputs[0]:
        expected = nchw_shape(spec, scale, output=False)
        if [int(v) for v in inputs[0]["shape"]] != expected:
            raise VerificationError(f"{target}: expected input shape {expected}, found {inputs[0]['shape']}")
        checks.append("input-shape")
    if spec.shape.kind == "enumerated":
        found = sorted(tuple(s[-2:]) if spec.layout == "nchw" else tuple(s[1:3]) for s in inputs[0].get("enumerated", []))
        if found != sorted(spec.shape.sizes):
            raise VerificationError(f"{target}: expected enumerated sizes {sorted(spec.shape.sizes)}, found {found}")
        checks.append("enumerated-shapes")
    return checks


def convert_model(
    descriptor: ModelDescriptor,
    *,
    target: str,
    spec: ExportSpec,
    output_dir: str | os.PathLike,
    stem: str | None = None,
    progress: Callable[[str], None] | None = None,
    accuracy_datasets: list[Path] | None = None,
    int8_builds: dict | None = None,
) -> ConversionResult:
    """Convert ``descriptor`` for ``target`` into ``output_dir``; verified, with its contract.

    ``spec.precision == "int8"`` quantises with ``spec.recipe`` first (see ``edge_sr.quant.flow``);
    the artifact is then verified against the PyTorch quantize/dequantize graph, and with
    ``accuracy_datasets`` the fp32 artifact is converted beside it and both are evaluated in the
    target's runtime (``contract["accuracy"]``).  ``int8_builds`` (a dict the caller keeps)
    shares INT8 builds between targets whose quantiser and recipe agree.
    """
    converter = get_converter(target)
    missing = converter.missing_packages()
    if missing:
        raise ConverterUnavailable(
            f"target {target}: the Python package(s) {', '.join(missing)} are not installed; "
            f"install with: pip install {' '.join(missing)}"
        )
    reason = converter.unsupported(spec)
    if reason:
        raise OptionError(f"target {target} cannot honour {spec.as_dict()}: {reason}")
    started = time.perf_counter()
    deploy = collapse(descriptor) if descriptor.form != "deploy" else descriptor
    if spec.shape.kind == "dynamic":
        floor = REGISTRY.get(deploy.arch).min_dynamic_input_size
        if spec.shape.min_size < floor:
            spec = dataclasses.replace(spec, shape=dataclasses.replace(spec.shape, min_size=floor))
    module = deploy.module
    export_height, export_width = spec.shape.export_size()
    export_height = max(export_height, deploy.min_input_size)
    export_width = max(export_width, deploy.min_input_size)
    sample, _ = verification_crop(export_height, export_width)
    build = None
    if spec.precision == "int8":
        build = _build_int8(deploy, converter, spec, sample, progress=progress, builds=int8_builds)
        # The artifact is held to the quantised graph it comes from, not to the float network.
        module, prepared, notes = build.converted, None, []
    else:
        prepared, notes = _prepare(module, converter, spec, sample)
    sample_in_layout = sample.permute(0, 2, 3, 1).contiguous() if spec.layout == "nhwc" and not spec.image_io else sample

    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    name = stem or f"{deploy.zoo_name or Path(deploy.source).stem}.{spec.precision}"
    artifact_name = name + converter.suffix
    staging = Path(tempfile.mkdtemp(prefix=".edge-sr-convert-", dir=output))
    try:
        artifact = staging / artifact_name
        tick = time.perf_counter()
        try:
            with native_output_silenced():
                if build is not None:
                    facts = converter.export_int8(build, spec, artifact, sample=sample)
                else:
                    facts = converter.export(prepared, spec, artifact, sample=sample_in_layout)
        except EdgeSRError:
            raise
        except Exception as error:
            text = str(error).strip().splitlines()[0] if str(error).strip() else ""
            hint = converter.explain(error, spec)
            raise ConversionError(
                f"{target}: {converter.title} could not convert {deploy.arch} ({type(error).__name__}: {text[:300]})"
                + (f"; {hint}" if hint else "")
            ) from None
        export_seconds = time.perf_counter() - tick
        with native_output_silenced():
            inspected = converter.inspect(artifact)
        checks = ["spec-read-back"] + _check_io(inspected, spec, deploy.scale, target)
        if inspected.get("high_rank_reshapes"):
            raise VerificationError(f"{target}: rank>4 RESHAPE/TRANSPOSE in the graph: {inspected['high_rank_reshapes'][:3]}")

        with native_output_silenced():
            runner = converter.runner(artifact, spec)
        verification: dict[str, Any] = {"runtime": None, "ran": False, "checks": checks, "sizes": []}
        golden_input, golden_output, golden_source = None, None, "pytorch"
        worst_diff, worst_psnr = 0.0, math.inf
        for height, width in spec.shape.check_sizes():
            height, width = max(height, deploy.min_input_size), max(width, deploy.min_input_size)
            x, crop_source = verification_crop(height, width)
            with torch.inference_mode():
                reference = module(x)
            row: dict[str, Any] = {"size": [height, width], "input": crop_source}
            candidate = None
            if runner is not None:
                candidate, diff, quality = _run_and_compare(runner, converter.runtime_name, x, reference, spec=spec, target=target)
                row.update(max_abs_diff=diff, psnr_db=None if math.isinf(quality) else quality)
                worst_diff, worst_psnr = max(worst_diff, diff), min(worst_psnr, quality)
            verification["sizes"].append(row)
            if golden_input is None or height * width < golden_input.shape[2] * golden_input.shape[3]:
                golden_input, golden_output = x, (candidate if candidate is not None else reference)
                golden_source = converter.runtime_name if candidate is not None else "pytorch (artifact not runnable here)"
        secondary, secondary_notes = converter.secondary_runners(artifact, spec)
        verification["secondary"] = []
        for runtime_name, secondary_runner in secondary.items():
            # Other runtimes are checked on the golden input (the smallest size checked above).
            height, width = golden_input.shape[2], golden_input.shape[3]
            with torch.inference_mode():
                reference = module(golden_input)
            _, diff, _ = _run_and_compare(secondary_runner, runtime_name, golden_input, reference, spec=spec, target=target)
            verification["secondary"].append({"runtime": runtime_name, "size": [height, width], "max_abs_diff": diff})
            checks.append("secondary-runtime")
        notes.extend(secondary_notes)
        # Stated even when the runtime cannot run here: a device-side check (e.g. CoreML on
        # macOS) holds the artifact to the same named tolerance against the golden pair.
        verification["tolerance"] = _verification_tolerance(spec.precision)
        if runner is not None:
            verification.update(
                runtime=converter.runtime_name,
                ran=True,
                max_abs_diff=worst_diff,
                psnr_db=None if math.isinf(worst_psnr) else worst_psnr,
            )
            checks.append("numerics")
        else:
            verification["not_run_because"] = f"{converter.runtime_name} cannot run on {platform.system()}"
        verification["passed"] = True

        golden = _write_golden(staging, artifact_name, golden_input, golden_output, golden_source)
        seconds = time.perf_counter() - started
        contract = _contract(
            deploy=deploy, converter=converter, spec=spec, artifact=artifact, inspected=inspected,
            facts=facts, notes=notes, verification=verification, golden=golden,
            export_seconds=export_seconds, seconds=seconds,
        )
        if build is not None:
            contract["quantization"] = {**build.report, "kept_float": build.keep_float}
            if accuracy_datasets:
                contract["accuracy"] = _int8_accuracy(
                    deploy, converter, spec, runner, build, accuracy_datasets, output=output, name=name,
                    int8_bytes=_size(artifact), progress=progress,
                )
        Contract(contract).write(contract_path(artifact))
        _move_into_place(staging, output)
        return ConversionResult(
            target=target,
            artifact=output / artifact_name,
            contract=contract_path(output / artifact_name),
            bytes=_size(output / artifact_name),
            verified=(
                f"ran in {' + '.join([converter.runtime_name] + [row['runtime'] for row in verification['secondary']])}"
                if runner is not None
                else "spec read back (runtime not available here)"
            ),
            max_abs_diff=verification.get("max_abs_diff"),
            psnr_db=verification.get("psnr_db"),
            seconds=seconds,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _write_golden(staging: Path, artifact_name: str, x: torch.Tensor, y: torch.Tensor, source: str) -> dict[str, Any]:
    input_file = f"{artifact_name}.golden-input.png"
    output_file = f"{artifact_name}.golden-output.npy"
    pixels = torch.round(x[0] * 255).clamp(0, 255).byte().permute(1, 2, 0).numpy()
    Image.fromarray(pixels).save(staging / input_file)
    height, width = y.shape[2], y.shape[3]
    size_h, size_w = min(GOLDEN_WINDOW, height), min(GOLDEN_WINDOW, width)
    top, left = (height - size_h) // 2, (width - size_w) // 2
    window = y[:, :, top : top + size_h, left : left + size_w].float().contiguous().numpy()
    np.save(staging / output_file, window)
    return {
        "input": input_file,
        "input_format": "8-bit RGB PNG; the tensor is pixel / 255 in the contract's input layout",
        "output": output_file,
        "output_format": "float32 .npy, NCHW, a window of the full output",
        "output_window": {"top": top, "left": left, "height": size_h, "width": size_w},
        "output_source": source,
    }


def _contract(*, deploy, converter, spec, artifact, inspected, facts, notes, verification, golden, export_seconds, seconds) -> dict[str, Any]:
    import hashlib

    digest = hashlib.sha256()
    files = sorted(p for p in ([artifact] if artifact.is_file() else artifact.rglob("*")) if p.is_file())
    for path in files:
        digest.update(path.read_bytes())
    clamped = deploy.arch == "efdn"
    contract = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "artifact": {"file": artifact.name, "format": converter.suffix.lstrip("."), "sha256": digest.hexdigest(), "bytes": _size(artifact)},
        "target": converter.name,
        "model": {
            "arch": deploy.arch,
            "zoo_name": deploy.zoo_name,
            "source": deploy.source,
            "source_sha256": deploy.sha256,
            "hyperparameters": dict(deploy.hyperparameters),
            "min_input_size": deploy.min_input_size,
        },
        "input": {
            **tensor_facts(name=INPUT_NAME, layout=spec.layout, shape=nchw_shape(spec, deploy.scale, output=False), value_range=(0.0, 1.0), clamped=None),
            **({"image": {"type": "RGB8", "scale": 1 / 255}} if spec.image_io else {}),
        },
        "output": {
            **tensor_facts(name=OUTPUT_NAME, layout=spec.layout, shape=nchw_shape(spec, deploy.scale, output=True), value_range=(0.0, 1.0), clamped=clamped or spec.image_io),
            **({"image": {"type": "RGB8", "scale": 255}} if spec.image_io else {}),
        },
        "scale": deploy.scale,
        "complexity": _complexity(deploy),
        "tiling": _tiling(deploy),
        "shape_policy": spec.shape.as_dict(),
        "precision": spec.precision,
        "versions": {"edge_sr": edge_sr.__version__, "torch": torch.__version__, **converter.versions()},
        "converter": {"name": converter.name, "title": converter.title, "spec": spec.as_dict(), "export_seconds": round(export_seconds, 2), "seconds": round(seconds, 2), "details": facts.details, "notes": notes + facts.notes},
        "inspection": inspected,
        "golden": golden,
        "verification": verification,
    }
    _record_integer_io(contract, inspected)
    return contract


def _record_integer_io(contract: dict[str, Any], inspected: dict[str, Any]) -> None:
    """Full-integer artifacts (LiteRT INT8) take and give int8 tensors: the contract says so,
    with the scale and zero point an app needs to make them from pixels."""
    for side, key in (("input", "inputs"), ("output", "outputs")):
        found = inspected.get(key) or []
        if len(found) == 1 and found[0].get("quantization"):
            contract[side]["dtype"] = found[0]["dtype"]
            contract[side]["quantization"] = dict(found[0]["quantization"])


def _complexity(deploy: ModelDescriptor) -> dict[str, Any]:
    from edge_sr.complexity import FLOP_INPUT_SIZE, measure

    counted = measure(deploy.module)
    return {
        "parameters": counted.parameters,
        "macs_at": [FLOP_INPUT_SIZE, FLOP_INPUT_SIZE],
        "macs": counted.macs,
        "macs_per_lr_pixel": round(counted.macs / FLOP_INPUT_SIZE**2, 2),
        "counting": "convolution multiply-accumulates (+4 per bilinear output element), as the NTIRE challenge counts them",
    }


def _tiling(deploy: ModelDescriptor) -> dict[str, Any]:
    """How apps should tile large images: the overlap that makes tiles seamless, measured."""
    from edge_sr.tiling import receptive_radius
    from edge_sr.upscale import GLOBAL_CONTEXT_OVERLAP

    radius = receptive_radius(deploy.module, min_input_size=deploy.min_input_size)
    return {
        "receptive_radius": radius,
        "overlap": GLOBAL_CONTEXT_OVERLAP if radius is None else radius,
        "exact": radius is not None,
    }


def _move_into_place(staging: Path, output: Path) -> None:
    """Rename every staged file into ``output`` (replacing older versions), contract last."""
    entries = sorted(staging.iterdir(), key=lambda p: p.name.endswith(".contract.json"))
    for entry in entries:
        destination = output / entry.name
        if destination.is_dir():
            shutil.rmtree(destination)
        elif destination.exists():
            destination.unlink()
        os.replace(entry, destination)

