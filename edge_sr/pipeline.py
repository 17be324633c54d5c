"""The main job, end to end on one model, as far as edge-sr reaches today.

zoo checkpoint -> load (arch detection, strict keys) -> collapse (verified) -> deploy
checkpoint -> evaluation on the benchmark sets found under ``$EDGE_SR_DATA`` -> one upscaled
DIV2K LR image -> the report (``edge_sr.report``): every conversion target x fp32 / INT8 (DIV2K
calibration, refit; full W8A8, or within a float budget), each artifact verified and evaluated in its runtime on every
benchmark, timed at 256x256 and 510x339 against the 100 ms budget, budget solver, sensitivity,
gallery -> ``report/report.{html,json,md}``, ``summary.json`` and ``summary.md``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from edge_sr._files import atomic_output
from edge_sr.collapse import collapse, save_deploy_checkpoint
from edge_sr.errors import DatasetError
from edge_sr.evaluate import evaluate
from edge_sr.loading import load
from edge_sr.report.render import row_note, slower_than_fp32, write_report
from edge_sr.upscale import upscale_file

DEFAULT_BENCHMARKS = ("Set5", "Set14")
REPORT_BENCHMARKS = ("Set5", "Set14", "BSD100", "Urban100")
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
    model: str, output: str | os.PathLike, *, benchmarks: tuple[str, ...] = DEFAULT_BENCHMARKS, echo=print, progress: bool = False,
    max_psnr_drop: float | None = None,
) -> dict[str, Any]:
    """The main job on ``model`` into ``output``; returns summary.json's content.

    ``max_psnr_drop`` None builds the report's INT8 artifacts in full W8A8 (the quantiser's own
    accuracy; they reach the demo apps only where flat areas hold); a budget in dB builds them as
    ``edge-sr convert --max-psnr-drop`` does, with layers kept in float.
    """
    from edge_sr.converters import target_names
    from edge_sr.report.build import ReportRequest, build_report

    data = data_root()
    # Built first: a request it refuses (a budget out of range) fails before any work.
    request = ReportRequest(
        models=(model,), targets=tuple(target_names()), datasets=tuple(b for b in REPORT_BENCHMARKS if (data / "benchmarks" / b).is_dir()),
        threads=(os.cpu_count() or 1,), workers=min(2, os.cpu_count() or 1), max_psnr_drop=max_psnr_drop,
    )
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
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

    int8 = "full-W8A8 INT8" if max_psnr_drop is None else f"INT8 within {max_psnr_drop:g} dB"
    echo(f"[5/6] report: every target x fp32/int8 -> convert, verify in the runtime, DIV2K-calibrated {int8}, accuracy, latency")
    report_dir = out / "report"
    # Without the bar, each conversion step is a line of the log: the INT8 builds train for many
    # minutes, and their progress shows there is no hang.
    built = build_report(request, report_dir, progress=progress, say=None if progress else lambda line: echo(f"      {line}"))
    paths = write_report(built, report_dir)
    summary["steps"]["report"] = {
        "html": str(paths["html"]), "json": str(paths["json"]),
        "entries": [
            {k: e.get(k) for k in ("target", "precision", "status", "bytes", "verified", "latency", "speedup_vs_fp32", "accuracy",
                                   "accuracy_error", "kept_float", "error", "note")}
            for e in built["entries"]
        ],
        "budget_solver": built["budget_solver"],
    }
    for entry in built["entries"]:
        latency = ", ".join(f"{k.split('@')[0]} {v:.0f} ms" for k, v in (entry.get("latency") or {}).items() if v is not None)
        drops = _drops(entry)
        kept = f"{len(entry['kept_float'])} layers in float" if entry.get("kept_float") else ""
        detail = entry.get("error") or entry.get("note") or "; ".join(
            x for x in (latency, slower_than_fp32(entry), kept, f"Y drop {drops}" if drops else "") if x)
        echo(f"      {entry['target']:<18} {entry['precision']:<5} {entry['status']:<13} {detail}")

    echo("[6/6] demo apps: the report's verified artifacts placed where each app loads them")
    summary["steps"]["apps"] = _bundle_apps(built, report_dir, out / "apps")
    for app, facts in summary["steps"]["apps"].items():
        echo(f"      {app:<8} {facts['artifacts']} artifacts -> {facts['models_dir'] or 'nothing bundled'}")
        for left in facts["left_out"]:
            echo(f"               left out {left['target']} {left['precision']}: {left['reason']}")
    echo(f"      web demo: edge-sr serve-demo {out / 'apps' / 'web'}")
    summary["seconds"] = round(time.perf_counter() - started, 2)

    with atomic_output(out / "summary.json") as temporary:
        temporary.write_text(json.dumps(summary, indent=2))
    with atomic_output(out / "summary.md") as temporary:
        temporary.write_text(_markdown(summary))
    echo(f"wrote {out / 'summary.json'}, {out / 'summary.md'} and {paths['html']} ({summary['seconds']:.1f} s)")
    return summary


def _bundle_apps(report: dict[str, Any], report_dir: Path, apps_dir: Path) -> dict[str, Any]:
    """Bundle every app from the report's converted artifacts (no second conversion): web gets a
    servable site, Android and iOS a models folder to copy into the app.  An INT8 artifact goes
    in only when it holds the flat-area bound ``edge-sr convert`` holds by default (see
    :func:`_unfit_for_apps`); each app's ``left_out`` says which did not, and why."""
    from edge_sr.app_bundle import APPS, place_bundle

    bundled = {}
    for app, spec in APPS.items():
        candidates = [
            entry for entry in report["entries"]
            if entry["target"] in spec.targets and entry["status"] in ("ok", "spec-verified") and entry.get("artifacts")
        ]
        verdicts = [(entry, _unfit_for_apps(entry, app=app)) for entry in candidates]
        left_out = [
            {"target": entry["target"], "precision": entry["precision"], "reason": reason}
            for entry, reason in verdicts if reason is not None
        ]
        artifacts = [
            (entry["target"], entry["precision"], report_dir / relative)
            for entry, reason in verdicts if reason is None
            for relative in entry["artifacts"]
        ]
        if not artifacts:
            if left_out:
                bundled[app] = {"models_dir": None, "artifacts": 0, "site": None, "left_out": left_out}
            continue
        from edge_sr.converters.contract import contract_path

        facts = json.loads(contract_path(artifacts[0][2]).read_text())["model"]
        model = facts["zoo_name"] or Path(facts["source"]).stem
        output = apps_dir / app if app == "web" else apps_dir / app / "models"
        result = place_bundle(app=app, model=model, artifacts=artifacts, output=output)
        bundled[app] = {"models_dir": str(result.models_dir), "artifacts": len(result.entries),
                        "site": None if result.site_dir is None else str(result.site_dir), "left_out": left_out}
    return bundled


