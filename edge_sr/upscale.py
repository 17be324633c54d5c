"""Upscaling images with a loaded network: whole image in one pass, or tile by tile."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from edge_sr.descriptor import ModelDescriptor
from edge_sr.errors import OptionError
from edge_sr.image_io import output_format, read_image, write_image, write_pixels
from edge_sr.tiling import receptive_radius, tiled, upscale_tiled_pixels

GLOBAL_CONTEXT_OVERLAP = 16
"""Overlap used for networks with global context (no overlap makes them exact; this one hides seams)."""


@dataclass(frozen=True)
class TilingChoice:
    """The tile and overlap used, and whether tiles reproduce the whole-image result."""

    tile: tuple[int, int]
    overlap: int
    exact: bool
    """True when ``overlap`` covers the network's receptive field (tiled == whole, up to rounding)."""
    note: str


def choose_tiling(descriptor: ModelDescriptor, *, tile: int, overlap: int | None) -> TilingChoice:
    """Validate ``tile``/``overlap`` for ``descriptor``; ``overlap=None`` picks the receptive radius."""
    if tile < max(descriptor.min_input_size, 8):
        raise OptionError(f"--tile {tile}: {descriptor.arch} needs tiles of at least {max(descriptor.min_input_size, 8)} px")
    radius = receptive_radius(descriptor.module, min_input_size=descriptor.min_input_size)
    if overlap is None:
        overlap = GLOBAL_CONTEXT_OVERLAP if radius is None else radius
        if overlap * 2 >= tile:
            raise OptionError(
                f"--tile {tile}: {descriptor.arch} needs an overlap of {overlap} px for seam-free tiles; "
                f"use --tile {2 * overlap + 16} or more, or set --overlap"
            )
    if radius is None:
        note = f"{descriptor.arch} uses global context: tiles differ from the whole-image result (overlap {overlap} px)"
    elif overlap >= radius:
        note = f"overlap {overlap} px covers the receptive radius ({radius} px): tiled output equals the whole-image output"
    else:
        note = f"overlap {overlap} px is below the receptive radius ({radius} px): seams may show"
    return TilingChoice(tile=(tile, tile), overlap=overlap, exact=radius is not None and overlap >= radius, note=note)


def upscale(
    descriptor: ModelDescriptor, x: torch.Tensor, *, tile: int | None = None, overlap: int | None = None, progress: bool = False
) -> torch.Tensor:
    """Upscale NCHW float32 RGB [0, 1] (batch 1); returns the raw NCHW float32 output (×scale).

    With ``tile``, the image is processed in ``tile x tile`` LR tiles with ``overlap`` px of
    context (default: the network's receptive radius, see :func:`choose_tiling`).
    """
    descriptor.check_input(x)
    if tile is None:
        return descriptor.run(x)
    choice = choose_tiling(descriptor, tile=tile, overlap=overlap)
    with torch.inference_mode():
        return tiled(descriptor.run, tile=choice.tile, scale=descriptor.scale, overlap=choice.overlap, progress=progress)(x.float())


def upscale_file(
    descriptor: ModelDescriptor,
    source: str | os.PathLike,
    destination: str | os.PathLike,
    *,
    tile: int | None = None,
    overlap: int | None = None,
    progress: bool = False,
    notify=None,
) -> tuple[int, int]:
    """Upscale ``source`` into ``destination``; returns the output (width, height).

    Whole image in one pass, or with ``tile`` tile by tile into 8-bit pixels (memory bounded by
    the output image plus one tile, see :func:`edge_sr.tiling.upscale_tiled_pixels`).
    ``notify``, if given, receives one-line notes (how the input was read, the tiling chosen).

    Checks the output format, the input size and the tiling before running the network, so
    nothing is written when any is unsuitable.
    """
    output_format(destination)
    image = read_image(source)
    if image.note and notify is not None:
        notify(image.note)
    x = image.tensor()
    descriptor.check_input(x, what=str(Path(source)))
    if tile is None:
        y = descriptor.run(x)
        write_image(destination, y, like=image)
        return y.shape[3], y.shape[2]
    choice = choose_tiling(descriptor, tile=tile, overlap=overlap)
    if notify is not None:
        notify(choice.note)
    pixels = upscale_tiled_pixels(
        descriptor.run, x, tile=choice.tile, scale=descriptor.scale, overlap=choice.overlap,
        progress="upscaling" if progress else False,
    )
    write_pixels(destination, pixels, like=image)
    return pixels.shape[1], pixels.shape[0]
