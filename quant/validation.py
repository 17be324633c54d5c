"""A held-out validation set for quantisation decisions, made from the calibration source.

Choosing layers to keep in float by their PSNR on Set5/Set14 would tune on the benchmarks we
report.  Instead the DIV2K LR images not used for calibration serve as "HR": each is
mod-cropped and bicubic-downscaled (MATLAB kernel) by the model's scale.  The benchmarks are
only measured afterwards, on the finished artifacts.

Decisions use the *predicted* drop (:class:`DropPredictor`), not the drop against these "HR"
images: a PSNR drop depends on how large the float network's own error already is, and on this
hard content (SPAN ch28 reaches 24.3 dB here, 28.4 dB on Set14) the same quantisation noise
costs 2–3× fewer dB than on the benchmarks.  The noise itself is measured here; the drop is then
predicted for content where the float network reaches ``reference_psnr_db``.

A budget is compared with the prediction's upper bound, its mean over the images plus one
standard error: a search that stops at the first candidate whose mean over 12 images meets the
budget lands on the budget with no margin for what other images show (ESPAN on ExecuTorch,
predicted 0.0499 for a 0.05 budget, lost 0.055 dB on Urban100).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from edge_sr.errors import DatasetError
from edge_sr.evaluate import make_lr
from edge_sr.image_io import read_rgb_uint8
from edge_sr.metrics import psnr_y, rgb_to_y
from edge_sr.resize import modcrop

VALIDATION_IMAGES = 12


@dataclass(frozen=True)
class ValidationPair:
    """``lr``: NCHW float32 RGB in [0, 1]; ``hr``: HxWx3 uint8 RGB."""

    name: str
    lr: torch.Tensor
    hr: np.ndarray


def validation_pairs(images: list[Path], *, scale: int, calibration_count: int, count: int = VALIDATION_IMAGES) -> list[ValidationPair]:
    """The last ``count`` images (never among the first ``calibration_count`` used for crops)."""
    held_out = images[calibration_count:][-count:]
    if not held_out:
        raise DatasetError(
            f"validation: all {len(images)} calibration-source images are used for calibration "
            f"({calibration_count} crops); use fewer calibration images to hold some out"
        )
    pairs = []
    for path in held_out:
        hr = modcrop(read_rgb_uint8(path), scale)
        lr = make_lr(hr, scale)
        tensor = torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1))).float().div(255.0)[None]
        pairs.append(ValidationPair(name=path.name, lr=tensor, hr=hr))
    return pairs


def to_uint8(output: torch.Tensor) -> np.ndarray:
    """NCHW float RGB (any range) → HxWx3 uint8: clamp to [0, 1], ×255, round."""
    return torch.round(output[0].clamp(0.0, 1.0) * 255.0).to(torch.uint8).permute(1, 2, 0).numpy()


def predicted_drop_db(noise_mse: float, *, reference_psnr_db: float) -> float:
    """``10·log10(1 + noise / e)``: the PSNR lost when independent noise of mean square ``noise``
    (Y, 8-bit units²) adds to a float error of mean square ``e`` = the error at ``reference_psnr_db``."""
    reference_mse = 255.0**2 / 10.0 ** (reference_psnr_db / 10.0)
    return float(10.0 * np.log10(1.0 + noise_mse / reference_mse))


@dataclass(frozen=True)
class NoiseFigures:
    """One candidate on the validation pairs: ``drop_db`` predicted (mean over images),
    ``drop_bound_db`` that mean plus its standard error (what decisions compare with a budget),
    ``noise_psnr_db`` its Y output against the float network's (pixels pooled), ``psnr_db`` its
    mean Y PSNR against the held-out "HR" images."""

    drop_db: float
    drop_bound_db: float
    noise_psnr_db: float
    psnr_db: float


@dataclass(frozen=True)
class DropPredictor:
    """Predicts a quantised network's benchmark PSNR drop from its output noise on held-out images.

    ``float_y``: the float network's output on each validation LR image, as MATLAB-rounded Y
    (HxW float64, border of ``scale`` removed), the reference every candidate is compared with;
    ``float_psnr_db``: the float network's mean Y PSNR on the pairs.
    """

    pairs: list[ValidationPair]
    scale: int
    reference_psnr_db: float
    float_y: list[np.ndarray]
    float_psnr_db: float

    @classmethod
    def measure(
        cls, float_run: Callable[[torch.Tensor], torch.Tensor], pairs: list[ValidationPair], *, scale: int,
        reference_psnr_db: float,
    ) -> "DropPredictor":
        outputs = _outputs(float_run, pairs)
        return cls(
            pairs=pairs, scale=scale, reference_psnr_db=reference_psnr_db,
            float_y=[_y(output, scale) for output in outputs],
            float_psnr_db=_mean_psnr_y(outputs, pairs, scale),
        )

    def figures(self, run: Callable[[torch.Tensor], torch.Tensor]) -> NoiseFigures:
        """All three figures from one pass of ``run`` over the pairs."""
        outputs = _outputs(run, self.pairs)
        noise = [float(np.mean((_y(output, self.scale) - reference) ** 2)) for output, reference in zip(outputs, self.float_y)]
        pooled = float(np.mean(noise))
        drops = np.array([predicted_drop_db(m, reference_psnr_db=self.reference_psnr_db) for m in noise])
        mean = float(drops.mean())
        standard_error = float(drops.std(ddof=1) / np.sqrt(len(drops))) if len(drops) > 1 else 0.0
        return NoiseFigures(
            drop_db=mean,
            drop_bound_db=mean + standard_error,
            noise_psnr_db=float("inf") if pooled == 0 else float(10.0 * np.log10(255.0**2 / pooled)),
            psnr_db=_mean_psnr_y(outputs, self.pairs, self.scale),
        )

    def drop(self, run: Callable[[torch.Tensor], torch.Tensor]) -> float:
        """The predicted drop (dB, mean over the images); 0 for the float network itself."""
        return self.figures(run).drop_db


def _outputs(run: Callable[[torch.Tensor], torch.Tensor], pairs: list[ValidationPair]) -> list[np.ndarray]:
    with torch.no_grad():
        return [to_uint8(run(pair.lr)) for pair in pairs]


def _mean_psnr_y(outputs: list[np.ndarray], pairs: list[ValidationPair], scale: int) -> float:
    """Mean Y PSNR (MATLAB-rounded Y, border = scale) of uint8 outputs against the pairs' HR."""
    return float(np.mean([psnr_y(output, pair.hr, border=scale) for output, pair in zip(outputs, pairs)]))


def _y(output: np.ndarray, border: int) -> np.ndarray:
    y = rgb_to_y(output)
    return y[border:-border, border:-border] if border > 0 else y
