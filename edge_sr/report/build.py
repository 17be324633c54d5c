"""``edge-sr report``: convert → verify → evaluate → bench for every model x target x precision.

One fixed sequence per model: load and collapse; for each target and precision, convert (the
converter verifies its artifact in its runtime, or reads its spec back where the runtime cannot
run here), time it at every size, and evaluate fp32 and int8 of the same target on the
benchmarks in that runtime; then the per-layer sensitivity of the INT8 build, the budget solver
on the fastest artifact, and the gallery crops.  A failing step becomes a row with its error;
the rest of the report goes on.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from edge_sr.bench import BENCH_SCHEMA, TARGET_RUNTIME, Subject, TimingPolicy, bench_subject, solve_budget, tile_overlap
from edge_sr.errors import EdgeSRError, OptionError
from edge_sr.quant.recipe import Int8Recipe
from edge_sr.tiling import Run, tiled

REPORT_SCHEMA = "edge-sr/report"
REPORT_SCHEMA_VERSION = 1
DEFAULT_TARGETS = ("executorch", "tflite", "onnx", "coreml")
GALLERY_CROP = 96
"""HR pixels per side of a gallery crop."""
ERROR_GAIN = 10.0
"""Gallery error maps show |int8 - fp32| x this (a 1-level difference becomes visible)."""
REPORT_RECONSTRUCTION_STEPS = 300
"""The report's INT8 builds train through the fake-quantised network for this many steps (the
CLI's conversions default to none: ~8 min a build on 2 cores).  Measured on SPAN ch28, full W8A8,
ExecuTorch's quantiser, 32 crops, simulated: Set14 / Urban100 (first 25) drop 0.161 / 0.158 →
0.141 / 0.133 dB, 485 s of training."""

FALLBACK_FACTS = ("max_psnr_drop_db", "predicted_drop_bound_db", "max_flat_shift_levels", "flat_shift_levels", "met")
"""What an INT8 row built within a budget records of its float fallback (the contract has the rest)."""


@dataclass(frozen=True, kw_only=True)
class ReportRequest:
    """What one report covers.  Sizes are LR inputs (H, W); datasets are benchmark names under
    ``$EDGE_SR_DATA/benchmarks`` or folders."""

    models: tuple[str, ...]
    targets: tuple[str, ...] = DEFAULT_TARGETS
    precisions: tuple[str, ...] = ("fp32", "int8")
    sizes: tuple[tuple[int, int], ...] = ((256, 256), (339, 510))
    threads: tuple[int, ...] = (2,)
    budget_ms: float = 100.0
    aspect: tuple[int, int] = (16, 9)
    datasets: tuple[str, ...] = ("Set5", "Set14")
    gallery: tuple[str, ...] = ("Set14", "Urban100")
    sensitivity_images: int = 3
    recipe: Int8Recipe = field(default_factory=Int8Recipe)
    """What every INT8 build starts from (``edge-sr report --recipe FILE``).  Its budget and
    reconstruction steps are replaced by this request's, and its image counts where given."""
    calibration_images: int | None = None
    validation_images: int | None = None
    """Held-out DIV2K images the INT8 builds decide on (None: the recipe's)."""
    max_psnr_drop: float | None = None
    """None: every INT8 build is full W8A8, nothing in float, which measures the quantiser.  A
    budget (dB): the INT8 artifacts ``edge-sr convert --max-psnr-drop`` ships, with layers kept in
    float until the predicted drop and the flat-area bound hold (:class:`Int8Recipe`)."""
    reconstruction_steps: int | None = None
    """Output-reconstruction steps of every INT8 build (:mod:`edge_sr.quant.reconstruct`).  None:
    :data:`REPORT_RECONSTRUCTION_STEPS` in full W8A8, none with a budget (at 0.05 dB SPAN ch28's
    chosen network gains nothing in 300 steps and ships untrained, quant/README.md)."""
    policy: TimingPolicy = field(default_factory=lambda: TimingPolicy(max_seconds=8.0))
    device_results: tuple[str, ...] = ()
    workers: int = 1
    """Processes for the conversion phase (timing always runs alone, afterwards)."""

    def __post_init__(self) -> None:
        from edge_sr.converters import target_names

        if not self.models:
            raise OptionError("report: name at least one model")
        unknown = [t for t in self.targets if t not in target_names()]
        if unknown:
            raise OptionError(f"--targets {','.join(unknown)}: expected some of {', '.join(target_names())}")
        bad = [p for p in self.precisions if p not in ("fp32", "fp16", "int8")]
        if bad:
            raise OptionError(f"--precisions {','.join(bad)}: expected fp32, fp16 or int8")
        if self.sensitivity_images < 0:
            raise OptionError("--sensitivity-images must be >= 0")
        if self.reconstruction_steps is None:
            object.__setattr__(self, "reconstruction_steps", REPORT_RECONSTRUCTION_STEPS if self.max_psnr_drop is None else 0)
        if not 0 <= self.reconstruction_steps <= 100_000:
            raise OptionError(f"--reconstruct-steps {self.reconstruction_steps}: expected 0..100000")
        self.int8_recipe()  # the recipe validates the rest (budget, image counts)
        if self.workers < 1:
            raise OptionError(f"--workers {self.workers}: must be >= 1")

    def int8_recipe(self) -> Int8Recipe:
        """The recipe of every INT8 build in the report: ``recipe`` with this request's image
        counts, budget and reconstruction steps."""
        counts = {"images": self.calibration_images, "validation_images": self.validation_images}
        calibration = replace(self.recipe.calibration, **{k: v for k, v in counts.items() if v is not None})
        return replace(self.recipe, calibration=calibration, max_psnr_drop=self.max_psnr_drop, reconstruction_steps=self.reconstruction_steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "models": list(self.models), "targets": list(self.targets), "precisions": list(self.precisions),
            "sizes": [list(s) for s in self.sizes], "threads": list(self.threads), "budget_ms": self.budget_ms,
            "aspect": f"{self.aspect[0]}:{self.aspect[1]}", "datasets": list(self.datasets), "gallery": list(self.gallery),
            "sensitivity_images": self.sensitivity_images, "calibration_images": self.calibration_images,
            "validation_images": self.validation_images, "max_psnr_drop": self.max_psnr_drop,
            "reconstruction_steps": self.reconstruction_steps, "int8_recipe": self.int8_recipe().to_dict(),
            "timing": self.policy.as_dict(), "device_results": list(self.device_results), "workers": self.workers,
        }


