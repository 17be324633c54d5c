"""``edge-sr`` command line.  Errors become one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence

from edge_sr import zoo
from edge_sr._files import atomic_output
from edge_sr.errors import EdgeSRError, OptionError
from edge_sr.quiet import quiet_libraries

EXIT_ERROR = 2
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130


def _add_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="checkpoint file or zoo name (see `edge-sr models`)")
    parser.add_argument("--edbb-variant", help="EFDN train-form files: 'plain' or 'gv' (+1x1-3x3, +identity)")
    parser.add_argument("--lora-weights", choices=("unmerged", "merged"), help="files with LoRA factors: whether weights already include the update")
    parser.add_argument("--lora-scaling", type=float, help="LoRA alpha/rank (default 2.0, DSCLoRA's)")


def _load(args: argparse.Namespace):
    from edge_sr.loading import load

    return load(args.model, edbb_variant=args.edbb_variant, lora_weights=args.lora_weights, lora_scaling=args.lora_scaling)


def _write_json(path: str, payload: object) -> None:
    with atomic_output(path) as temporary:
        temporary.write_text(json.dumps(payload, indent=2))


def cmd_models(args: argparse.Namespace) -> int:
    rows = [
        {
            "name": e.name, "family": e.family, "arch": e.arch, "scale": e.scale,
            "parameters": e.parameters, "gflops_256": round(e.macs / 1e9, 2), "source": e.source,
            "license": e.license, "url": e.url, "sha256": e.sha256,
        }
        for e in zoo.ZOO
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = f"{'name':<14} {'family':<11} {'arch':<11} {'scale':>5} {'params':>9} {'GFLOPs@256':>10}  source"
    print(header)
    print("-" * len(header))
    for r in rows:
        default = "  (default)" if r["name"] == zoo.DEFAULT_MODEL else ""
        print(
            f"{r['name']:<14} {r['family']:<11} {r['arch']:<11} x{r['scale']:<4} {r['parameters']:>9,} "
            f"{r['gflops_256']:>10.2f}  {r['source']}{default}"
        )
    print("\nFLOPs: convolution MACs at a 256x256 input, as the NTIRE challenge counts them.")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from edge_sr.complexity import measure

    descriptor = _load(args)
    facts = descriptor.summary()
    complexity = measure(descriptor.module)
    facts.update(parameters=complexity.parameters, macs_256=complexity.macs, wrapper=descriptor.wrapper)
    if args.json:
        print(json.dumps(facts, indent=2))
    else:
        for key, value in facts.items():
            print(f"{key:>16}: {value}")
    return 0


def cmd_collapse(args: argparse.Namespace) -> int:
    from edge_sr.collapse import collapse, save_deploy_checkpoint
    from edge_sr.loading import load

    descriptor = _load(args)
    deployed = collapse(descriptor)
    save_deploy_checkpoint(deployed, args.output)
    load(args.output)  # prove the file reads back before reporting success
    report = deployed.collapse_report
    print(
        f"{descriptor.source}: {descriptor.arch} {descriptor.form} -> deploy, "
        f"params {report.before.parameters:,} -> {report.after.parameters:,}, "
        f"GMACs@256 {report.before.gmacs:.2f} -> {report.after.gmacs:.2f}, "
        f"max |diff| {report.max_abs_diff:.2e} <= {report.bound:.2e} ({report.tolerance}); wrote {args.output}"
    )
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from edge_sr.evaluate import evaluate

    descriptor = _load(args)
    result = evaluate(descriptor, args.dataset, protocol=args.protocol, progress=None if args.progress is None else args.progress)
    parts = [f"{k} {result[k]:.4f}" for k in ("psnr_rgb", "psnr_y", "psnr_y_float", "ssim_y") if result.get(k) is not None]
    print(f"{descriptor.source} on {args.dataset} ({result['images_evaluated']} images): {', '.join(parts)}")
    if args.json:
        _write_json(args.json, result)
    return 0


def cmd_upscale(args: argparse.Namespace) -> int:
    from edge_sr.upscale import upscale_file

    descriptor = _load(args)
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    width, height = upscale_file(
        descriptor, args.input, args.output, tile=args.tile, overlap=args.overlap, progress=progress,
        notify=lambda note: print(f"edge-sr: note: {note}", file=sys.stderr),
    )
    print(f"wrote {args.output} ({width}x{height})")
    return 0


def _export_spec(args: argparse.Namespace, precision: str):
    from edge_sr.converters.spec import ExportSpec, ShapePolicy, parse_size

    chosen = [bool(args.input_size), args.dynamic, bool(args.sizes)]
    if sum(chosen) > 1:
        raise OptionError("choose one of --input-size, --sizes and --dynamic")
    if args.dynamic:
        shape = ShapePolicy.dynamic()
    elif args.sizes:
        shape = ShapePolicy.enumerated([parse_size(text) for text in args.sizes.split(",")])
    else:
        shape = ShapePolicy.fixed(*parse_size(args.input_size or "256x256"))
    recipe = _recipe(args) if precision == "int8" else None
    return ExportSpec(precision=precision, shape=shape, layout=args.layout, image_io=args.image_io, recipe=recipe)


def _recipe_file(path_text: str | None):
    """The recipe JSON ``--recipe`` names, or the default recipe."""
    from pathlib import Path

    from edge_sr.quant.recipe import Int8Recipe

    if not path_text:
        return Int8Recipe()
    path = Path(path_text)
    try:
        return Int8Recipe.from_json(path.read_text())
    except (OSError, ValueError) as error:
        raise OptionError(f"{path}: expected an edge-sr int8 recipe (JSON), could not read it: {error}") from None
    except OptionError as error:  # read, but not a recipe this edge-sr builds
        raise OptionError(f"{path}: {error}") from None


def _recipe(args: argparse.Namespace):
    import dataclasses

    recipe = _recipe_file(args.recipe)
    calibration = recipe.calibration
    overrides = {
        "source": args.calib,
        "images": args.calib_images,
        "crop": args.calib_crop,
        "crop_candidates": args.calib_candidates,
        "validation_images": args.validation_images,
        "threads": args.calib_threads,
    }
    calibration = dataclasses.replace(calibration, **{k: v for k, v in overrides.items() if v is not None})
    changes: dict = {"calibration": calibration}
    if args.calib_method:
        changes["range_estimator"] = args.calib_method
    if args.weight_rounding:
        changes["weight_rounding"] = args.weight_rounding
    if args.float_weights:
        changes["float_weights"] = args.float_weights
    if args.reconstruct_steps is not None:
        changes["reconstruction_steps"] = args.reconstruct_steps
    if args.no_equalize:
        changes["equalize"] = False
    if args.compose_pointwise:
        changes["compose_pointwise"] = args.compose_pointwise
    if args.keep_float:
        changes["keep_float"] = tuple(label.strip() for label in args.keep_float.split(",") if label.strip())
    if args.reference_psnr is not None:
        changes["reference_psnr_db"] = args.reference_psnr
    bounds = {
        "max_psnr_drop": ("--max-psnr-drop", args.max_psnr_drop, "dB (e.g. 0.1)"),
        "max_flat_shift_levels": ("--max-flat-shift", args.max_flat_shift, "8-bit levels (e.g. 8)"),
    }
    for field, (option, value, unit) in bounds.items():
        if value is not None:
            changes[field] = _number_or_off(option, value, unit)
    return dataclasses.replace(recipe, **changes)


def _max_psnr_drop(args: argparse.Namespace) -> float | None:
    return _number_or_off("--max-psnr-drop", args.max_psnr_drop, "dB (e.g. 0.1)")


def _number_or_off(option: str, value: str, unit: str) -> float | None:
    if value == "off":
        return None
    try:
        return float(value)
    except ValueError:
        raise OptionError(f"{option} {value!r}: expected {unit} or 'off'") from None


def _accuracy_datasets(args: argparse.Namespace):
    from pathlib import Path

    from edge_sr.errors import DatasetError

    if args.accuracy == "none":
        return None
    root = Path(os.environ.get("EDGE_SR_DATA", "")) / "benchmarks"
    folders = []
    for name in args.accuracy.split(","):
        folder = Path(name) if os.sep in name or Path(name).is_dir() else root / name
        if not folder.is_dir():
            raise DatasetError(f"--accuracy {name}: expected a benchmark folder (or a name under $EDGE_SR_DATA/benchmarks), found no {folder}")
        folders.append(folder)
    return folders


def _add_recipe_options(parser: argparse.ArgumentParser) -> None:
    from edge_sr.quant.recipe import COMPOSE_POINTWISE, FLOAT_WEIGHTS, RANGE_ESTIMATORS, WEIGHT_ROUNDINGS

    group = parser.add_argument_group("int8 (post-training quantisation)")
    group.add_argument("--recipe", help="an int8 recipe JSON file (options below override its fields)")
    group.add_argument("--calib", help="calibration images: 'div2k' (default) or a folder")
    group.add_argument("--calib-images", type=int, help="number of calibration crops (default 32)")
    group.add_argument("--calib-crop", type=int, help="calibration crop size in LR pixels (default 128)")
    group.add_argument("--calib-candidates", type=int, metavar="N",
                       help="each crop is the most detailed of N seeded positions in its image (default 32; 1 = random crops)")
    group.add_argument("--validation-images", type=int, help="held-out images the fallback is decided on (default 12)")
    group.add_argument("--calib-method", choices=RANGE_ESTIMATORS, help="activation range estimator (default mse)")
    group.add_argument(
        "--calib-threads", type=int, metavar="N",
        help="PyTorch threads the quantisation runs on (default 1: the same artifact on any core count; "
        "N is faster and reproducible only on N threads)",
    )
    group.add_argument(
        "--no-equalize", action="store_true",
        help="skip the exact per-channel activation equalisation (on by default; see edge_sr.quant.equalize)",
    )
    group.add_argument(
        "--compose-pointwise", choices=COMPOSE_POINTWISE,
        help="compose each 1x1 conv with the convs it reads (exact; see edge_sr.quant.passes): always, never, or "
        "auto (default): calibrate both networks and keep the one with the lower held-out drop bound",
    )
    group.add_argument("--weight-rounding", choices=WEIGHT_ROUNDINGS, help="default refit (sequential least-squares refit + compensated rounding)")
    group.add_argument(
        "--reconstruct-steps", type=int, metavar="N",
        help="train weights through the fake-quantised network towards the float output for N steps "
        "(default 0; ~1.5 s a step for SPAN ch28 on one core; in simulation on all of Set14 / Urban100, 300 steps give its "
        "full-W8A8 network 0.137 / 0.163 dB of drop, 1200 steps 0.121 / 0.147)",
    )
    group.add_argument(
        "--float-weights", choices=FLOAT_WEIGHTS,
        help="weights of the layers kept in float: fp16 (default; rounded in the build, stored as float16 by LiteRT "
        "and ONNX, as float32 by ExecuTorch) or fp32",
    )
    group.add_argument("--keep-float", help="layer labels to keep in float, comma-separated (see `edge-sr quantize --analyze`)")
    group.add_argument("--max-psnr-drop", help="float-fallback budget in dB (default 0.1), or 'off': the drop predicted "
                       "from the output noise on held-out DIV2K images, for content at --reference-psnr")
    group.add_argument("--max-flat-shift", metavar="LEVELS",
                       help="the fallback also keeps layers in float until flat greys and saturated colours come out within "
                       "LEVELS 8-bit levels of float (default 8), or 'off': natural images only")
    group.add_argument("--reference-psnr", type=float, metavar="DB",
                       help="float Y PSNR of the content the budget is stated for (default by scale, about Set14: "
                       "x2 33.5, x3 30, x4 28)")


def cmd_convert(args: argparse.Namespace) -> int:
    from edge_sr.converters import TARGETS, get_converter
    from edge_sr.converters.pipeline import convert_model

    descriptor = _load(args)
    converters = list(TARGETS) if args.target == "all" else [get_converter(args.target)]
    rows, failures, accuracy_rows = [], 0, []
    for converter in converters:
        spec = _export_spec(args, args.precision or converter.default_precision)
        try:
            result = convert_model(
                descriptor, target=converter.name, spec=spec, output_dir=args.output,
                progress=lambda message, name=converter.name: print(f"  {name}: {message}", file=sys.stderr, flush=True),
                accuracy_datasets=_accuracy_datasets(args) if spec.precision == "int8" else None,
            )
        except EdgeSRError as error:
            if len(converters) == 1:
                raise
            failures += 1
            rows.append((converter.name, "-", "-", f"FAILED: {error}", "-", "-", "-"))
            continue
        if spec.precision == "int8":
            accuracy_rows.append((converter.name, json.loads(result.contract.read_text())))
        rows.append(
            (
                converter.name,
                result.artifact.name,
                f"{result.bytes / 1e6:.2f} MB",
                result.verified,
                "-" if result.max_abs_diff is None else f"{result.max_abs_diff:.1e}",
                "-" if result.psnr_db is None else f"{result.psnr_db:.1f}",
                f"{result.seconds:.1f} s",
            )
        )
    header = ("target", "file", "size", "verified", "max |diff|", "PSNR dB", "time")
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths)] + rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    print(f"contracts: <artifact>.contract.json in {args.output}")
    for name, contract in accuracy_rows:
        _print_accuracy(name, contract)
    return EXIT_ERROR if failures else 0


def _print_accuracy(target: str, contract: dict) -> None:
    from edge_sr.quant.recipe import VISIBLE_SHIFT_LEVELS

    quantization = contract.get("quantization", {})
    accuracy = contract.get("accuracy")
    kept = quantization.get("kept_float") or []
    print(f"\n{target} int8: layers kept in float: {', '.join(kept) if kept else 'none'}")
    float_weights = quantization.get("float_weights") or {}
    if float_weights.get("tensors"):
        details = contract.get("converter", {}).get("details", {})
        stored = details.get("float16_weights")
        values = "float16" if float_weights.get("float16_values") == float_weights["tensors"] else "float32"
        line = f"  float convs' weights: {float_weights['tensors']} tensors, {float_weights['parameters']:,} values, as {values} values"
        if values == "float16" and stored is not None:
            line += (f"; stored as float16: {stored['tensors']} ({stored['bytes_saved']:,} B saved)" if stored["tensors"]
                     else f"; {stored.get('why', 'stored as float32')}")
        print(line)
    composition = next((step for step in quantization.get("steps", []) if step.get("step") == "compose-pointwise-convs"), {})
    bounds_by_variant = composition.get("predicted_drop_bound_db", {})
    if len(bounds_by_variant) == 2:
        chosen = composition["chosen"]
        (other,) = set(bounds_by_variant) - {chosen}
        other_name = "composed" if other == "composed" else "apart"
        greys = composition.get("grey_shift_levels")
        print(f"  1×1 convs {'composed' if chosen == 'composed' else 'kept apart'}: all-int8 predicted drop ≤"
              f" {bounds_by_variant[chosen]:.3f} dB, {bounds_by_variant[other]:.3f} {other_name}"
              + (f"; flat greys within {greys[chosen]:.1f} levels, {greys[other]:.1f} {other_name}"
                 f" (limit {composition['max_grey_shift_levels']:g})" if greys else ""))
    fallback = quantization.get("fallback")
    if fallback:
        bounds = (f"predicted drop ≤ {fallback['predicted_drop_bound_db']:.3f} dB from held-out DIV2K images"
                  f" (budget {fallback['max_psnr_drop_db']:g})")
        if fallback.get("flat_shift_levels") is not None:
            bounds += (f", flat greys and saturated colours within {fallback['flat_shift_levels']:.1f} levels"
                       f" (limit {fallback['max_flat_shift_levels']:g})")
        if fallback.get("reconstructed"):
            bounds += ", after output reconstruction"
        verdict = "" if fallback["met"] else "; not met even with every ranked layer in float"
        print(f"  fallback (simulated network): {bounds}{verdict}")
    left = quantization.get("unquantised_by_target") or []
    if left:
        print(f"  not quantised by the target's quantiser (they run on dequantised int8 values, in float unless the converter"
              f" has an integer kernel for them): {', '.join(left)}")
    if not accuracy:
        return
    print(f"  accuracy ({accuracy['how']}):")
    print("  dataset    fp32 Y   int8 Y   drop Y   fp32 RGB  int8 RGB  drop RGB  worst image (drop Y)")
    for dataset, row in accuracy["datasets"].items():
        worst = row.get("int8_worst_image")
        print(
            f"  {dataset:9s}  {row['fp32']['psnr_y']:7.3f}  {row['int8']['psnr_y']:7.3f}  {row['int8_drop']['psnr_y']:+7.3f}"
            f"  {row['fp32']['psnr_rgb']:8.3f}  {row['int8']['psnr_rgb']:8.3f}  {row['int8_drop']['psnr_rgb']:+8.3f}"
            + (f"  {worst['image']} ({worst['drop_psnr_y']:+.3f})" if worst else "")
        )
    flat = (accuracy.get("flat_field") or {}).get("int8")
    if flat:
        levels = accuracy["flat_field"]["levels"]
        print(
            f"  flat grey images ({len(levels)} levels, {levels[0]}-{levels[-1]}): the int8 output's mean is off by up to"
            f" {flat['max_abs']:.2f} 8-bit levels (RMS {flat['rms']:.2f}), worst at grey {flat['worst']['level']}, {flat['worst']['channel']}"
        )
    saturated = (accuracy.get("flat_colours") or {}).get("int8")
    if saturated:
        names = ", ".join(accuracy["flat_colours"]["colours"])
        print(
            f"  flat saturated colours ({names}): the int8 output's mean is off by up to"
            f" {saturated['max_abs']:.2f} 8-bit levels (RMS {saturated['rms']:.2f}), worst on {saturated['worst']['colour']}, {saturated['worst']['channel']}"
        )
    causes = {
        "flat grey areas": (flat, "int8 rounding adds up over flat areas instead of averaging out"),
        "flat saturated colours": (saturated, "no calibration image reaches such colours, so integer layers clip them"),
    }
    for check, (shift, cause) in causes.items():
        if shift and shift["max_abs"] > VISIBLE_SHIFT_LEVELS:
            print(
                f"  warning: {check} come out up to {shift['max_abs']:.1f} levels off, a visible cast on graphics, UI and sky"
                f" ({cause}); layers kept in float (--max-psnr-drop) can remove it: check this line for the artifact you ship"
            )
    sizes = accuracy.get("artifact_bytes")
    if sizes:
        seconds = {run: sum(row[run]["seconds"] for row in accuracy["datasets"].values()) for run in ("fp32", "int8")}
        print(
            f"  size: int8 {sizes['int8']:,} B = {100 * sizes['int8_vs_fp32']:.1f} % of fp32 ({sizes['fp32']:,} B);"
            f" benchmarks ran in {seconds['int8']:.1f} s (int8) against {seconds['fp32']:.1f} s (fp32)"
        )
        if sizes["int8_vs_fp32"] >= 1.0:
            layers = len(quantization.get("sensitivity") or []) or "its"
            budget = (quantization.get("fallback") or {}).get("max_psnr_drop_db")
            why = f"{len(kept)} of {layers} layers stay in float" + (f" to meet the {budget} dB budget" if budget is not None else "")
            if seconds["int8"] < seconds["fp32"]:
                verdict = f"its only gain is speed ({100 * (1 - seconds['int8'] / seconds['fp32']):.0f} % less time on the benchmarks)"
            else:
                verdict = "nor faster: ship the fp32 artifact"
            print(f"  warning: the int8 artifact is not smaller than the fp32 one ({why}); {verdict}, or loosen --max-psnr-drop")


def cmd_quantize(args: argparse.Namespace) -> int:
    import dataclasses

    import torch

    from edge_sr.archs import REGISTRY
    from edge_sr.collapse import collapse
    from edge_sr.converters import get_converter
    from edge_sr.quant.flow import build_int8, calibration_inputs

    converter = get_converter(args.target)
    if not converter.int8_shape_kinds:
        raise OptionError(f"target {args.target}: {converter.title} has no INT8 path")
    descriptor = _load(args)
    deploy = collapse(descriptor) if descriptor.form != "deploy" else descriptor
    recipe = dataclasses.replace(_recipe(args), max_psnr_drop=None)
    batches, validation, calibration = calibration_inputs(recipe, scale=deploy.scale)
    low = max(16, REGISTRY.get(deploy.arch).min_dynamic_input_size)
    dims = {2: torch.export.Dim("height", min=low, max=2048), 3: torch.export.Dim("width", min=low, max=2048)}
    build = build_int8(
        deploy.module, recipe=recipe, quantizer_factory=converter.int8_quantizer, sample=batches[0],
        dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=64), **dims},), batches=batches, validation=validation, scale=deploy.scale,
        graph_passes=converter.int8_graph_passes(), fold_quantize=converter.int8_fold_quantize, analyze_layers=True,
        progress=lambda message: print(f"  {message}", file=sys.stderr, flush=True),
    )
    report = {**build.report, "calibration": calibration, "target": converter.name, "model": deploy.zoo_name or deploy.source}
    summary = report["validation"]
    print(f"{report['model']} on {converter.name}: all-int8 predicted drop {summary['all_int8_predicted_drop_db']:.3f} dB "
          f"at {summary['reference_psnr_db']:g} dB content (output noise {summary['all_int8_output_noise_psnr_db']:.2f} dB "
          f"on the held-out set; drop there {summary['all_int8_drop_db']:.3f} dB)")
    print(f"with every activation range unbounded (same steps: rounding only, no clipping): predicted drop "
          f"{summary['all_int8_unclipped_predicted_drop_db']:.3f} dB (held-out {summary['all_int8_unclipped_drop_db']:.3f} dB)")
    print(f"{'layer':44s} {'cost quantised alone':>21s} {'gain kept float':>16s}")
    for row in report["sensitivity"]:
        print(f"{row['layer']:44s} {row['cost_quantised_alone_db']:>21.4f} {row['gain_float_alone_db']:>16.4f}")
    if args.json:
        _write_json(args.json, report)
    return 0


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _threads(text: str) -> list[int]:
    try:
        counts = [int(part) for part in _csv(text)]
    except ValueError:
        raise OptionError(f"--threads {text!r}: expected counts like 1,2") from None
    if not counts or min(counts) < 1:
        raise OptionError(f"--threads {text!r}: expected positive counts like 1,2")
    return counts


def cmd_bench(args: argparse.Namespace) -> int:
    from edge_sr.benchrun import BenchRequest, run_bench
    from edge_sr.bench import TimingPolicy, parse_aspect
    from edge_sr.converters.spec import parse_size

    request = BenchRequest(
        items=args.items,
        runtimes=_csv(args.runtime),
        precisions=_csv(args.precision),
        threads=_threads(args.threads) if args.threads else [os.cpu_count() or 1],
        sizes=[parse_size(text) for text in _csv(args.sizes)],
        budget_ms=args.budget_ms,
        policy=TimingPolicy(warmup=args.warmup, min_runs=args.min_runs, max_seconds=args.max_seconds),
        solve_budget=args.solve_budget,
        aspect=parse_aspect(args.aspect),
        work_dir=args.work,
        edbb_variant=args.edbb_variant, lora_weights=args.lora_weights, lora_scaling=args.lora_scaling,
    )
    result = run_bench(request, say=lambda line: print(line, flush=True))
    if args.json:
        _write_json(args.json, result)
        print(f"wrote {args.json}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from edge_sr.bench import TimingPolicy, parse_aspect
    from edge_sr.converters.spec import parse_size
    from edge_sr.report.build import ReportRequest, build_report
    from edge_sr.report.render import write_report

    request = ReportRequest(
        models=tuple(args.models),
        targets=tuple(_csv(args.targets)),
        precisions=tuple(_csv(args.precisions)),
        sizes=tuple(parse_size(text) for text in _csv(args.sizes)),
        threads=tuple(_threads(args.threads) if args.threads else [os.cpu_count() or 1]),
        budget_ms=args.budget_ms,
        aspect=parse_aspect(args.aspect),
        datasets=tuple(_csv(args.datasets)),
        gallery=tuple(_csv(args.gallery)),
        sensitivity_images=args.sensitivity_images,
        recipe=_recipe_file(args.recipe),
        calibration_images=args.calib_images,
        validation_images=args.validation_images,
        max_psnr_drop=_max_psnr_drop(args),
        reconstruction_steps=args.reconstruct_steps,
        policy=TimingPolicy(max_seconds=args.max_seconds),
        device_results=tuple(args.device_results or ()),
        workers=args.workers if args.workers else min(2, os.cpu_count() or 1),
    )
    output = Path(args.output)
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    report = build_report(request, output, progress=progress)
    paths = write_report(report, output)
    failed = [e for e in report["entries"] if e["status"] == "error"]
    print(f"wrote {paths['html']}, {paths['json'].name}, {paths['md'].name}: {len(report['entries'])} rows"
          + (f", {len(failed)} failed (see the table)" if failed else ""))
    return 0


def cmd_bundle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from edge_sr.app_bundle import APPS, bundle
    from edge_sr.collapse import collapse
    from edge_sr.converters.spec import parse_size

    descriptor = _load(args)
    deploy = collapse(descriptor) if descriptor.form != "deploy" else descriptor
    precisions = tuple(_csv(args.precision)) if args.precision else APPS[args.app].precisions
    result = bundle(
        deploy, app=args.app, precisions=precisions, output=Path(args.output) if args.output else None,
        size=parse_size(args.size), recipe=_recipe(args) if "int8" in precisions else None,
        progress=lambda message: print(f"  {args.app}: {message}", file=sys.stderr, flush=True),
    )
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for entry in result.entries:
        print(f"{entry['target']:<11} {entry['precision']:<5} {entry['contract']}")
    print(f"bundled {len(result.entries)} artifacts into {result.models_dir} (manifest.json)")
    if result.site_dir is not None:
        print(f"serve it: edge-sr serve-demo {result.site_dir}")
    return 0


def cmd_serve_demo(args: argparse.Namespace) -> int:
    from edge_sr.app_bundle import APPS_DIR
    from edge_sr.demo_server import make_server

    server = make_server(args.site or APPS_DIR / "web", host=args.host, port=args.port, verbose=args.verbose)
    host, port = server.server_address[:2]
    print(f"edge-sr web demo: http://{host}:{port}/ (cross-origin isolated for WebAssembly threads; Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def cmd_pipeline(args: argparse.Namespace) -> int:
    from edge_sr.pipeline import run_pipeline

    run_pipeline(args.model, args.output, progress=sys.stderr.isatty(),
                 max_psnr_drop=_max_psnr_drop(args))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-sr", description="Ship efficient SR networks to edge devices.")
    commands = parser.add_subparsers(dest="command", required=True)

    models = commands.add_parser("models", help="list the model zoo")
    models.add_argument("--json", action="store_true")
    models.set_defaults(run=cmd_models)

    info = commands.add_parser("info", help="detect a checkpoint's architecture and hyper-parameters")
    _add_model(info)
    info.add_argument("--json", action="store_true")
    info.set_defaults(run=cmd_info)

    collapse = commands.add_parser("collapse", help="fold train-form branches into a deploy checkpoint")
    _add_model(collapse)
    collapse.add_argument("-o", "--output", required=True, help="deploy checkpoint to write (.pth)")
    collapse.set_defaults(run=cmd_collapse)

    evaluate = commands.add_parser("eval", help="PSNR/SSIM on a benchmark folder")
    _add_model(evaluate)
    evaluate.add_argument("--dataset", required=True, help="folder with HR/ (benchmark) or the DIV2K layout")
    evaluate.add_argument("--protocol", choices=("ntire", "y", "both"), default="both")
    evaluate.add_argument("--json", help="write every figure, per image too, to this file")
    evaluate.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar (default: on a terminal)")
    evaluate.set_defaults(run=cmd_eval)

    upscale = commands.add_parser("upscale", help="upscale one image file")
    _add_model(upscale)
    upscale.add_argument("input")
    upscale.add_argument("output")
    upscale.add_argument("--tile", type=int, help="process in TILE x TILE LR tiles (bounded memory for large images)")
    upscale.add_argument("--overlap", type=int, help="tile context in LR px (default: the network's receptive radius)")
    upscale.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar (default: on a terminal)")
    upscale.set_defaults(run=cmd_upscale)

    convert = commands.add_parser("convert", help="export verified CoreML / TFLite / ExecuTorch / ONNX artifacts")
    _add_model(convert)
    convert.add_argument("--target", required=True, help="onnx, tflite, executorch, executorch-coreml, coreml, or all")
    convert.add_argument("--precision", choices=("fp32", "fp16", "int8"), help="default: the target's (fp16 for CoreML, fp32 otherwise)")
    convert.add_argument("--input-size", help="fixed input size HxW (default 256x256)")
    convert.add_argument("--sizes", help="enumerated input sizes HxW,HxW,... (CoreML)")
    convert.add_argument("--dynamic", action="store_true", help="any input height/width (16..1024)")
    convert.add_argument("--layout", choices=("nchw", "nhwc"), default="nchw")
    convert.add_argument("--image-io", action="store_true", help="CoreML: image input/output instead of tensors")
    convert.add_argument("-o", "--output", required=True, help="folder for artifacts, contracts and golden pairs")
    convert.add_argument(
        "--accuracy", default="Set5,Set14,BSD100,Urban100",
        help="int8: benchmarks (names under $EDGE_SR_DATA/benchmarks or folders) to measure fp32 vs int8 on, or 'none'",
    )
    _add_recipe_options(convert)
    convert.set_defaults(run=cmd_convert)

    quantize = commands.add_parser("quantize", help="int8 sensitivity analysis: which layers cost PSNR")
    _add_model(quantize)
    quantize.add_argument("--target", required=True, help="executorch, tflite, onnx or coreml (its quantiser decides what is quantised)")
    quantize.add_argument("--analyze", action="store_true", required=True, help="rank layers by the PSNR each costs")
    quantize.add_argument("--json", help="write the analysis to this file")
    _add_recipe_options(quantize)
    quantize.set_defaults(run=cmd_quantize)

    bench = commands.add_parser("bench", help="latency in each runtime, against an edge budget")
    bench.add_argument("items", nargs="+", help="artifacts (contract beside them) or models (zoo names, checkpoints)")
    bench.add_argument("--runtime", default="pytorch,onnxruntime,executorch,litert",
                       help="for models: pytorch (train form + collapsed), onnxruntime, executorch, litert")
    bench.add_argument("--precision", default="fp32", help="for models: fp32, fp16, int8 (comma-separated)")
    bench.add_argument("--threads", help="thread counts, e.g. 1,2 (default: the CPUs available)")
    bench.add_argument("--sizes", default="128x128,256x256,270x480,339x510", help="LR input sizes HxW,...")
    bench.add_argument("--budget-ms", type=float, default=100.0, help="latency budget per image (default 100)")
    bench.add_argument("--solve-budget", action="store_true", help="also find the largest input meeting the budget")
    bench.add_argument("--aspect", default="16:9", help="aspect ratio W:H for --solve-budget")
    bench.add_argument("--warmup", type=int, default=2)
    bench.add_argument("--min-runs", type=int, default=5)
    bench.add_argument("--max-seconds", type=float, default=15.0, help="timed seconds per row at most")
    bench.add_argument("--work", default="out/bench", help="where models are converted for the runtimes")
    bench.add_argument("--json", help="write every figure with the machine and conditions to this file")
    bench.add_argument("--edbb-variant", help="EFDN train-form files: 'plain' or 'gv'")
    bench.add_argument("--lora-weights", choices=("unmerged", "merged"), help="files with LoRA factors: whether weights already include the update")
    bench.add_argument("--lora-scaling", type=float, help="LoRA alpha/rank (default 2.0)")
    bench.set_defaults(run=cmd_bench)

    report = commands.add_parser("report", help="convert, verify, evaluate and time models into report.html/.json/.md")
    report.add_argument("models", nargs="+", help="zoo names or checkpoints")
    report.add_argument("--targets", default="executorch,tflite,onnx,coreml")
    report.add_argument("--precisions", default="fp32,int8")
    report.add_argument("--sizes", default="256x256,339x510", help="LR input sizes HxW,...")
    report.add_argument("--threads", help="thread counts (default: the CPUs available)")
    report.add_argument("--budget-ms", type=float, default=100.0)
    report.add_argument("--aspect", default="16:9", help="aspect W:H for the budget solver")
    report.add_argument("--datasets", default="Set5,Set14", help="accuracy benchmarks (names or folders)")
    report.add_argument("--gallery", default="Set14,Urban100", help="benchmarks whose first image is shown in crops")
    report.add_argument("--sensitivity-images", type=int, default=3, help="validation images for the per-layer analysis (0: skip)")
    report.add_argument("--recipe", help="the int8 recipe JSON every INT8 build starts from (its budget and steps are the options below)")
    report.add_argument("--calib-images", type=int, help="INT8 calibration crops (default: the recipe's)")
    report.add_argument("--validation-images", type=int, help="held-out DIV2K images the INT8 builds decide on (default: the recipe's 12)")
    report.add_argument("--max-psnr-drop", default="off", metavar="DB",
                        help="'off' (default): INT8 rows are full W8A8, nothing in float, measuring the quantiser; DB: the artifacts "
                        "`edge-sr convert --max-psnr-drop DB` ships, layers kept in float until the predicted drop is within DB "
                        "and flat areas within 8 levels")
    report.add_argument("--reconstruct-steps", type=int, metavar="N",
                        help="output-reconstruction steps of each INT8 build (default 300 in full W8A8, ~8 min a build for SPAN ch28 "
                        "on 2 cores; 0 with --max-psnr-drop)")
    report.add_argument("--max-seconds", type=float, default=8.0, help="timed seconds per latency row at most")
    report.add_argument("--device-results", action="append", help="bench JSON measured on a device (repeatable)")
    report.add_argument("--workers", type=int, help="processes converting in parallel (default: 2 where there are 2 CPUs); timing runs alone afterwards")
    report.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    report.add_argument("-o", "--output", required=True, help="folder for report.html/.json/.md and artifacts")
    report.set_defaults(run=cmd_report)

    bundle = commands.add_parser("bundle", help="convert a model for a demo app and place it where the app loads models")
    _add_model(bundle)
    bundle.add_argument("--app", required=True, choices=("android", "ios", "web"))
    bundle.add_argument("--precision", help="comma-separated (default: web/android fp32,int8; ios fp16,int8)")
    bundle.add_argument("--size", default="256x256", help="input size HxW for targets without dynamic shapes (default 256x256)")
    bundle.add_argument("-o", "--output", help="web: the site folder to write; android/ios: the models folder (default: apps/<app>/...)")
    _add_recipe_options(bundle)
    bundle.set_defaults(run=cmd_bundle)

    serve = commands.add_parser("serve-demo", help="serve the web demo locally with the headers WebAssembly threads need")
    serve.add_argument("site", nargs="?", help="the folder `edge-sr bundle --app web -o` wrote (default apps/web)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    serve.add_argument("--verbose", action="store_true", help="log every request")
    serve.set_defaults(run=cmd_serve_demo)

    pipeline = commands.add_parser("pipeline", help="the main job end to end on one model")
    pipeline.add_argument("model", nargs="?", default=zoo.DEFAULT_MODEL,
                          help=f"zoo name or checkpoint (default {zoo.DEFAULT_MODEL})")
    pipeline.add_argument("-o", "--output", default="out/pipeline",
                          help="folder for the deploy checkpoint, the upscaled sample, the report and summary.md (default out/pipeline)")
    pipeline.add_argument("--max-psnr-drop", default="off", metavar="DB",
                          help="'off' (default): the report's INT8 builds are full W8A8, and go into the demo apps only if flat "
                          "areas hold; DB: they keep layers in float within DB dB and the flat-area bound, as `edge-sr convert` does")
    pipeline.set_defaults(run=cmd_pipeline)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_libraries()
    try:
        return args.run(args)
    except EdgeSRError as error:
        print(f"edge-sr: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("edge-sr: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # a bug: still one line, unless debugging
        if os.environ.get("EDGE_SR_DEBUG"):
            raise
        text = str(error).strip().splitlines()[0] if str(error).strip() else ""
        print(f"edge-sr: internal error: {type(error).__name__}: {text} (set EDGE_SR_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
