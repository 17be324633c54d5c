"""The main job, end to end on one model, as far as edge-sr reaches today.

zoo checkpoint -> load (arch detection, strict keys) -> collapse (verified) -> deploy
checkpoint -> evaluation on the benchmark sets found under ``$EDGE_SR_DATA`` -> one upscaled
DIV2K LR image -> every conversion target (fp32, 256x256, each verified in its runtime) ->
``summary.json`` and ``summary.md``.  INT8 and latency join this pipeline as they land.
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

    echo(f"[1/5] load {model}")
    source = load(model)
    summary["source"] = source.summary()

    echo(f"[2/5] collapse ({source.arch}, {source.form} form) and write the deploy checkpoint")
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

    echo("[3/5] evaluate (LR = MATLAB bicubic of HR; border crop = scale)")
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

    echo("[4/5] upscale one DIV2K LR image")
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

    echo("[5/5] convert to every target (fp32, 256x256) and verify each artifact in its runtime")
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
    summary["seconds"] = round(time.perf_counter() - started, 2)

    with atomic_output(out / "summary.json") as temporary:
        temporary.write_text(json.dumps(summary, indent=2))
    with atomic_output(out / "summary.md") as temporary:
        temporary.write_text(_markdown(summary))
    echo(f"wrote {out / 'summary.json'} and {out / 'summary.md'} ({summary['seconds']:.1f} s)")
    return summary


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
    return "\n".join(lines) + "\n"