def _one_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0][:400] if text else ''}"


def dataset_path(name: str) -> Path:
    folder = Path(name)
    if folder.is_dir():
        return folder
    root = os.environ.get("EDGE_SR_DATA")
    candidate = Path(root) / "benchmarks" / name if root else None
    if candidate is None or not candidate.is_dir():
        raise OptionError(f"dataset {name!r}: expected a folder or a benchmark under $EDGE_SR_DATA/benchmarks, found neither")
    return candidate


def read_device_results(path: str) -> dict[str, Any]:
    """A bench JSON measured elsewhere (the demo apps write the same schema)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise EdgeSRError(f"{path}: cannot read device results ({error})") from None
    if data.get("schema") != BENCH_SCHEMA:
        raise EdgeSRError(f"{path}: expected schema {BENCH_SCHEMA!r}, found {data.get('schema')!r}")
    if not isinstance(data.get("rows"), list):
        raise EdgeSRError(f"{path}: expected a 'rows' list of measurements, found {type(data.get('rows')).__name__}")
    device = data.get("device") or {}
    if not device.get("name"):
        raise EdgeSRError(f"{path}: expected device.name (the device the rows were measured on), found none")
    return data


class _Progress:
    """One bar over every step of the report; notes go to ``say``, or above the bar."""

    def __init__(self, total: int, enabled: bool, say: Callable[[str], None] | None = None) -> None:
        self.bar = tqdm(total=total, desc="report", unit="step", disable=not enabled, dynamic_ncols=True)
        self.say = say

    def step(self, text: str) -> None:
        self.bar.set_postfix_str(text[:60])

    def done(self, count: int = 1) -> None:
        self.bar.update(count)

    def note(self, text: str) -> None:
        if self.say is not None:
            self.say(text)
        else:
            self.bar.write(text)

    def show(self, kind: str, text: str) -> None:
        """One event of a task (:func:`_emit`)."""
        if kind == "step":
            self.step(text)
        elif kind == "done":
            self.done()
        else:
            self.note(text)

    def close(self) -> None:
        self.bar.close()


@dataclass(frozen=True)
class _Task:
    """The conversion work for one model and the targets sharing one INT8 quantiser (so they
    share one INT8 build): convert + verify each target x precision, accuracy, and where asked
    the sensitivity analysis and the gallery.  Picklable: runs in a worker process."""

    model: str
    targets: tuple[str, ...]
    request: ReportRequest
    output: Path
    model_facts: bool
    sensitivity: bool
    gallery: bool


def _quantiser_group(target: str) -> str:
    from edge_sr.converters import get_converter

    converter = get_converter(target)
    if not converter.int8_shape_kinds:
        return "no-int8"
    quantizer = type(converter.int8_quantizer())
    return json.dumps([quantizer.__qualname__, [p.__name__ for p in converter.int8_graph_passes()], converter.int8_fold_quantize])


def _plan(request: ReportRequest, output: Path) -> list[_Task]:
    from edge_sr.converters import get_converter

    groups: dict[str, list[str]] = {}
    for target in request.targets:
        groups.setdefault(_quantiser_group(target), []).append(target)
    ordered = list(groups.values())
    # The sensitivity comes from the first group with an INT8 build, the gallery from the first
    # group with a runtime on this machine.
    with_int8 = next((i for i, g in enumerate(ordered) if get_converter(g[0]).int8_shape_kinds and "int8" in request.precisions), None)
    runnable = next((i for i, g in enumerate(ordered) if any(get_converter(t).runs_here() for t in g)), None)
    return [
        _Task(model=model, targets=tuple(group), request=request, output=output, model_facts=index == 0,
              sensitivity=index == with_int8, gallery=index == runnable)
        for model in request.models for index, group in enumerate(ordered)
    ]


_worker_events = None


def _init_worker(events, threads: int) -> None:
    from edge_sr.quiet import quiet_libraries

    global _worker_events
    _worker_events = events
    torch.set_num_threads(threads)
    quiet_libraries()


class _DirectEvents:
    """The event queue of tasks run in the report's own process: events go straight to the bar."""

    def __init__(self, bar: _Progress) -> None:
        self.bar = bar

    def put(self, event: tuple[str, str]) -> None:
        self.bar.show(*event)


