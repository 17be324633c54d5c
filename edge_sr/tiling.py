"""Running a fixed-shape artifact on images of any size, tile by tile.

Tiles of exactly ``tile`` (H, W) LR pixels are cut with ``overlap`` pixels of context on every
side that has a neighbour; images smaller than a tile are edge-padded up to it.  Each tile's
output keeps only the part that belongs to it (context discarded), so seams fall where every
tile had ``overlap`` pixels of real neighbourhood.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from edge_sr.errors import OptionError


def _starts(length: int, tile: int, step: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, step))
    return starts + [length - tile]


def tiled(
    run: Callable[[torch.Tensor], torch.Tensor], *, tile: tuple[int, int], scale: int, overlap: int = 16
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Wrap ``run`` (NCHW float32 RGB [0, 1] of exactly ``tile`` → NCHW ×scale) for any size."""
    tile_h, tile_w = tile
    if overlap * 2 >= min(tile_h, tile_w):
        raise OptionError(f"tiling: overlap {overlap} px leaves nothing of a {tile_w}x{tile_h} tile")

    def run_tiled(x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[2], x.shape[3]
        pad_h, pad_w = max(0, tile_h - height), max(0, tile_w - width)
        padded = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x
        full_h, full_w = padded.shape[2], padded.shape[3]
        out = torch.zeros(1, 3, full_h * scale, full_w * scale)
        for top in _starts(full_h, tile_h, tile_h - 2 * overlap):
            for left in _starts(full_w, tile_w, tile_w - 2 * overlap):
                y = run(padded[:, :, top : top + tile_h, left : left + tile_w].contiguous())
                # Keep from the middle of the overlap on each side that has a neighbour.
                keep_top = 0 if top == 0 else overlap
                keep_left = 0 if left == 0 else overlap
                keep_bottom = tile_h if top + tile_h >= full_h else tile_h - overlap
                keep_right = tile_w if left + tile_w >= full_w else tile_w - overlap
                out[
                    :, :, (top + keep_top) * scale : (top + keep_bottom) * scale,
                    (left + keep_left) * scale : (left + keep_right) * scale,
                ] = y[:, :, keep_top * scale : keep_bottom * scale, keep_left * scale : keep_right * scale]
        return out[:, :, : height * scale, : width * scale]

    return run_tiled
