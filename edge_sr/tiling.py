"""Running a network or a fixed-shape artifact on images of any size, tile by tile.

Tiles of exactly ``tile`` (H, W) LR pixels are cut with ``overlap`` pixels of context on every
side that has a neighbour; images smaller than a tile are edge-padded up to it.  Each tile's
output keeps only the part that belongs to it (context discarded), so seams fall where every
tile had ``overlap`` pixels of real neighbourhood.

For a network whose receptive field reaches ``r`` LR pixels from an output pixel (SPAN-family:
one pixel per 3x3 conv), an overlap of at least ``r`` makes the tiled result equal the
whole-image result (up to float rounding); :func:`receptive_radius` measures ``r``.  Networks
with global context (EFDN's attention pools over the whole input) have no such overlap: their
tiled output differs and :func:`receptive_radius` returns None.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edge_sr.errors import OptionError

Run = Callable[[torch.Tensor], torch.Tensor]
"""NCHW float32 RGB [0, 1] (batch 1) in, NCHW float32 RGB (×scale) out."""


@dataclass(frozen=True)
class Tile:
    """One tile: where it is cut from the (padded) LR image, and which part of it is kept.

    ``keep`` is (top, left, bottom, right) in tile LR pixels; the kept output goes to
    ``(top + keep_top) * scale ...`` of the full output.
    """

    top: int
    left: int
    keep: tuple[int, int, int, int]


def _starts(length: int, tile: int, step: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, step))
    return starts + [length - tile]


def tile_plan(height: int, width: int, *, tile: tuple[int, int], overlap: int) -> list[Tile]:
    """Tiles covering a ``height x width`` image (already padded to at least ``tile``)."""
    tile_h, tile_w = tile
    if overlap < 0:
        raise OptionError(f"tiling: overlap must be >= 0, got {overlap}")
    if overlap * 2 >= min(tile_h, tile_w):
        raise OptionError(f"tiling: overlap {overlap} px leaves nothing of a {tile_w}x{tile_h} tile")
    tiles = []
    for top in _starts(height, tile_h, tile_h - 2 * overlap):
        for left in _starts(width, tile_w, tile_w - 2 * overlap):
            # Keep from the middle of the overlap on each side that has a neighbour.
            keep = (
                0 if top == 0 else overlap,
                0 if left == 0 else overlap,
                tile_h if top + tile_h >= height else tile_h - overlap,
                tile_w if left + tile_w >= width else tile_w - overlap,
            )
            tiles.append(Tile(top=top, left=left, keep=keep))
    return tiles


def _pad_to_tile(x: torch.Tensor, tile: tuple[int, int]) -> torch.Tensor:
    pad_h, pad_w = max(0, tile[0] - x.shape[2]), max(0, tile[1] - x.shape[3])
    return F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x


def _tile_outputs(
    run: Run, x: torch.Tensor, *, tile: tuple[int, int], scale: int, overlap: int, progress: bool | str = False
) -> Iterator[tuple[tuple[int, int, int, int], torch.Tensor]]:
    """Yield ``(output box (top, left, bottom, right), kept output)`` for every tile of ``x``."""
    padded = _pad_to_tile(x, tile)
    plan = tile_plan(padded.shape[2], padded.shape[3], tile=tile, overlap=overlap)
    tiles = plan
    if progress:
        from tqdm import tqdm

        tiles = tqdm(plan, desc=progress if isinstance(progress, str) else "tiles", unit="tile", leave=False)
    height, width = x.shape[2] * scale, x.shape[3] * scale
    tile_h, tile_w = tile
    for piece in tiles:
        y = run(padded[:, :, piece.top : piece.top + tile_h, piece.left : piece.left + tile_w].contiguous())
        keep_top, keep_left, keep_bottom, keep_right = piece.keep
        top, left = (piece.top + keep_top) * scale, (piece.left + keep_left) * scale
        bottom = min((piece.top + keep_bottom) * scale, height)
        right = min((piece.left + keep_right) * scale, width)
        if bottom <= top or right <= left:
            continue  # the tile's kept part lies wholly in the padding
        kept = y[:, :, keep_top * scale : keep_top * scale + bottom - top, keep_left * scale : keep_left * scale + right - left]
        yield (top, left, bottom, right), kept


def tiled(run: Run, *, tile: tuple[int, int], scale: int, overlap: int = 16, progress: bool | str = False) -> Run:
    """Wrap ``run`` (NCHW float32 RGB [0, 1] of exactly ``tile`` → NCHW ×scale) for any size.

    The returned callable keeps the whole float output in memory; for very large images use
    :func:`upscale_tiled_pixels`, which stores 8-bit pixels only.
    """
    tile_plan(tile[0], tile[1], tile=tile, overlap=overlap)  # validates the overlap early

    def run_tiled(x: torch.Tensor) -> torch.Tensor:
        out = torch.empty(1, 3, x.shape[2] * scale, x.shape[3] * scale)
        for (top, left, bottom, right), kept in _tile_outputs(run, x, tile=tile, scale=scale, overlap=overlap, progress=progress):
            out[:, :, top:bottom, left:right] = kept
        return out

    return run_tiled


def upscale_tiled_pixels(
    run: Run, x: torch.Tensor, *, tile: tuple[int, int], scale: int, overlap: int, progress: bool | str = False
) -> np.ndarray:
    """Upscale ``x`` (NCHW float32 RGB [0, 1], batch 1) tile by tile into HxWx3 uint8 RGB.

    Memory is the 8-bit output plus one tile's activations, so a 4000x3000 input (a 16000x12000
    x4 output, 576 MB of pixels) runs where the whole-image pass (tens of GB) cannot.  Pixels are
    ``floor(clamp(y, 0, 1) * 255 + 0.5)``, the same rounding as :func:`edge_sr.image_io.write_image`.
    """
    out = np.empty((x.shape[2] * scale, x.shape[3] * scale, 3), dtype=np.uint8)
    with torch.inference_mode():
        for (top, left, bottom, right), kept in _tile_outputs(run, x, tile=tile, scale=scale, overlap=overlap, progress=progress):
            pixels = torch.floor(kept[0].clamp(0.0, 1.0) * 255.0 + 0.5).to(torch.uint8)
            out[top:bottom, left:right] = pixels.permute(1, 2, 0).numpy()
    return out


def receptive_radius(module: nn.Module, *, probe: int = 97, min_input_size: int = 1) -> int | None:
    """How many LR pixels from an output pixel the network looks; None if it sees the whole image.

    Measured, not declared: the gradient of the centre output pixel with respect to a random
    ``probe x probe`` input is non-zero exactly inside the receptive field.  If it reaches the
    probe's border the field is global (or larger than the probe) and None is returned.
    """
    size = max(probe, min_input_size) | 1
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, size, size, generator=generator, requires_grad=True)
    with torch.enable_grad():
        y = module(x)
        scale = y.shape[2] // size
        centre = (size // 2) * scale + scale // 2
        y[0, :, centre, centre].sum().backward()
    reach = x.grad[0].abs().sum(0) > 0
    rows = torch.nonzero(reach.any(1)).flatten()
    cols = torch.nonzero(reach.any(0)).flatten()
    if len(rows) == 0:
        return 0
    if rows[0] == 0 or cols[0] == 0 or rows[-1] == size - 1 or cols[-1] == size - 1:
        return None
    middle = size // 2
    return int(max(middle - rows[0], rows[-1] - middle, middle - cols[0], cols[-1] - middle))
