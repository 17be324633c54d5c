"""MATLAB-compatible ``imresize(img, 1/s, 'bicubic')``: how the field makes LR images.

MATLAB widens the cubic kernel (a = -0.5) by the scale factor when it shrinks, which
antialiases; pixels beyond the border are mirrored (symmetric padding); height is resized
before width; a uint8 image is computed in float64 and rounded once at the end.
"""

from __future__ import annotations

import math

import numpy as np

KERNEL_WIDTH = 4.0


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


def _contributions(in_length: int, out_length: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights (out, taps) and zero-based source indices (out, taps) along one axis."""
    antialias = scale < 1
    width = KERNEL_WIDTH / scale if antialias else KERNEL_WIDTH
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2
    indices = left[:, None] + np.arange(taps)[None, :]
    distance = u[:, None] - indices
    weights = scale * _cubic(scale * distance) if antialias else _cubic(distance)
    weights = weights / weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    indices = mirror[np.mod(indices.astype(np.int64) - 1, 2 * in_length)]
    used = np.any(weights != 0, axis=0)
    return weights[:, used], indices[:, used]


def _resize_axis(image: np.ndarray, axis: int, out_length: int, scale: float) -> np.ndarray:
    weights, indices = _contributions(image.shape[axis], out_length, scale)
    moved = np.moveaxis(image, axis, 0)
    gathered = moved[indices]  # (out, taps, ...)
    result = np.einsum("ot,ot...->o...", weights, gathered)
    return np.moveaxis(result, 0, axis)


def imresize(image: np.ndarray, scale: float) -> np.ndarray:
    """Resize an HxW or HxWxC array by ``scale`` like MATLAB's bicubic ``imresize``.

    uint8 input gives uint8 output (rounded half away from zero, clipped to [0, 255]); float
    input gives float64 output without clipping.  Output size is ``ceil(size * scale)``.
    """
    is_uint8 = image.dtype == np.uint8
    data = image.astype(np.float64)
    out_h = int(math.ceil(image.shape[0] * scale))
    out_w = int(math.ceil(image.shape[1] * scale))
    data = _resize_axis(data, 0, out_h, scale)
    data = _resize_axis(data, 1, out_w, scale)
    if is_uint8:
        return np.clip(np.floor(data + 0.5), 0, 255).astype(np.uint8)
    return data


def modcrop(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop height and width down to multiples of ``scale`` (top-left anchored, as the field does)."""
    height = image.shape[0] - image.shape[0] % scale
    width = image.shape[1] - image.shape[1] % scale
    return image[:height, :width]
