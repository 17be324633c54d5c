"""Activation range estimators, and the PT2E observer that applies them.

Every estimator sees the same evidence: the exact running min/max plus a deterministic
subsample of the observed values (every k-th element of each calibration batch, in order), so
percentile, MSE and entropy are computed on real values rather than on a re-binned histogram,
and the same calibration data always gives the same range.

- ``minmax``: the observed extremes.
- ``percentile``: the ``p`` and ``100 - p`` percentiles (zero stays inside the range).
- ``mse``: the clipping range minimising the squared error of 8-bit affine fake-quantisation
  of the sample (coordinate search, low end then high end, twice).
- ``entropy``: the clipping range minimising the KL divergence between the sample's histogram
  (2048 bins over the observed range, clipped mass folded into the edge bins) and its 256-level
  quantised version (TensorRT's calibration criterion, applied to both ends of an affine range).
"""

from __future__ import annotations

import math

import torch
from torchao.quantization.pt2e.observer import MinMaxObserver

SAMPLES_PER_BATCH = 1 << 16
MAX_SAMPLES = 1 << 18
SEARCH_STEPS = 40
HISTOGRAM_BINS = 2048


def _fake_quant_error(sample: torch.Tensor, low: float, high: float, levels: int) -> float:
    scale = max(high - low, 1e-12) / (levels - 1)
    zero = round(-low / scale)
    q = torch.clamp(torch.round(sample / scale) + zero, 0, levels - 1)
    return float(((q - zero) * scale - sample).square().mean())


def _kl_error_on(histogram: torch.Tensor, edges_low: float, edges_high: float):
    """KL(P || Q) for a clipping range, against one fixed fine ``histogram`` of the whole range.

    P: the histogram inside the range with the clipped mass folded into its edge bins; Q: P
    merged into ``levels`` equal groups and spread back evenly over each group's non-empty bins.
    """
    bins = histogram.numel()
    width = (edges_high - edges_low) / bins

    def error(_sample: torch.Tensor, low: float, high: float, levels: int) -> float:
        first = max(0, min(bins - 1, int((low - edges_low) / width)))
        last = max(first + 1, min(bins, int(math.ceil((high - edges_low) / width))))
        if last - first < levels:
            return math.inf
        p = histogram[first:last].clone()
        p[0] += histogram[:first].sum()
        p[-1] += histogram[last:].sum()
        groups = torch.linspace(0, last - first, levels + 1).round().long()
        q = torch.zeros_like(p)
        for start, stop in zip(groups[:-1].tolist(), groups[1:].tolist()):
            chunk = p[start:stop]
            occupied = chunk > 0
            if occupied.any():
                q[start:stop][occupied] = chunk.sum() / occupied.sum()
        p, q = p / p.sum(), q / q.sum()
        mask = p > 0
        return float((p[mask] * (p[mask] / q[mask].clamp(min=1e-12)).log()).sum())

    return error


def _search(sample: torch.Tensor, low: float, high: float, levels: int, error) -> tuple[float, float]:
    best_low, best_high = low, high
    for _ in range(2):
        for end in ("low", "high"):
            candidates = []
            for step in range(SEARCH_STEPS):
                fraction = 1.0 - 0.8 * step / SEARCH_STEPS
                lo = low * fraction if end == "low" else best_low
                hi = high * fraction if end == "high" else best_high
                if hi - lo <= 0:
                    continue
                candidates.append((error(sample, lo, hi, levels), step, lo, hi))
            if candidates:
                _, _, best_low, best_high = min(candidates)
    return best_low, best_high


def estimate_range(
    sample: torch.Tensor, minimum: float, maximum: float, *, estimator: str, percentile: float, levels: int = 256
) -> tuple[float, float]:
    """The ``(low, high)`` range an activation is quantised over; always contains 0."""
    low, high = min(minimum, 0.0), max(maximum, 0.0)
    if estimator == "minmax" or sample.numel() == 0 or high - low <= 0:
        return low, high
    if estimator == "percentile":
        fraction = percentile / 100.0
        quantiles = torch.quantile(sample.double(), torch.tensor([1.0 - fraction, fraction], dtype=torch.float64))
        return min(float(quantiles[0]), 0.0), max(float(quantiles[1]), 0.0)
    if estimator == "mse":
        return _search(sample, low, high, levels, _fake_quant_error)
    if estimator == "entropy":
        histogram = torch.histc(sample.double(), bins=HISTOGRAM_BINS, min=low, max=high)
        return _search(sample, low, high, levels, _kl_error_on(histogram, low, high))
    raise ValueError(f"unknown range estimator {estimator!r}")


class RangeEstimatorObserver(MinMaxObserver):
    """A per-tensor affine observer whose range comes from :func:`estimate_range`.

    Observed tensors: any layout and shape, float32.  ``min_val``/``max_val`` hold the chosen
    range once :meth:`calculate_qparams` has run, so later readers see what was used.
    """

    def __init__(self, *, estimator: str = "minmax", percentile: float = 99.99, **observer_args) -> None:
        super().__init__(**observer_args)
        self.estimator = estimator
        self.percentile = percentile
        self.samples: list[torch.Tensor] = []
        self.sampled = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() == 0:
            return x
        super().forward(x)
        if self.estimator != "minmax" and self.sampled < MAX_SAMPLES:
            flat = x.detach().reshape(-1).float()
            stride = max(1, math.ceil(flat.numel() / SAMPLES_PER_BATCH))
            kept = flat[::stride].clone()
            self.samples.append(kept)
            self.sampled += kept.numel()
        return x

    @torch.jit.export
    def calculate_qparams(self):
        sample = torch.cat(self.samples) if self.samples else torch.empty(0)
        levels = self.quant_max - self.quant_min + 1
        low, high = estimate_range(
            sample,
            float(self.min_val),
            float(self.max_val),
            estimator=self.estimator,
            percentile=self.percentile,
            levels=levels,
        )
        self.samples, self.sampled = [], 0
        self.min_val.fill_(low)
        self.max_val.fill_(high)
        return self._calculate_qparams(self.min_val, self.max_val)
