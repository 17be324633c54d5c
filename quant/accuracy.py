"""The accuracy section of an INT8 contract: fp32 vs int8 artifact, each in its own runtime.

Both protocols (RGB as NTIRE, Y MATLAB-rounded as the papers) on every benchmark given; the
LR images are the MATLAB-bicubic downscale of the mod-cropped HR (see ``edge_sr.evaluate``).
Fixed-shape artifacts run tile by tile (``edge_sr.tiling``); both artifacts then see the same
tiling, so the drop is the quantisation's alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from edge_sr.datasets import discover
from edge_sr.evaluate import make_lr
from edge_sr.image_io import read_rgb_uint8
from edge_sr.metrics import psnr_rgb, psnr_y
from edge_sr.quant.validation import to_uint8
from edge_sr.resize import modcrop

Run = Callable[[torch.Tensor], torch.Tensor]


def _pairs(dataset: Path, scale: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    _, pairs = discover(dataset, scale=scale)
    loaded = []
    for pair in pairs:
        hr = modcrop(read_rgb_uint8(pair.hr), scale)
        lr = read_rgb_uint8(pair.lr) if pair.lr is not None else make_lr(hr, scale)
        loaded.append((pair.name, lr, hr))
    return loaded


def compare(
    runs: dict[str, Run], datasets: list[Path], *, scale: int, progress: bool | None = None
) -> dict[str, Any]:
    """Mean PSNR per run and dataset, each run's drop relative to the first run, and the image
    where that drop is largest (``<run>_worst_image``: a mean can hide one image that collapses,
    e.g. int8 ESPAN loses 0.40 dB on Urban100 on average but 3.4 dB on img_043).

    ``runs``: name → callable (NCHW float32 RGB [0, 1] → NCHW ×scale); the first is the reference.
    """
    names = list(runs)
    result: dict[str, Any] = {"datasets": {}}
    for dataset in datasets:
        pairs = _pairs(dataset, scale)
        values: dict[str, dict[str, list[float]]] = {n: {"psnr_rgb": [], "psnr_y": []} for n in names}
        seconds = {n: 0.0 for n in names}
        for _, lr, hr in tqdm(pairs, desc=f"accuracy {dataset.name}", unit="img", disable=(not progress) if progress is not None else None):
            x = torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1))).float().div(255.0)[None]
            for name in names:
                tick = time.perf_counter()
                with torch.no_grad():
                    sr = to_uint8(runs[name](x))
                seconds[name] += time.perf_counter() - tick
                values[name]["psnr_rgb"].append(psnr_rgb(sr, hr, border=scale))
                values[name]["psnr_y"].append(psnr_y(sr, hr, border=scale))
        row: dict[str, Any] = {"images": len(pairs)}
        for name in names:
            row[name] = {metric: round(float(np.mean(v)), 4) for metric, v in values[name].items()}
            row[name]["seconds"] = round(seconds[name], 2)
        reference = names[0]
        for name in names[1:]:
            row[f"{name}_drop"] = {
                metric: round(row[reference][metric] - row[name][metric], 4) for metric in ("psnr_rgb", "psnr_y")
            }
            drops = np.subtract(values[reference]["psnr_y"], values[name]["psnr_y"])
            worst = int(np.argmax(drops))
            row[f"{name}_worst_image"] = {"image": pairs[worst][0], "drop_psnr_y": round(float(drops[worst]), 4)}
        result["datasets"][dataset.name] = row
    return result
