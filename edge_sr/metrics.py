"""PSNR and SSIM under the two conventions the field uses.

All functions take uint8 HxWx3 RGB arrays (the SR output already clamped, x255 and rounded)
and crop ``border`` pixels from every side first.

- NTIRE Efficient-SR protocol: PSNR on RGB, all three channels (``psnr_rgb``).
- Paper protocol: PSNR and SSIM on the Y channel of ITU-R BT.601 YCbCr.  ``y_rounding="matlab"``
  rounds Y to integers as MATLAB's ``rgb2ycbcr`` on uint8 images (and the NTIRE utilities) do;
  ``"float"`` keeps Y in floating point as BasicSR does.  They differ by ~0.02 dB.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

Y_ROUNDING = ("matlab", "float")


def _crop(image: np.ndarray, border: int) -> np.ndarray:
    return image[border:-border, border:-border] if border > 0 else image


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 20.0 * math.log10(255.0 / math.sqrt(mse))


def rgb_to_y(image: np.ndarray, *, rounding: str = "matlab") -> np.ndarray:
    """BT.601 luma in [16, 235] from uint8 RGB: ``16 + (65.481 R + 128.553 G + 24.966 B) / 255``."""
    if rounding not in Y_ROUNDING:
        raise ValueError(f"rounding must be one of {Y_ROUNDING}, got {rounding!r}")
    rgb = image.astype(np.float64)
    y = 16.0 + (65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0
    return np.floor(y + 0.5) if rounding == "matlab" else y


def psnr_rgb(sr: np.ndarray, hr: np.ndarray, *, border: int) -> float:
    return _psnr(_crop(sr, border), _crop(hr, border))


def psnr_y(sr: np.ndarray, hr: np.ndarray, *, border: int, rounding: str = "matlab") -> float:
    return _psnr(rgb_to_y(_crop(sr, border), rounding=rounding), rgb_to_y(_crop(hr, border), rounding=rounding))


def _gaussian_1d(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def _gaussian_filter(image: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    # The 2-D Gaussian is separable: two 1-D passes, 'valid' like the 11x11 window.
    return F.conv2d(F.conv2d(image, g.view(1, 1, 1, -1)), g.view(1, 1, -1, 1))


def ssim_y(sr: np.ndarray, hr: np.ndarray, *, border: int, rounding: str = "matlab") -> float:
    """SSIM on Y: 11x11 Gaussian window (sigma 1.5), 'valid' filtering, K1 0.01, K2 0.03, L 255."""
    a = torch.from_numpy(rgb_to_y(_crop(sr, border), rounding=rounding))[None, None]
    b = torch.from_numpy(rgb_to_y(_crop(hr, border), rounding=rounding))[None, None]
    g = _gaussian_1d()
    if min(a.shape[-2:]) < g.numel():
        raise ValueError(f"SSIM needs at least 11x11 pixels after the border crop, got {tuple(a.shape[-2:])}")
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = _gaussian_filter(a, g), _gaussian_filter(b, g)
    var_a = _gaussian_filter(a * a, g) - mu_a**2
    var_b = _gaussian_filter(b * b, g) - mu_b**2
    cov = _gaussian_filter(a * b, g) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())
