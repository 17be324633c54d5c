"""The main job, end to end on one model, as far as edge-sr reaches today.

zoo checkpoint -> load (arch detection, strict keys) -> collapse (verified) -> deploy
checkpoint -> evaluation on the benchmark sets found under ``$EDGE_SR_DATA`` -> one upscaled
DIV2K LR image -> every conversion target (fp32, 256x256, each verified in its runtime) ->
INT8 for every target with an INT8 path (DIV2K calibration, refit, float fallback within
0.1 dB on the held-out set; fp32 and int8 artifacts both measured in the runtime on every
benchmark) -> ``summary.json`` and ``summary.md``.  Latency joins this pipeline as it lands.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from edge_sr._files import atomic_output
from edge_sr.collapse import collapse, save_deploy_checkpoint
from edge_sr.errors import DatasetError, EdgeSRError
from edge_sr.evaluate import evaluate
from edge_sr.loading import load
from edge_sr.upscale import upscale_file

DEFAULT_BENCHMARKS = ("Set5", "Set14")
DIV2K_LR_X4 = Path("div2k") / "DIV2K_test_LR_bicubic" / "X4"


def data_root() -> Path:
    root = os.environ.get("EDGE_SR_DATA")
    if not root:
        raise DatasetError("EDGE_SR_DATA is not set: expected it to name the folder holding benchmarks/ and div2k/")
    path = Path(root)
    if not path.is_dir():
        raise DatasetError(f"{path}: EDGE_SR_DATA names no such directory")
    return path


def run_pipeline(
    model: str, output: str | os.PathLike, *, benchmarks: tuple[str, ...] = DEFAULT_BENCHMARKS, echo=print
) -> dict[str, Any]:
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    data = data_root()
    started = time.perf_counter()
    summary: dict[str, Any] = {"model": model, "steps": {}}

    echo(f"[1/6] load {model}")
    source = load(model)
    summary["source"] = source.summary()

    echo(f"[2/6] collapse ({source.arch}, {source.form} form) and write the deploy checkpoint")
    deployed = collapse(source)
    report = deployed.collapse_report
    checkpoint = save_deploy_checkpoint(deployed, out / "deploy.pth")
    reloaded = load(checkpoint)
    summary["steps"]["collapse"] = {**report.as_dict(), "checkpoint": str(checkpoint), "reloaded_form": reloaded.form}
    echo(
        f"      params {report.before.parameters:,} -> {report.after.parameters:,}, "
        f"{report.before.gmacs:.2f} -> {report.after.gmacs:.2f} GMACs @256x256, "
        f"max |diff| {report.max_abs_diff:.2e} ({report.tolerance})"
    )

    echo("[3/6] evaluate (LR = MATLAB bicubic of HR; border crop = scale)")
    evaluations = {}
    for name in benchmarks:
        folder = data / "benchmarks" / name
        result = evaluate(reloaded, folder)
        evaluations[name] = {k: result[k] for k in ("psnr_rgb", "psnr_y", "psnr_y_float", "ssim_y", "images_evaluated")}
        echo(
            f"      {name:<8} PSNR RGB {result['psnr_rgb']:.3f} dB | Y {result['psnr_y']:.3f} dB | "
            f"SSIM Y {result['ssim_y']:.4f}  ({result['images_evaluated']} images)"
        )
    summary["steps"]["evaluate"] = evaluations

    echo("[4/6] upscale one DIV2K LR image")
    lr_images = sorted((data / DIV2K_LR_X4).glob("*.png"))
    if not lr_images:
        raise DatasetError(f"{data / DIV2K_LR_X4}: expected DIV2K x4 LR images, found none")
    tick = time.perf_counter()
    width, height = upscale_file(reloaded, lr_images[0], out / f"{lr_images[0].stem}_x{reloaded.scale}.png")
    summary["steps"]["upscale"] = {
        "input": str(lr_images[0]),
        "output": str(out / f"{lr_images[0].stem}_x{reloaded.scale}.png"),
        "output_size": [width, height],
        "seconds": round(time.perf_counter() - tick, 3),
    }
    echo(f"      {lr_images[0].name} -> {width}x{height} in {summary['steps']['upscale']['seconds']:.2f} s")

    echo("[5/6] convert to every target (fp32, 256x256) and verify each artifact in its runtime")
    from edge_sr.converters import TARGETS
    from edge_sr.converters.pipeline import convert_model
    from edge_sr.converters.spec import ExportSpec

    conversions = {}
    for converter in TARGETS:
        try:
            result = convert_model(reloaded, target=converter.name, spec=ExportSpec(precision="fp32"), output_dir=out / "artifacts")
        except EdgeSRError as error:
            conversions[converter.name] = {"error": str(error)}
            echo(f"      {converter.name:<18} FAILED: {error}")
            continue
        conversions[converter.name] = {
            "artifact": str(result.artifact), "bytes": result.bytes, "verified": result.verified,
            "max_abs_diff": result.max_abs_diff, "seconds": round(result.seconds, 1),
        }
        diff = "-" if result.max_abs_diff is None else f"{result.max_abs_diff:.1e}"
        echo(f"      {converter.name:<18} {result.bytes / 1e6:5.2f} MB  max |diff| {diff:<8} {result.verified} ({result.seconds:.1f} s)")
    summary["steps"]["convert"] = conversions

    echo("[6/6] INT8 for every target with an INT8 path, calibrated on DIV2K; accuracy in the runtime")
    summary["steps"]["int8"] = _int8_step(reloaded, out / "artifacts", data, echo)
    summary["seconds"] = round(time.perf_counter() - started, 2)

    with atomic_output(out / "summary.json") as temporary:
        temporary.write_text(json.dumps(summary, indent=2))
    with atomic_output(out / "summary.md") as temporary:
        temporary.write_text(_markdown(summary))
    echo(f"wrote {out / 'summary.json'} and {out / 'summary.md'} ({summary['seconds']:.1f} s)")
    return summary


def _int8_step(descriptor, output: Path, data: Path, echo) -> dict[str, Any]:
    from edge_sr.converters import TARGETS
    from edge_sr.converters.pipeline import convert_model
    from edge_sr.converters.spec import ExportSpec, ShapePolicy

    datasets = [data / "benchmarks" / name for name in ("Set5", "Set14", "BSD100", "Urban100") if (data / "benchmarks" / name).is_dir()]
    rows: dict[str, Any] = {}
    for converter in TARGETS:
        if not converter.int8_shape_kinds:
            continue
        # Dynamic where the target allows it: whole benchmark images, no tiling.
        shape = ShapePolicy.dynamic() if "dynamic" in converter.int8_shape_kinds else ShapePolicy()
        try:
            result = convert_model(
                descriptor, target=converter.name, spec=ExportSpec(precision="int8", shape=shape),
                output_dir=output, accuracy_datasets=datasets,
                progress=lambda message, name=converter.name: echo(f"      {name}: {message}"),
            )
        except EdgeSRError as error:
            rows[converter.name] = {"error": str(error)}
            echo(f"      {converter.name:<10} FAILED: {error}")
            continue
        contract = json.loads(result.contract.read_text())
        accuracy = contract.get("accuracy", {})
        rows[converter.name] = {
            "artifact": str(result.artifact), "bytes": result.bytes, "verified": result.verified,
            "kept_float": contract["quantization"]["kept_float"],
            "simulated": accuracy.get("simulated"), "datasets": accuracy.get("datasets", {}),
            "seconds": round(result.seconds, 1),
        }
        drops = ", ".join(
            f"{name} {row['int8_drop']['psnr_y']:+.3f}" for name, row in accuracy.get("datasets", {}).items()
        )
        echo(f"      {converter.name:<10} {result.bytes / 1e6:5.2f} MB  Y-PSNR drop: {drops}  float layers: {len(rows[converter.name]['kept_float'])} ({result.seconds:.0f} s)")
    return rows


def _markdown(summary: dict[str, Any]) -> str:
    collapse_step = summary["steps"]["collapse"]
    lines = [
        f"# edge-sr summary: {summary['model']}",
        "",
        f"- arch `{summary['source']['arch']}`, x{summary['source']['scale']}, source form "
        f"`{summary['source']['form']}`, sha256 `{summary['source']['sha256'][:16]}…`",
        f"- collapse: {collapse_step['parameters_before']:,} -> {collapse_step['parameters_after']:,} parameters, "
        f"{collapse_step['macs_before'] / 1e9:.2f} -> {collapse_step['macs_after'] / 1e9:.2f} GMACs at 256x256, "
        f"max abs diff {collapse_step['max_abs_diff']:.2e} (tolerance `{collapse_step['tolerance']}`)",
        "",
        "| dataset | PSNR RGB (NTIRE) | PSNR Y (MATLAB-rounded) | PSNR Y (float) | SSIM Y |",
        "|---|---|---|---|---|",
    ]
    for name, row in summary["steps"]["evaluate"].items():
        lines.append(
            f"| {name} | {row['psnr_rgb']:.3f} | {row['psnr_y']:.3f} | {row['psnr_y_float']:.3f} | {row['ssim_y']:.4f} |"
        )
    lines += ["", "| target | artifact | size | verified | max abs diff vs PyTorch |", "|---|---|---|---|---|"]
    for target, row in summary["steps"].get("convert", {}).items():
        if "error" in row:
            lines.append(f"| {target} | failed | | {row['error']} | |")
            continue
        diff = "—" if row["max_abs_diff"] is None else f"{row['max_abs_diff']:.1e}"
        lines.append(f"| {target} | {Path(row['artifact']).name} | {row['bytes'] / 1e6:.2f} MB | {row['verified']} | {diff} |")
    lines += ["", "| target (int8) | dataset | fp32 Y | int8 Y | drop Y | drop RGB | layers in float |", "|---|---|---|---|---|---|---|"]
    for target, row in summary["steps"].get("int8", {}).items():
        if "error" in row:
            lines.append(f"| {target} | failed: {row['error']} | | | | | |")
            continue
        note = " (simulated)" if row["simulated"] else ""
        for dataset, result in row["datasets"].items():
            lines.append(
                f"| {target}{note} | {dataset} | {result['fp32']['psnr_y']:.3f} | {result['int8']['psnr_y']:.3f} | "
                f"{result['int8_drop']['psnr_y']:+.3f} | {result['int8_drop']['psnr_rgb']:+.3f} | {', '.join(row['kept_float']) or 'none'} |"
            )
    return "\n".join(lines) + "\n"
