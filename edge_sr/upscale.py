"""Upscaling one image file with a loaded network."""

from __future__ import annotations

import os
from pathlib import Path

from edge_sr.descriptor import ModelDescriptor
from edge_sr.image_io import output_format, read_image, write_image


def upscale_file(
    descriptor: ModelDescriptor, source: str | os.PathLike, destination: str | os.PathLike, *, notify=None
) -> tuple[int, int]:
    """Upscale ``source`` into ``destination`` (whole image, one pass); returns the output (width, height).

    ``notify``, if given, receives one-line notes about how the input was read.

    Checks the output format and the input size before running the network, so nothing is
    written when either is unsuitable.
    """
    output_format(destination)
    image = read_image(source)
    if image.note and notify is not None:
        notify(image.note)
    x = image.tensor()
    descriptor.check_input(x, what=str(Path(source)))
    y = descriptor.run(x)
    write_image(destination, y, like=image)
    return y.shape[3], y.shape[2]
