"""A held-out validation set for quantisation decisions, made from the calibration source.

Choosing layers to keep in float by their PSNR on Set5/Set14 would tune on the benchmarks we
report.  Instead the DIV2K LR images not used for calibration serve as "HR": each is
mod-cropped and bicubic-downscaled (MATLAB kernel) by the model's scale, and the drop is the
benchmark protocol's Y-channel PSNR drop on these pairs.  The benchmarks are only measured
afterwards, on the finished artifacts.
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
from edge_sr.metrics import psnr_y
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


def mean_psnr_y(run: Callable[[torch.Tensor], torch.Tensor], pairs: list[ValidationPair], *, scale: int) -> float:
    """Mean Y PSNR (MATLAB-rounded Y, border = scale) of ``run`` on ``pairs``."""
    values = []
    with torch.no_grad():
        for pair in pairs:
            values.append(psnr_y(to_uint8(run(pair.lr)), pair.hr, border=scale))
    return float(np.mean(values))
