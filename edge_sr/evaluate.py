"""Evaluating a network the way the field does (see ``metrics`` for the two protocols)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from edge_sr.datasets import discover
from edge_sr.descriptor import ModelDescriptor
from edge_sr.errors import DatasetError, OptionError
from edge_sr.image_io import read_rgb_uint8
from edge_sr.metrics import psnr_rgb, psnr_y, ssim_y
from edge_sr.resize import imresize, modcrop

PROTOCOLS = ("ntire", "y", "both")


def super_resolve_uint8(descriptor: ModelDescriptor, lr: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 LR -> (sH)x(sW)x3 uint8 SR: output clamped to [0, 1], x255, rounded."""
    x = torch.from_numpy(lr.astype(np.float32).transpose(2, 0, 1) / 255.0)[None]
    y = descriptor.run(x)[0].clamp(0.0, 1.0)
    return torch.round(y * 255.0).to(torch.uint8).permute(1, 2, 0).numpy()


def make_lr(hr: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB-compatible bicubic downscale of a mod-cropped uint8 HR image."""
    return imresize(modcrop(hr, scale), 1.0 / scale)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def evaluate(
    descriptor: ModelDescriptor,
    dataset: str | os.PathLike,
    *,
    protocol: str = "both",
    progress: bool | None = None,
) -> dict[str, Any]:
    """PSNR/SSIM of ``descriptor`` on ``dataset``; returns a JSON-serialisable dict.

    Keys: ``psnr_rgb`` (NTIRE protocol), ``psnr_y`` and ``ssim_y`` (paper protocol, Y rounded
    as MATLAB does), ``psnr_y_float`` (Y unrounded, as BasicSR), each the mean over images,
    and ``images`` with the per-image values.  Border crop = scale.  ``progress=None`` shows a
    bar only on a terminal.
    """
    if protocol not in PROTOCOLS:
        raise OptionError(f"protocol {protocol!r}: expected one of {', '.join(PROTOCOLS)}")
    scale = descriptor.scale
    layout, pairs = discover(dataset, scale=scale)
    rows = []
    bar = tqdm(pairs, desc=f"eval {Path(dataset).name}", unit="img", disable=(not progress) if progress is not None else None)
    for pair in bar:
        hr = modcrop(read_rgb_uint8(pair.hr), scale)
        if pair.lr is not None:
            lr = read_rgb_uint8(pair.lr)
            expected = (hr.shape[0] // scale, hr.shape[1] // scale)
            if lr.shape[:2] != expected:
                raise DatasetError(f"{pair.lr}: expected {expected[1]}x{expected[0]} px (HR / {scale}), found {lr.shape[1]}x{lr.shape[0]}")
        else:
            lr = make_lr(hr, scale)
        descriptor.check_input(torch.empty(1, 3, *lr.shape[:2]), what=f"{pair.hr} (LR)")
        sr = super_resolve_uint8(descriptor, lr)
        row: dict[str, Any] = {"name": pair.name, "hr_size": [hr.shape[1], hr.shape[0]]}
        if protocol in ("ntire", "both"):
            row["psnr_rgb"] = psnr_rgb(sr, hr, border=scale)
        if protocol in ("y", "both"):
            row["psnr_y"] = psnr_y(sr, hr, border=scale, rounding="matlab")
            row["psnr_y_float"] = psnr_y(sr, hr, border=scale, rounding="float")
            row["ssim_y"] = ssim_y(sr, hr, border=scale, rounding="matlab")
        rows.append(row)
    metrics = [k for k in ("psnr_rgb", "psnr_y", "psnr_y_float", "ssim_y") if k in rows[0]]
    result: dict[str, Any] = {
        "dataset": str(dataset),
        "layout": layout,
        "images_evaluated": len(rows),
        "model": descriptor.summary(),
        "protocol": {
            "requested": protocol,
            "lr": "given by the dataset" if pairs[0].lr is not None else "MATLAB-compatible bicubic of the mod-cropped HR",
            "border_crop": scale,
            "psnr_rgb": "NTIRE Efficient-SR: RGB, output clamped, x255, rounded to uint8",
            "psnr_y": "paper: BT.601 Y rounded to integers (MATLAB rgb2ycbcr)",
            "psnr_y_float": "paper: BT.601 Y in floating point (BasicSR)",
            "ssim_y": "Gaussian 11x11, sigma 1.5, on rounded Y",
        },
    }
    for key in metrics:
        result[key] = float(np.mean([row[key] for row in rows]))
    result["images"] = [{k: (_finite(v) if isinstance(v, float) else v) for k, v in row.items()} for row in rows]
    for key in metrics:
        result[key] = _finite(result[key])
    return result
