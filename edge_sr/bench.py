"""Latency of networks and artifacts in their runtimes, against an edge budget.

A *subject* is something that runs: a PyTorch module (train form or collapsed, the baseline a
user has today) or a converted artifact opened in its own runtime (onnxruntime, ExecuTorch
XNNPACK, LiteRT).  For each subject x threads x input size, :func:`bench_subject` warms up,
then times runs until the median settles (at least ``min_runs``), and reports median, p10,
p90, min, peak memory, MAC throughput against the machine's GEMM ceiling and a verdict
against the budget.  Fixed-shape artifacts run larger inputs tile by tile (counted in the row).

Every input is NCHW float32 RGB in [0, 1], batch 1: a centre crop of a real DIV2K LR image.
Results follow the JSON schema ``edge-sr/bench`` (version :data:`BENCH_SCHEMA_VERSION`), which
the demo apps write too, so device results merge into reports.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edge_sr.errors import OptionError
from edge_sr.machine import Ceiling, reset_peak_rss, rss_mb
from edge_sr.tiling import Run, tile_plan, tiled

BENCH_SCHEMA = "edge-sr/bench"
BENCH_SCHEMA_VERSION = 1
DEFAULT_SIZES = ((128, 128), (256, 256), (270, 480), (339, 510))
"""HxW LR inputs: the field's 256x256, a 16:9 480x270 (1080p at x4) and DIV2K's 510x339 (2040x1356 out)."""
RUNTIMES = ("pytorch-train", "pytorch", "onnxruntime", "executorch", "litert")
TARGET_RUNTIME = {"onnx": "onnxruntime", "executorch": "executorch", "tflite": "litert", "coreml": "coreml", "executorch-coreml": "coreml"}
RUNTIME_TARGET = {"onnxruntime": "onnx", "executorch": "executorch", "litert": "tflite"}


@dataclass(frozen=True, kw_only=True)
class TimingPolicy:
    """How long to time: ``warmup`` untimed runs, then at least ``min_runs`` and at most
    ``max_runs`` timed runs, stopping once the median's standard error is within ``settle``
    (a fraction of the median) or ``max_seconds`` of timed runs have passed."""

    warmup: int = 2
    min_runs: int = 5
    max_runs: int = 50
    max_seconds: float = 15.0
    settle: float = 0.02

    def __post_init__(self) -> None:
        if self.warmup < 0 or self.min_runs < 5 or self.max_runs < self.min_runs:
            raise OptionError(f"timing policy: need warmup >= 0, min_runs >= 5, max_runs >= min_runs; got {self}")
        if not (0 < self.settle < 1) or self.max_seconds <= 0:
            raise OptionError(f"timing policy: settle must be in (0, 1) and max_seconds > 0; got {self}")

    def as_dict(self) -> dict[str, object]:
        return {"warmup": self.warmup, "min_runs": self.min_runs, "max_runs": self.max_runs,
                "max_seconds": self.max_seconds, "settle": self.settle,
                "settle_rule": "stop when 1.2533 * stdev / sqrt(n) <= settle * median (standard error of the median)"}


QUICK = TimingPolicy(warmup=1, min_runs=5, max_runs=15, max_seconds=4.0, settle=0.03)
"""For searches (the budget solver): enough to rank sizes, not for the table."""


@dataclass(frozen=True)
class Timing:
    """Wall-clock milliseconds of each timed run, in order."""

    runs_ms: tuple[float, ...]
    settled: bool

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.runs_ms, q))

    @property
    def median(self) -> float:
        return float(statistics.median(self.runs_ms))

    def as_dict(self) -> dict[str, object]:
        return {
            "median": round(self.median, 3), "p10": round(self.percentile(10), 3), "p90": round(self.percentile(90), 3),
            "min": round(min(self.runs_ms), 3), "max": round(max(self.runs_ms), 3),
            "mean": round(statistics.fmean(self.runs_ms), 3), "runs": len(self.runs_ms), "settled": self.settled,
        }


def time_runs(run: Run, x: torch.Tensor, policy: TimingPolicy) -> Timing:
    """Time ``run(x)`` under ``policy`` (see :class:`TimingPolicy`)."""
    with torch.inference_mode():
        for _ in range(policy.warmup):
            run(x)
        runs: list[float] = []
        started = time.perf_counter()
        while True:
            tick = time.perf_counter()
            run(x)
            runs.append((time.perf_counter() - tick) * 1000.0)
            if len(runs) >= policy.min_runs:
                median = statistics.median(runs)
                error = 1.2533 * statistics.stdev(runs) / math.sqrt(len(runs))
                if error <= policy.settle * median:
                    return Timing(tuple(runs), settled=True)
                if len(runs) >= policy.max_runs or time.perf_counter() - started >= policy.max_seconds:
                    return Timing(tuple(runs), settled=False)


@dataclass(frozen=True, kw_only=True)
class Subject:
    """Something to time.  ``open(threads)`` returns a runner (NCHW float32 RGB [0, 1] in,
    NCHW float32 out); ``fixed_size`` is the only input an artifact accepts (None: any up to
    ``max_size``); ``macs_per_pixel``: conv MACs per LR input pixel (None: unknown)."""

    model: str
    runtime: str
    precision: str
    form: str
    scale: int
    open: Callable[[int], Run]
    artifact: Path | None = None
    bytes: int | None = None
    fixed_size: tuple[int, int] | None = None
    max_size: int | None = None
    macs_per_pixel: float | None = None
    notes: tuple[str, ...] = ()
    own_size_only: bool = False
    """A fixed-shape artifact converted for one of several benchmarked sizes: timed at that size
    only (the other sizes have artifacts of their own), not tiled."""

    @property
    def label(self) -> str:
        return f"{self.model} {self.runtime} {self.precision}"

    def facts(self) -> dict[str, object]:
        return {
            "model": self.model, "runtime": self.runtime, "precision": self.precision, "form": self.form,
            "artifact": None if self.artifact is None else self.artifact.name,
            "artifact_bytes": self.bytes, "fixed_size": None if self.fixed_size is None else list(self.fixed_size),
        }


def tile_overlap(tile: tuple[int, int]) -> int:
    """Overlap used when a fixed-shape artifact serves a larger input (context, not exactness)."""
    return max(4, min(tile) // 8)


def _runner_for_size(subject: Subject, run: Run, size: tuple[int, int]) -> tuple[Run, dict[str, object] | None]:
    if subject.fixed_size is None or tuple(size) == tuple(subject.fixed_size):
        return run, None
    overlap = tile_overlap(subject.fixed_size)
    padded = (max(size[0], subject.fixed_size[0]), max(size[1], subject.fixed_size[1]))
    plan = tile_plan(*padded, tile=subject.fixed_size, overlap=overlap)
    return tiled(run, tile=subject.fixed_size, scale=subject.scale, overlap=overlap), {
        "tile": list(subject.fixed_size), "overlap": overlap, "tiles": len(plan),
    }


def bench_subject(
    subject: Subject,
    *,
    sizes: list[tuple[int, int]],
    threads: list[int],
    policy: TimingPolicy,
    budget_ms: float,
    ceilings: dict[int, Ceiling] | None = None,
    inputs: Callable[[int, int], torch.Tensor],
) -> list[dict[str, Any]]:
    """One row per threads x size.  A size the subject cannot run becomes a row with ``error``."""
    rows = []
    for count in threads:
        reset_peak_rss()
        before = rss_mb()
        try:
            run = subject.open(count)
        except Exception as error:  # a runtime that cannot open the artifact: say so per row
            rows += [_error_row(subject, count, size, f"opening: {type(error).__name__}: {_first_line(error)}") for size in sizes]
            continue
        for size in sizes:
            if subject.max_size is not None and max(size) > subject.max_size:
                rows.append(_error_row(subject, count, size, f"beyond the artifact's dynamic range (max {subject.max_size} px)"))
                continue
            sized, tiling = _runner_for_size(subject, run, size)
            x = inputs(*size)
            reset_peak_rss()
            try:
                timing = time_runs(sized, x, policy)
            except Exception as error:
                rows.append(_error_row(subject, count, size, f"{type(error).__name__}: {_first_line(error)}"))
                continue
            peak = rss_mb("VmHWM")
            macs = None if subject.macs_per_pixel is None else subject.macs_per_pixel * size[0] * size[1]
            ceiling = None if ceilings is None or count not in ceilings else ceilings[count].for_precision(subject.precision)
            achieved = None if macs is None else macs / (timing.median / 1000.0) / 1e9
            rows.append({
                **subject.facts(),
                "threads": count,
                "input": list(size),
                "output": [size[0] * subject.scale, size[1] * subject.scale],
                "tiling": tiling,
                "ms": timing.as_dict(),
                "peak_rss_mb": None if peak is None else round(peak, 1),
                "rss_before_load_mb": None if before is None else round(before, 1),
                "budget_ms": budget_ms,
                "meets_budget": timing.median <= budget_ms,
                "gmacs": None if macs is None else round(macs / 1e9, 3),
                "achieved_gmacs_per_s": None if achieved is None else round(achieved, 2),
                "ceiling_gmacs_per_s": None if ceiling is None else round(ceiling, 1),
                "ceiling_fraction": None if achieved is None or not ceiling else round(achieved / ceiling, 4),
                "notes": list(subject.notes),
            })
    return rows


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else ""


def _error_row(subject: Subject, threads: int, size: tuple[int, int], error: str) -> dict[str, Any]:
    return {**subject.facts(), "threads": threads, "input": list(size), "error": error, "ms": None, "meets_budget": None}


@dataclass
class BudgetResult:
    """The largest input of the given aspect ratio whose median latency meets the budget."""

    aspect: tuple[int, int]
    budget_ms: float
    input: tuple[int, int] | None
    output: tuple[int, int] | None
    median_ms: float | None
    probes: list[dict[str, object]] = field(default_factory=list)
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "aspect": f"{self.aspect[0]}:{self.aspect[1]}", "budget_ms": self.budget_ms,
            "input": None if self.input is None else list(self.input),
            "output": None if self.output is None else list(self.output),
            "median_ms": None if self.median_ms is None else round(self.median_ms, 2),
            "probes": self.probes, "note": self.note,
        }


def _shape_for_width(width: int, aspect: tuple[int, int]) -> tuple[int, int]:
    return max(1, round(width * aspect[1] / aspect[0])), width


def solve_budget(
    subject: Subject,
    *,
    budget_ms: float,
    aspect: tuple[int, int] = (16, 9),
    threads: int,
    inputs: Callable[[int, int], torch.Tensor],
    policy: TimingPolicy = QUICK,
    step: int = 8,
    min_width: int = 32,
) -> BudgetResult:
    """Largest ``H x W`` with ``W:H = aspect`` (W a multiple of ``step``) whose median meets the budget.

    Latency grows about linearly with pixels, so each probe predicts the next width from the
    last measurement (``w * sqrt(budget / t)``, at most doubling) until one side of the budget is
    bracketed, then bisects to ``step`` px.  Fixed-shape artifacts are not searched.
    """
    if subject.fixed_size is not None:
        return BudgetResult(aspect, budget_ms, None, None, None,
                            note=f"fixed-shape artifact ({subject.fixed_size[1]}x{subject.fixed_size[0]}): no size to search")
    run = subject.open(threads)
    width_limit = subject.max_size if subject.max_size is not None else 4096
    # The longer side is the width for landscape aspects; respect the artifact's range on both.
    max_width = min(width_limit, math.floor(width_limit * aspect[0] / max(aspect)))
    max_width -= max_width % step
    probes: list[dict[str, object]] = []
    measured: dict[int, float] = {}

    def median_at(width: int) -> float:
        if width not in measured:
            height, width_ = _shape_for_width(width, aspect)
            measured[width] = time_runs(run, inputs(height, width_), policy).median
            probes.append({"input": [height, width_], "median_ms": round(measured[width], 2)})
        return measured[width]

    low, high = None, None  # widths known to meet / to miss the budget
    width = max(min_width, step)
    while True:
        if median_at(width) <= budget_ms:
            low = width
            if width >= max_width:
                break
            guess = int(width * min(2.0, math.sqrt(budget_ms / measured[width])))
            width = min(max_width, max(width + step, guess - guess % step))
        else:
            high = width
            break
    if low is None:
        return BudgetResult(aspect, budget_ms, None, None, None, probes,
                            note=f"even {_shape_for_width(width, aspect)[1]}x{_shape_for_width(width, aspect)[0]} takes {measured[width]:.1f} ms")
    while high is not None and high - low > step:
        middle = (low + high) // 2
        middle -= middle % step
        if middle <= low:
            break
        if median_at(middle) <= budget_ms:
            low = middle
        else:
            high = middle
    height, width = _shape_for_width(low, aspect)
    note = "at the artifact's maximum size" if high is None else f"next probe ({_shape_for_width(high, aspect)[1]} wide) misses"
    return BudgetResult(aspect, budget_ms, (height, width), (height * subject.scale, width * subject.scale),
                        measured[low], probes, note=note)


def parse_aspect(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.split(":"))
    except ValueError:
        raise OptionError(f"aspect {text!r}: expected W:H, e.g. 16:9") from None
    if width <= 0 or height <= 0:
        raise OptionError(f"aspect {text!r}: both sides must be positive")
    return width, height
