"""``edge-sr bench``: turn artifacts and models into subjects, time them, write the bench JSON."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from edge_sr.bench import (
    BENCH_SCHEMA,
    BENCH_SCHEMA_VERSION,
    RUNTIME_TARGET,
    RUNTIMES,
    Subject,
    TimingPolicy,
    bench_subject,
    solve_budget,
)
from edge_sr.errors import EdgeSRError, OptionError
from edge_sr.machine import Ceiling, machine_facts, matmul_ceiling


@dataclass(frozen=True, kw_only=True)
class BenchRequest:
    items: list[str]
    runtimes: list[str]
    precisions: list[str] = field(default_factory=lambda: ["fp32"])
    threads: list[int] = field(default_factory=lambda: [1])
    sizes: list[tuple[int, int]] = field(default_factory=lambda: [(256, 256)])
    budget_ms: float = 100.0
    policy: TimingPolicy = field(default_factory=TimingPolicy)
    solve_budget: bool = False
    aspect: tuple[int, int] = (16, 9)
    work_dir: str = "out/bench"
    edbb_variant: str | None = None
    lora_weights: str | None = None
    lora_scaling: float | None = None

    def __post_init__(self) -> None:
        unknown = [r for r in self.runtimes if r not in RUNTIMES]
        if unknown:
            raise OptionError(f"--runtime {','.join(unknown)}: expected some of {', '.join(RUNTIMES)}")
        bad = [p for p in self.precisions if p not in ("fp32", "fp16", "int8")]
        if bad:
            raise OptionError(f"--precision {','.join(bad)}: expected fp32, fp16 or int8")
        if self.budget_ms <= 0:
            raise OptionError(f"--budget-ms {self.budget_ms}: must be positive")


class InputCache:
    """Real-content inputs: centre crops of the DIV2K verification image (NCHW float32 [0, 1])."""

    def __init__(self) -> None:
        self._crops: dict[tuple[int, int], torch.Tensor] = {}
        self.source = ""

    def __call__(self, height: int, width: int) -> torch.Tensor:
        from edge_sr.converters.pipeline import verification_crop

        if (height, width) not in self._crops:
            self._crops[(height, width)], source = verification_crop(height, width)
            self.source = source.split(",")[0]
        return self._crops[(height, width)]


def subjects_for(item: str, request: BenchRequest, *, say: Callable[[str], None]) -> tuple[list[Subject], list[dict[str, Any]]]:
    """An artifact (a path with a contract beside it) or a model (converted for each runtime).

    Returns the subjects and, for conversions that failed, rows carrying the error."""
    from edge_sr.artifacts import open_artifact, provision, pytorch_subjects
    from edge_sr.collapse import collapse
    from edge_sr.loading import load

    path = Path(item)
    if path.exists() and path.suffix in (".pte", ".tflite", ".onnx", ".mlpackage"):
        return [open_artifact(path)], []
    descriptor = load(item, edbb_variant=request.edbb_variant, lora_weights=request.lora_weights, lora_scaling=request.lora_scaling)
    subjects: list[Subject] = []
    if "pytorch" in request.runtimes or "pytorch-train" in request.runtimes:
        subjects += [s for s in pytorch_subjects(descriptor) if s.runtime in request.runtimes]
    deploy = collapse(descriptor) if descriptor.form != "deploy" else descriptor
    builds: dict = {}
    failed = []
    for runtime in request.runtimes:
        if runtime not in RUNTIME_TARGET:
            continue
        for precision in request.precisions:
            say(f"converting {item} for {runtime} ({precision})")
            try:
                artifacts = provision(
                    deploy, target=RUNTIME_TARGET[runtime], precision=precision, sizes=request.sizes,
                    output_dir=Path(request.work_dir), int8_builds=builds,
                )
            except EdgeSRError as error:  # one runtime that cannot convert is a row, not the end
                say(f"{item} {runtime} {precision}: {error}")
                failed += [{"model": deploy.zoo_name or item, "runtime": runtime, "precision": precision, "threads": t,
                            "input": list(size), "error": str(error), "ms": None, "meets_budget": None}
                           for t in request.threads for size in request.sizes]
                continue
            opened = [open_artifact(a) for a in artifacts]
            subjects += [replace(s, own_size_only=s.fixed_size is not None) for s in opened]
    return subjects, failed


def _restrict(subject: Subject, sizes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A fixed-shape artifact converted per size serves its own size only."""
    if subject.own_size_only:
        return [tuple(subject.fixed_size)]
    return sizes