def _emit(kind: str, text: str) -> None:
    """Tell the report's process: ``step`` (what runs now), ``done`` (a row finished) or ``note`` (a line to show)."""
    if _worker_events is not None:
        _worker_events.put((kind, text))


def build_report(
    request: ReportRequest, output: Path, *, progress: bool = True, say: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the whole report into ``output`` (artifacts under ``output/artifacts``); returns report.json's content.

    Conversion, verification, accuracy, sensitivity and gallery run first, in ``request.workers``
    processes (one task per model x quantiser group); the timing runs afterwards in this
    process alone, so no latency is measured while other work shares the CPU.  ``progress``
    shows a bar; ``say`` receives one line per conversion step (an INT8 build with
    reconstruction runs for many minutes and reports its training ten times), prefixed with
    the model, target and precision; without it those lines go above the bar.
    """
    from edge_sr.benchrun import InputCache
    from edge_sr.machine import machine_facts, matmul_ceiling

    datasets = [dataset_path(name) for name in request.datasets]
    gallery_sets = [dataset_path(name) for name in request.gallery]
    device_results = [read_device_results(path) for path in request.device_results]
    output.mkdir(parents=True, exist_ok=True)
    tasks = _plan(request, output)
    rows = len(request.models) * len(request.targets) * len(request.precisions)
    bar = _Progress(1 + 2 * rows + len(request.models), progress, say)
    bar.step("matrix-multiply ceiling")
    ceilings = {count: matmul_ceiling(count) for count in request.threads}
    bar.done()
    report: dict[str, Any] = {
        "schema": REPORT_SCHEMA,
        "schema_version": REPORT_SCHEMA_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "request": request.as_dict(),
        "machine": machine_facts(),
        "ceilings": {str(k): v.as_dict() for k, v in ceilings.items()},
        "models": [], "entries": [], "bench_rows": [], "budget_solver": [], "sensitivity": {}, "gallery": [],
        "device_results": [
            {"device": d["device"], "machine": d.get("machine"), "rows": d["rows"], "source": str(p)}
            for d, p in zip(device_results, request.device_results)
        ],
        "seconds": {},
    }
    inputs = InputCache()
    try:
        tick = time.perf_counter()
        results = _run_tasks(tasks, request, datasets, gallery_sets, bar)
        report["seconds"]["convert, verify, accuracy, sensitivity, gallery"] = round(time.perf_counter() - tick, 1)
        _merge(report, request, results)
        tick = time.perf_counter()
        _bench_all(report, request, output, ceilings, inputs, bar)
        report["seconds"]["latency and budget solver"] = round(time.perf_counter() - tick, 1)
    finally:
        bar.close()
    report["conditions"] = {
        "timing": request.policy.as_dict(),
        "input": f"NCHW float32 RGB [0, 1], batch 1: {inputs.source or 'DIV2K'} centre crops",
        "accuracy": "PSNR of each artifact run in its own runtime; Y = MATLAB-rounded Y, border = scale; RGB = NTIRE; "
                    "LR = MATLAB bicubic downscale of the mod-cropped HR",
        "drop": "fp32 artifact minus int8 artifact of the same target, on the same images",
        "latency": "measured after all conversions, one artifact at a time, nothing else running in the report",
    }
    return report


def _run_tasks(tasks: list[_Task], request: ReportRequest, datasets, gallery_sets, bar: _Progress) -> list[dict[str, Any]]:
    if request.workers <= 1 or len(tasks) == 1:
        global _worker_events
        _worker_events = _DirectEvents(bar)
        try:
            return [_prepare(task, datasets, gallery_sets) for task in tasks]
        finally:
            _worker_events = None
    import concurrent.futures
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    manager = context.Manager()
    events = manager.Queue()
    threads = max(1, (os.cpu_count() or 1) // request.workers)
    results: list[dict[str, Any] | None] = [None] * len(tasks)
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=request.workers, mp_context=context, initializer=_init_worker, initargs=(events, threads),
    ) as pool:
        futures = {pool.submit(_prepare, task, datasets, gallery_sets): index for index, task in enumerate(tasks)}
        pending = set(futures)
        while pending:
            finished, pending = concurrent.futures.wait(pending, timeout=0.5)
            while not events.empty():
                bar.show(*events.get())
            for future in finished:
                index = futures[future]
                try:
                    results[index] = future.result()
                except Exception as error:  # the worker died: its rows say so, the report goes on
                    task = tasks[index]
                    results[index] = {"entries": [
                        {"model": task.model, "target": t, "precision": p, "status": "error", "error": f"worker failed: {_one_line(error)}"}
                        for t in task.targets for p in request.precisions
                    ]}
    manager.shutdown()
    return results


def _merge(report: dict[str, Any], request: ReportRequest, results: list[dict[str, Any]]) -> None:
    """Collect the tasks' results in the request's model, target and precision order."""
    for result in results:
        if result.get("model_facts"):
            report["models"].append(result["model_facts"])
        report["entries"] += result["entries"]
        report["sensitivity"].update(result.get("sensitivity", {}))
        report["gallery"] += result.get("gallery", [])
    order = {model: index for index, model in enumerate(request.models)}
    for facts in report["models"]:
        order.setdefault(facts["name"], order.get(facts.get("source_name"), len(order)))
    targets = {t: i for i, t in enumerate(request.targets)}
    precisions = {p: i for i, p in enumerate(request.precisions)}
    report["models"].sort(key=lambda m: order[m["name"]])
    report["entries"].sort(key=lambda e: (order.get(e["model"], len(order)), targets[e["target"]], precisions[e["precision"]]))
    report["gallery"].sort(key=lambda g: (order.get(g["model"], len(order)), g["dataset"]))


def _prepare(task: _Task, datasets: list[Path], gallery_sets: list[Path]) -> dict[str, Any]:
    """Convert, verify and evaluate ``task``'s targets for its model (in a worker or here)."""
    from edge_sr.artifacts import open_artifact, provision
    from edge_sr.collapse import collapse
    from edge_sr.complexity import measure
    from edge_sr.converters.contract import Contract, contract_path
    from edge_sr.loading import load
    from edge_sr.tiling import receptive_radius

    request = task.request
    result: dict[str, Any] = {"entries": [], "sensitivity": {}, "gallery": []}
    try:
        descriptor = load(task.model)
        deploy = collapse(descriptor) if descriptor.form != "deploy" else descriptor
    except EdgeSRError as error:
        if task.model_facts:
            result["model_facts"] = {"name": task.model, "source_name": task.model, "error": _one_line(error)}
        result["entries"] = [{"model": task.model, "target": t, "precision": p, "status": "error", "error": _one_line(error)}
                             for t in task.targets for p in request.precisions]
        for _ in result["entries"]:
            _emit("done", "")
        return result
    name = deploy.zoo_name or Path(deploy.source).stem
    if task.model_facts:
        counted = measure(deploy.module)
        result["model_facts"] = {
            "name": name, "source_name": task.model, "arch": deploy.arch, "scale": deploy.scale, "form_loaded": descriptor.form,
            "parameters": counted.parameters, "macs_256": counted.macs, "sha256": deploy.sha256,
            "receptive_radius": receptive_radius(deploy.module, min_input_size=deploy.min_input_size),
        }
    recipe = request.int8_recipe()
    builds: dict = {}
    artifacts_dir = task.output / "artifacts" / name
    runs_by_target: dict[str, dict[str, Subject]] = {}
    for target in task.targets:
        for precision in request.precisions:
            _emit("step", f"{name}: {target} {precision}")
            entry: dict[str, Any] = {"model": name, "target": target, "runtime": TARGET_RUNTIME.get(target, target), "precision": precision}
            notes: list[str] = []
            tick = time.perf_counter()
            try:
                paths = provision(deploy, target=target, precision=precision, sizes=list(request.sizes), output_dir=artifacts_dir,
                                  int8_builds=builds, recipe=recipe, notes=notes,
                                  progress=lambda text, row=f"{name} {target} {precision}": _emit("note", f"{row}: {text}"))
                entry["seconds"] = {"convert": round(time.perf_counter() - tick, 1)}
                if notes:
                    entry["notes"] = notes
                contracts = [Contract.read(contract_path(p)).data for p in paths]
                verification = contracts[0]["verification"]
                entry.update(
                    artifacts=[str(p.relative_to(task.output)) for p in paths],
                    bytes=contracts[0]["artifact"]["bytes"],
                    shape=contracts[0]["shape_policy"]["kind"],
                    verified=verification.get("runtime") or "spec read back",
                    max_abs_diff=verification.get("max_abs_diff"),
                    psnr_vs_source_db=verification.get("psnr_db"),
                )
                if precision == "int8":
                    quantization = contracts[0].get("quantization", {})
                    entry["kept_float"] = quantization.get("kept_float", [])
                    entry["build_seconds"] = quantization.get("seconds")
                    entry["validation"] = quantization.get("validation")
                    if quantization.get("fallback"):
                        entry["fallback"] = {k: quantization["fallback"].get(k) for k in FALLBACK_FACTS}
                if not verification.get("ran"):
                    entry["status"] = "spec-verified"
                    entry["note"] = verification.get("not_run_because", "")
                else:
                    entry["status"] = "ok"
                    runs_by_target.setdefault(target, {})[precision] = open_artifact(paths[0])
            except OptionError as error:  # the target has no path for this precision/shape
                entry.update(status="unsupported", error=str(error).split(": ")[-1])
            except Exception as error:  # a failing target is a row, not the end of the report
                entry.update(status="error", error=_one_line(error))
                _emit("note", f"{name} {target} {precision}: {_one_line(error)}")
            entry.setdefault("seconds", {"convert": round(time.perf_counter() - tick, 1)})
            result["entries"].append(entry)
            _emit("done", "")
        if target in runs_by_target:
            runs_by_target[target] = _matched_runs(runs_by_target[target])
            _emit("step", f"{name}: {target} accuracy")
            tick = time.perf_counter()
            _accuracy(name, target, runs_by_target[target], datasets, deploy.scale, result["entries"])
            for entry in result["entries"]:
                if entry["target"] == target and "accuracy" in entry:
                    entry["seconds"]["accuracy (fp32 + int8 together)"] = round(time.perf_counter() - tick, 1)
    if task.sensitivity:
        _emit("step", f"{name}: sensitivity")
        tick = time.perf_counter()
        result["sensitivity"] = {name: _sensitivity(deploy, builds, request)}
        result["sensitivity"][name]["seconds"] = round(time.perf_counter() - tick, 1)
    if task.gallery:
        _emit("step", f"{name}: gallery")
        result["gallery"] = _gallery(name, runs_by_target, gallery_sets, deploy.scale)
    return result


def _bench_all(report: dict[str, Any], request: ReportRequest, output: Path, ceilings, inputs, bar: _Progress) -> None:
    """Time every runnable artifact (quiet machine: nothing else of the report runs now)."""
    from edge_sr.artifacts import open_artifact

    subjects: dict[str, list[Subject]] = {}
    for entry in report["entries"]:
        bar.step(f"latency: {entry['model']} {entry['target']} {entry['precision']}")
        if entry["status"] != "ok":
            bar.done()
            continue
        tick = time.perf_counter()
        try:
            opened = [open_artifact(output / path) for path in entry["artifacts"]]
            per_size = len(opened) > 1
            entry["latency"] = {}
            for subject in opened:
                sizes = [subject.fixed_size] if per_size else list(request.sizes)
                rows = bench_subject(subject, sizes=sizes, threads=list(request.threads), policy=request.policy,
                                     budget_ms=request.budget_ms, ceilings=ceilings, inputs=inputs)
                report["bench_rows"] += rows
                for row in rows:
                    key = f"{row['input'][0]}x{row['input'][1]}@{row['threads']}"
                    entry["latency"][key] = row["ms"]["median"] if row.get("ms") else None
                    if row.get("error"):
                        entry.setdefault("bench_errors", []).append(row["error"])
                subjects.setdefault(entry["model"], []).append(subject)
        except Exception as error:
            entry["bench_error"] = _one_line(error)
            bar.note(f"{entry['model']} {entry['target']} {entry['precision']} latency: {_one_line(error)}")
        entry.setdefault("seconds", {})["bench"] = round(time.perf_counter() - tick, 1)
        bar.done()
    _int8_speedups(report["entries"])
    for facts in report["models"]:
        bar.step(f"{facts['name']}: budget solver")
        _solve(facts["name"], subjects.get(facts["name"], []), request, report, inputs, bar)
        bar.done()


def _int8_speedups(entries: list[dict[str, Any]]) -> None:
    """Give each timed INT8 entry ``speedup_vs_fp32``: per size and thread count, the fp32 artifact's
    median over the INT8 one's, same model and target.  Below 1 the INT8 artifact is slower: float
    layers kept by a budget put quantise/dequantise pairs around them, and a runtime without
    integer kernels for an op runs it dequantised."""
    fp32 = {(e["model"], e["target"]): e.get("latency") or {} for e in entries if e["precision"] == "fp32"}
    for entry in entries:
        if entry["precision"] != "int8" or not entry.get("latency"):
            continue
        reference = fp32.get((entry["model"], entry["target"]), {})
        ratios = {key: round(reference[key] / ms, 3) for key, ms in entry["latency"].items() if ms and reference.get(key)}
        if ratios:
            entry["speedup_vs_fp32"] = ratios


def _matched_runs(subjects: dict[str, Subject]) -> dict[str, Run]:
    """Runners for one target's artifacts, all with the same tiling: if any is fixed-shape, every
    one runs in its tiles, so the drop between them is the quantisation's alone (EFDN's global
    attention makes tiles differ from the whole image)."""
    tile = next((s.fixed_size for s in subjects.values() if s.fixed_size is not None), None)
    # Accuracy is not timed: use this process's share of the CPU.
    runs = {precision: subject.open(torch.get_num_threads()) for precision, subject in subjects.items()}
    if tile is None:
        return runs
    scale = next(iter(subjects.values())).scale
    return {precision: tiled(run, tile=tile, scale=scale, overlap=tile_overlap(tile)) for precision, run in runs.items()}


def _accuracy(name: str, target: str, runs: dict[str, Run], datasets: list[Path], scale: int, entries: list[dict[str, Any]]) -> None:
    from edge_sr.converters.pipeline import native_output_silenced
    from edge_sr.quant.accuracy import compare, flat_colours, flat_field

    ordered = {p: runs[p] for p in ("fp32", "fp16", "int8") if p in runs}
    mine = [e for e in entries if e["model"] == name and e["target"] == target]
    try:
        with native_output_silenced():
            result = compare(ordered, datasets, scale=scale, progress=False)
            # Each check's summary goes in the entry under its own name, counted by its inputs.
            flat_checks = {
                "flat_field": ("levels", flat_field(ordered) if len(ordered) > 1 else {}),
                "flat_colours": ("colours", flat_colours(ordered) if len(ordered) > 1 else {}),
            }
    except Exception as error:
        for entry in mine:
            if entry.get("status") == "ok":
                entry["accuracy_error"] = _one_line(error)
        return
    for entry in mine:
        if entry["precision"] not in ordered:
            continue
        accuracy = {}
        for dataset, row in result["datasets"].items():
            figures = dict(row[entry["precision"]])
            drop = row.get(f"{entry['precision']}_drop")
            if drop is not None:
                figures["drop_y"], figures["drop_rgb"] = drop["psnr_y"], drop["psnr_rgb"]
                figures["worst_image"] = row[f"{entry['precision']}_worst_image"]
            figures["images"] = row["images"]
            accuracy[dataset] = figures
        entry["accuracy"] = accuracy
        for check, (inputs, measured) in flat_checks.items():
            if entry["precision"] in measured:
                shift = measured[entry["precision"]]
                entry[check] = {inputs: len(measured[inputs]), **{key: shift[key] for key in ("max_abs", "rms", "worst")}}


def _sensitivity(deploy, builds: dict, request: ReportRequest) -> dict[str, Any]:
    """Per-layer PSNR cost of the first INT8 build: each layer quantised alone, the rest float."""
    from edge_sr.quant.flow import calibration_inputs
    from edge_sr.quant.sensitivity import analyze, simulate
    from edge_sr.quant.validation import DropPredictor

    if not builds or request.sensitivity_images == 0:
        return {"skipped": "no INT8 build" if not builds else "--sensitivity-images 0"}
    key, build = next(iter(builds.items()))
    try:
        recipe = Int8Recipe.from_dict(json.loads(key)["recipe"])
        _, validation, _ = calibration_inputs(recipe, scale=deploy.scale)
        subset = validation[: request.sensitivity_images]
        reference_psnr_db = recipe.reference_psnr_for(deploy.scale)
        predictor = DropPredictor.measure(deploy.module, subset, scale=deploy.scale, reference_psnr_db=reference_psnr_db)
        # The chart shows each layer's cost quantised alone: half the evaluations of a full analysis.
        quantised, rows = analyze(simulate(build.prepared), predictor.drop, float_alone=False)
        return {
            "quantizer": json.loads(key)["quantizer"],
            "images": [pair.name for pair in subset],
            "reference_psnr_db": reference_psnr_db,
            "all_int8_predicted_drop_db": round(quantised, 4),
            "layers": [row.as_dict() for row in rows],
        }
    except Exception as error:
        _emit("note", f"sensitivity: {_one_line(error)}")
        return {"error": _one_line(error)}


def _solve(name, subjects: list[Subject], request, report, inputs, bar) -> None:
    """Budget solver on the fastest dynamic-shape artifact (median at the first size)."""
    first = f"{request.sizes[0][0]}x{request.sizes[0][1]}@{max(request.threads)}"
    best, best_ms = None, float("inf")
    for subject in subjects:
        if subject.fixed_size is not None:
            continue
        for row in report["bench_rows"]:
            if (row.get("artifact") == (subject.artifact.name if subject.artifact else None) and row.get("ms")
                    and f"{row['input'][0]}x{row['input'][1]}@{row['threads']}" == first and row["ms"]["median"] < best_ms):
                best, best_ms = subject, row["ms"]["median"]
    if best is None:
        return
    try:
        solved = solve_budget(best, budget_ms=request.budget_ms, aspect=request.aspect, threads=max(request.threads), inputs=inputs)
        report["budget_solver"].append({**best.facts(), "threads": max(request.threads), **solved.as_dict()})
    except Exception as error:
        report["budget_solver"].append({**best.facts(), "error": _one_line(error)})
        bar.note(f"{name} budget solver: {_one_line(error)}")


def _gallery(name, runs_by_target, gallery_sets, scale) -> list[dict[str, Any]]:
    """HR / bicubic / fp32 / int8 / error crops from the first image of each gallery set."""
    from edge_sr.converters.pipeline import native_output_silenced
    from edge_sr.datasets import discover
    from edge_sr.evaluate import make_lr
    from edge_sr.image_io import read_rgb_uint8
    from edge_sr.quant.validation import to_uint8
    from edge_sr.resize import imresize, modcrop

    target = next((t for t, runs in runs_by_target.items() if {"fp32", "int8"} <= set(runs)), None)
    if target is None:
        return []
    runs = runs_by_target[target]
    items = []
    for dataset in gallery_sets:
        try:
            _, pairs = discover(dataset, scale=scale)
            pair = pairs[0]
            hr = modcrop(read_rgb_uint8(pair.hr), scale)
            lr = make_lr(hr, scale)
            x = torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1))).float().div(255.0)[None]
            with native_output_silenced(), torch.inference_mode():
                fp32, int8 = to_uint8(runs["fp32"](x)), to_uint8(runs["int8"](x))
            bicubic = np.clip(np.round(imresize(lr.astype(np.float64), scale)), 0, 255).astype(np.uint8)
            top, left = _textured_window(hr, GALLERY_CROP, scale)
            window = (slice(top, top + GALLERY_CROP), slice(left, left + GALLERY_CROP))
            difference = np.abs(int8[window].astype(np.int16) - fp32[window].astype(np.int16)).max(axis=2)
            items.append({
                "model": name, "target": target, "dataset": dataset.name, "image": pair.name,
                "crop": {"top": top, "left": left, "size": GALLERY_CROP},
                "error_gain": ERROR_GAIN,
                "max_abs_difference": int(difference.max()),
                "panels": {
                    "HR": hr[window], "bicubic": bicubic[window], "fp32": fp32[window], "int8": int8[window],
                    f"|int8 - fp32| x{ERROR_GAIN:g}": error_map(difference, ERROR_GAIN),
                },
            })
        except Exception as error:
            _emit("note", f"{name} gallery {dataset.name}: {_one_line(error)}")
    return items


