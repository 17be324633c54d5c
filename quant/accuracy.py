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

FLAT_LEVELS = tuple(range(0, 256, 15))
"""Grey levels of the flat-field check: 0, 15, …, 255 (18 levels, both ends of the range)."""
CHANNELS = ("R", "G", "B")
FLAT_FIELD_SIZE = (128, 128)
"""Input size of the flat-field check for artifacts with free H/W (fixed-shape ones use theirs)."""
FLAT_FIELD_BORDER = 32


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


SATURATED_COLOURS = {
    "red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255),
    "cyan": (0, 255, 255), "magenta": (255, 0, 255), "yellow": (255, 255, 0),
}
"""The corners of the RGB cube other than black and white (which the grey levels include)."""


def _flat_inputs(
    runs: dict[str, Run], colours: dict[str, tuple[int, int, int]], *, size: tuple[int, int], border: int | None
) -> tuple[int, dict[str, np.ndarray]]:
    """``(border, {run: table})``: per colour (rows, in ``colours`` order) and RGB channel, how far
    each run's mean output on a flat image of that colour sits from the first run's, in 8-bit
    levels, away from the borders (``border`` input pixels on each side, where zero padding
    shapes the output)."""
    height, width = size
    if border is None:
        border = min(FLAT_FIELD_BORDER, (min(height, width) - 1) // 2)
    if min(height, width) <= 2 * border:
        raise ValueError(f"flat field: a {height}x{width} input leaves nothing inside a {border}-pixel border")
    names = list(runs)
    errors: dict[str, list[list[float]]] = {name: [] for name in names[1:]}
    for rgb in colours.values():
        x = torch.tensor(rgb, dtype=torch.float32).div(255.0).view(1, 3, 1, 1).expand(1, 3, height, width).contiguous()
        with torch.no_grad():
            outputs = {name: run(x) for name, run in runs.items()}
        inner = outputs[names[0]].shape[-1] // width * border
        reference = outputs[names[0]][0, :, inner:-inner, inner:-inner].mean(dim=(1, 2))
        for name in names[1:]:
            mean = outputs[name][0, :, inner:-inner, inner:-inner].mean(dim=(1, 2))
            errors[name].append([255.0 * float(v) for v in mean - reference])
    return border, {name: np.asarray(rows) for name, rows in errors.items()}


def _shift_summary(table: np.ndarray) -> tuple[float, float, int, str]:
    """``(max_abs, rms, worst row, worst channel)`` of a colour × RGB table of shifts."""
    row, channel = np.unravel_index(int(np.argmax(np.abs(table))), table.shape)
    return round(float(np.abs(table).max()), 3), round(float(np.sqrt(np.mean(table**2))), 3), int(row), CHANNELS[channel]


def flat_field(
    runs: dict[str, Run], *, size: tuple[int, int] = FLAT_FIELD_SIZE, border: int | None = None,
    levels: tuple[int, ...] = FLAT_LEVELS,
) -> dict[str, Any]:
    """How far each run's output on flat grey images sits from the first run's, in 8-bit levels.

    On a flat input every pixel of an activation lands in the same int8 bin, so rounding errors
    do not average out as they do on texture: they add up to a uniform shift of the whole area
    (sky, walls, a page), banding that a benchmark mean hardly shows (SPAN ch28, all-int8:
    up to 3 levels).  Per level and RGB channel: the mean difference over the output away
    from the borders, unrounded, in 8-bit units.

    ``runs``: name → callable (NCHW float32 RGB [0, 1] of ``size`` → NCHW ×scale); the first is
    the reference.  ``border``: ``FLAT_FIELD_BORDER``, narrowed when ``size`` is too small to keep
    a centre.  Returns, per other run: ``dc_error`` (per level, [R, G, B]), ``max_abs``, ``rms``
    and the worst level and channel.
    """
    greys = {str(level): (level, level, level) for level in levels}
    border, tables = _flat_inputs(runs, greys, size=size, border=border)
    result: dict[str, Any] = {"levels": list(levels), "size": list(size), "border": border}
    for name, table in tables.items():
        max_abs, rms, row, channel = _shift_summary(table)
        result[name] = {
            "dc_error": np.round(table, 3).tolist(), "max_abs": max_abs, "rms": rms,
            "worst": {"level": int(levels[row]), "channel": channel},
        }
    return result


def flat_colours(
    runs: dict[str, Run], *, size: tuple[int, int] = FLAT_FIELD_SIZE, border: int | None = None,
    colours: dict[str, tuple[int, int, int]] | None = None,
) -> dict[str, Any]:
    """:func:`flat_field` for flat saturated colours (``SATURATED_COLOURS``: pure red, green, …).

    Natural images hardly contain them, so calibration never shows the network what they do to
    its activations: they reach values far outside the calibrated ranges (SPAN ch28's first conv:
    ±65 against [−22, 27]), get clipped, and the clipping compounds (all-int8 SPAN ch28 artifacts
    move flat magenta's green channel by 92 levels).  UI elements, logos and
    graphics are made of such areas.  Same conventions as :func:`flat_field`; returns
    ``colours`` (name → RGB 0–255) and, per other run, ``dc_error`` (name → [R, G, B]),
    ``max_abs``, ``rms`` and the worst colour and channel.
    """
    colours = dict(SATURATED_COLOURS if colours is None else colours)
    border, tables = _flat_inputs(runs, colours, size=size, border=border)
    names = list(colours)
    result: dict[str, Any] = {"colours": {n: list(rgb) for n, rgb in colours.items()}, "size": list(size), "border": border}
    for name, table in tables.items():
        max_abs, rms, row, channel = _shift_summary(table)
        result[name] = {
            "dc_error": {n: [round(float(v), 3) for v in values] for n, values in zip(names, table)},
            "max_abs": max_abs, "rms": rms, "worst": {"colour": names[row], "channel": channel},
        }
    return result
