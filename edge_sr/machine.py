"""The machine every latency figure is measured on, and its matrix-multiply ceiling.

A latency means nothing without its conditions: CPU model, ISA, cores, threads, load, library
versions.  :func:`machine_facts` records them; :func:`matmul_ceiling` measures what this CPU
reaches on a large matrix multiply (fp32 through PyTorch's BLAS; int8 through the faster of
PyTorch's two int8 GEMMs), the reference for the "fraction of the machine" an SR network reaches.

``torch._int_mm`` alone is not an int8 ceiling: on x86 without VNNI or AMX it falls back to a
scalar loop (about 1 GMAC/s on an AVX2-only EPYC, against 47 GMAC/s fp32), while the quantised
engine's linear (FBGEMM's AVX2 u8×s8 kernels, QNNPACK on Arm) reaches 52.  The probe times both
and records which one set the ceiling.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

ISA_FLAGS = (
    "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni",
    "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16", "asimd", "asimddp", "fphp", "asimdhp", "i8mm", "sve",
)
"""The instruction-set extensions that decide which conv/GEMM kernels runtimes pick."""
LIBRARIES = ("edge-sr", "torch", "executorch", "onnxruntime", "ai-edge-litert", "litert-torch", "coremltools", "numpy")
PROBE_SIZE = 1024


def _cpuinfo() -> tuple[str, list[str], int | None]:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model, flags, cores = platform.processor() or platform.machine(), [], set()
    physical = None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key in ("model name", "Model", "Hardware") and value:
            model = value
        elif key in ("flags", "Features") and not flags:
            flags = value.split()
        elif key == "physical id":
            physical = value
        elif key == "core id":
            cores.add((physical, value))
    return model, [f for f in ISA_FLAGS if f in flags], len(cores) or None


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_facts() -> dict[str, object]:
    """JSON-ready facts: CPU, ISA flags, cores, load, OS, Python and library versions."""
    model, flags, physical_cores = _cpuinfo()
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": model,
        "architecture": platform.machine(),
        "isa_flags": flags,
        "logical_cpus": os.cpu_count(),
        "physical_cores": physical_cores,
        "cpus_available": affinity,
        "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "libraries": {name: _version(name) for name in LIBRARIES},
        "hostname": platform.node(),
    }


@dataclass(frozen=True)
class Ceiling:
    """Multiply-accumulates per second a large square GEMM reaches here, per precision."""

    threads: int
    fp32_gmacs: float
    int8_gmacs: float | None
    method: str

    def for_precision(self, precision: str) -> float | None:
        return self.int8_gmacs if precision == "int8" else self.fp32_gmacs

    def as_dict(self) -> dict[str, object]:
        return {"threads": self.threads, "fp32_gmacs_per_s": round(self.fp32_gmacs, 1),
                "int8_gmacs_per_s": None if self.int8_gmacs is None else round(self.int8_gmacs, 1), "method": self.method}


def _gmacs(multiply, a, b, *, seconds: float) -> float:
    for _ in range(2):
        multiply(a, b)
    runs, started = 0, time.perf_counter()
    best = float("inf")
    while runs < 3 or time.perf_counter() - started < seconds:
        tick = time.perf_counter()
        multiply(a, b)
        best = min(best, time.perf_counter() - tick)
        runs += 1
    return a.shape[0] * a.shape[1] * b.shape[1] / best / 1e9


def _int_mm(a: torch.Tensor, b: torch.Tensor):
    return "torch._int_mm (s8 x s8 -> s32)", torch._int_mm, a, b


def _quantized_linear(a: torch.Tensor, b: torch.Tensor):
    with warnings.catch_warnings():
        # quantised tensors are deprecated, but their engine is still PyTorch's vectorised int8 GEMM
        warnings.simplefilter("ignore", UserWarning)
        activation = torch.quantize_per_tensor(a.float(), 1.0, 128, torch.quint8)
        packed = torch.ops.quantized.linear_prepack(torch.quantize_per_tensor(b.float(), 1.0, 0, torch.qint8), None)
    name = f"torch.ops.quantized.linear (u8 x s8, engine {torch.backends.quantized.engine})"
    return name, (lambda x, _: torch.ops.quantized.linear(x, packed, 1.0, 128)), activation, b


# each (a, b) -> (name, multiply, left, right); the quantised engine is x86/FBGEMM or QNNPACK
_INT8_GEMMS = (_int_mm, _quantized_linear)


@contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Run the block on ``threads`` PyTorch intra-op threads (None: as many as now), then restore
    the caller's count; yields the count in force."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(previous)


def matmul_ceiling(threads: int, *, size: int = PROBE_SIZE, seconds: float = 1.0) -> Ceiling:
    """Best-of-runs GMAC/s of a ``size``³ fp32 and int8 matrix multiply on ``threads`` threads.

    The int8 figure is the fastest of the int8 GEMMs PyTorch has here (``method`` names it, with
    the quantised engine), or None when it has none.
    """
    with torch_threads(threads):
        generator = torch.Generator().manual_seed(0)
        a = torch.randn(size, size, generator=generator)
        b = torch.randn(size, size, generator=generator)
        fp32 = _gmacs(torch.mm, a, b, seconds=seconds)
        ai = torch.randint(-128, 128, (size, size), dtype=torch.int8, generator=generator)
        bi = torch.randint(-128, 128, (size, size), dtype=torch.int8, generator=generator)
        int8, int8_name = None, "no int8 GEMM in this PyTorch build"
        for prepare in _INT8_GEMMS:
            try:
                name, multiply, left, right = prepare(ai, bi)
                rate = _gmacs(multiply, left, right, seconds=seconds)
            except (RuntimeError, AttributeError, NotImplementedError):
                continue  # this build lacks that kernel; the others still count
            if int8 is None or rate > int8:
                int8, int8_name = rate, name
    return Ceiling(threads=threads, fp32_gmacs=fp32, int8_gmacs=int8,
                   method=f"best of >=3 runs of a {size}x{size}x{size} GEMM; fp32: torch.mm; int8: {int8_name}")


def reset_peak_rss() -> bool:
    """Reset this process's peak-RSS mark (Linux ``clear_refs`` 5); False where not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def rss_mb(field: str = "VmRSS") -> float | None:
    """Current (``VmRSS``) or peak since the last reset (``VmHWM``) resident memory, MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None