def _textured_window(hr: np.ndarray, size: int, scale: int) -> tuple[int, int]:
    """Top-left of the ``size`` window with the most detail (gradient energy), on a coarse grid."""
    grey = hr.astype(np.float32).mean(axis=2)
    energy = np.abs(np.diff(grey, axis=0))[:, :-1] + np.abs(np.diff(grey, axis=1))[:-1, :]
    best, where = -1.0, (0, 0)
    step = max(scale, size // 4)
    for top in range(0, max(1, energy.shape[0] - size), step):
        for left in range(0, max(1, energy.shape[1] - size), step):
            value = float(energy[top : top + size, left : left + size].sum())
            if value > best:
                best, where = value, (top, left)
    return where


def error_map(difference: np.ndarray, gain: float) -> np.ndarray:
    """HxW absolute differences (0-255) → HxWx3 uint8 heat map (black → red → yellow → white)."""
    value = np.clip(difference.astype(np.float32) * gain / 255.0, 0.0, 1.0)
    red = np.clip(value * 3.0, 0.0, 1.0)
    green = np.clip(value * 3.0 - 1.0, 0.0, 1.0)
    blue = np.clip(value * 3.0 - 2.0, 0.0, 1.0)
    return (np.stack([red, green, blue], axis=2) * 255.0 + 0.5).astype(np.uint8)