def format_row(row: dict[str, Any]) -> str:
    size = f"{row['input'][1]}x{row['input'][0]}"
    head = f"{row['model']:<12} {row['runtime']:<13} {row['precision']:<5} t{row['threads']} {size:>8}"
    if row.get("error"):
        return f"{head}  error: {row['error']}"
    ms = row["ms"]
    verdict = "meets" if row["meets_budget"] else "misses"
    fraction = "" if row.get("ceiling_fraction") is None else f" {100 * row['ceiling_fraction']:5.1f}% of ceiling"
    tiles = "" if not row.get("tiling") else f" ({row['tiling']['tiles']} tiles)"
    return (f"{head}  median {ms['median']:8.1f} ms  p10 {ms['p10']:7.1f}  p90 {ms['p90']:7.1f}  min {ms['min']:7.1f}  "
            f"peak {row['peak_rss_mb'] or 0:6.0f} MB{fraction}  {verdict} {row['budget_ms']:g} ms{tiles}")


def run_bench(request: BenchRequest, *, say: Callable[[str], None]) -> dict[str, Any]:
    from edge_sr.converters.pipeline import native_output_silenced

    inputs = InputCache()
    subjects: list[Subject] = []
    rows: list[dict[str, Any]] = []
    for item in request.items:
        opened, failed = subjects_for(item, request, say=say)
        subjects += opened
        rows += failed
    say("measuring the matrix-multiply ceiling")
    ceilings: dict[int, Ceiling] = {count: matmul_ceiling(count) for count in request.threads}
    machine = machine_facts()
    solutions = []
    for subject in subjects:
        with native_output_silenced():  # runtimes print CPU probes on their first run
            subject_rows = bench_subject(
                subject, sizes=_restrict(subject, request.sizes), threads=request.threads, policy=request.policy,
                budget_ms=request.budget_ms, ceilings=ceilings, inputs=inputs,
            )
        for row in subject_rows:
            say(format_row(row))
        rows += subject_rows
        if request.solve_budget:
            threads = max(request.threads)
            with native_output_silenced():
                solved = solve_budget(subject, budget_ms=request.budget_ms, aspect=request.aspect, threads=threads, inputs=inputs)
            solutions.append({**subject.facts(), "threads": threads, **solved.as_dict()})
            say(f"budget: {subject.label}: " + (
                f"largest {request.aspect[0]}:{request.aspect[1]} input {solved.input[1]}x{solved.input[0]} "
                f"-> output {solved.output[1]}x{solved.output[0]} at {solved.median_ms:.1f} ms"
                if solved.input else f"none ({solved.note})"))
    return {
        "schema": BENCH_SCHEMA,
        "schema_version": BENCH_SCHEMA_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": {"name": machine["hostname"], "kind": "host", "measured_by": "edge-sr bench"},
        "machine": machine,
        "ceilings": {str(k): v.as_dict() for k, v in ceilings.items()},
        "conditions": {
            "timing": request.policy.as_dict(), "budget_ms": request.budget_ms,
            "input": f"NCHW float32 RGB [0, 1], batch 1: {inputs.source or 'DIV2K'} centre crops",
            "clock": "time.perf_counter around the runner call (input conversion and output read-back included)",
            "peak_memory": "VmHWM of the process after the row, reset before it (Linux clear_refs)",
        },
        "rows": rows,
        "budget_solver": solutions,
    }