def _unfit_for_apps(entry: dict[str, Any], *, app: str) -> str | None:
    """Why a report entry's artifact must not go into a demo app, or None when it may.

    By default the report builds its INT8 artifacts in full W8A8 to measure the quantiser, and
    full W8A8 casts flat saturated colours by 60-100 levels (README, "Flat areas and saturated
    colours"): a demo would show that on the first screenshot or sky it upscales.  So an INT8
    artifact is bundled only if its measured flat shifts are within the recipe's default
    ``max_flat_shift_levels``, as those built within a budget (``max_psnr_drop``) are; unmeasured
    ones (runtime not on this machine) are not vouched for.
    """
    from edge_sr.quant.recipe import VISIBLE_SHIFT_LEVELS

    if entry["precision"] != "int8":
        return None
    remedy = f"`edge-sr bundle {entry['model']} --app {app}` builds INT8 with the default float budget"
    shifts = [entry[check]["max_abs"] for check in ("flat_field", "flat_colours") if entry.get(check)]
    if len(shifts) < 2:
        return f"its flat greys and saturated colours were not measured here (the runtime is not on this machine); {remedy}"
    if max(shifts) > VISIBLE_SHIFT_LEVELS:
        # Only a measured artifact is helped by a budget: the pipeline would measure it again.
        return (f"full W8A8 shifts flat areas by up to {max(shifts):.1f} levels, over the {VISIBLE_SHIFT_LEVELS:g}-level bound "
                f"edge-sr convert holds by default; {remedy}, `edge-sr pipeline --max-psnr-drop 0.1` bundles it")
    return None


def _drops(entry: dict[str, Any]) -> str:
    """Per dataset, the mean Y drop and the image that dropped most (a mean can hide one that collapses)."""
    parts = []
    for dataset, figures in (entry.get("accuracy") or {}).items():
        if "drop_y" not in figures:
            continue
        worst = figures.get("worst_image")
        parts.append(f"{dataset} {figures['drop_y']:+.3f}" + (f" (worst {worst['image']} {worst['drop_psnr_y']:+.3f})" if worst else ""))
    flat = entry.get("flat_field")
    if flat:
        parts.append(f"flat grey areas shifted by up to {flat['max_abs']:.2f} levels (grey {flat['worst']['level']}, {flat['worst']['channel']})")
    saturated = entry.get("flat_colours")
    if saturated:
        parts.append(f"flat saturated colours by up to {saturated['max_abs']:.2f} ({saturated['worst']['colour']}, {saturated['worst']['channel']})")
    return ", ".join(parts)


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
    report = summary["steps"].get("report", {})
    lines += ["", f"Report: {report.get('html', '')}", "",
              "| target | precision | status | size | latency (median) | kept in float | Y drop | note |", "|---|---|---|---|---|---|---|---|"]
    for entry in report.get("entries", []):
        latency = ", ".join(f"{k.split('@')[0]}: {v:.0f} ms" for k, v in (entry.get("latency") or {}).items() if v is not None)
        drops = _drops(entry)
        size = "" if entry.get("bytes") is None else f"{entry['bytes'] / 1e6:.2f} MB"
        kept = len(entry["kept_float"]) if entry.get("kept_float") is not None else ""
        lines.append(f"| {entry['target']} | {entry['precision']} | {entry['status']} | {size} | {latency} | {kept} | {drops} "
                     f"| {row_note(entry)} |")
    apps = summary["steps"].get("apps", {})
    if apps:
        lines += ["", "| demo app | artifacts | where | left out |", "|---|---|---|---|"]
        for app, facts in apps.items():
            left = "; ".join(f"{x['target']} {x['precision']}: {x['reason']}" for x in facts.get("left_out", []))
            lines.append(f"| {app} | {facts['artifacts']} | {facts['models_dir'] or ''} | {left} |")
    return "\n".join(lines) + "\n"
