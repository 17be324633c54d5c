"""The evaluation building blocks: MATLAB bicubic, PSNR conventions, SSIM."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge_sr.metrics import psnr_rgb, psnr_y, rgb_to_y, ssim_y
from edge_sr.resize import imresize, modcrop


def test_imresize_sizes_and_constants():
    image = np.full((37, 50, 3), 77, dtype=np.uint8)
    small = imresize(image, 1 / 4)
    assert small.shape == (10, 13, 3) and small.dtype == np.uint8
    assert (small == 77).all()
    assert imresize(image.astype(np.float64) / 255, 1 / 2).shape == (19, 25, 3)


def test_imresize_is_mirror_symmetric_and_antialiased():
    rng = np.random.default_rng(1)
    image = rng.random((64, 48))
    down = imresize(image, 1 / 4)
    assert np.allclose(imresize(image[::-1, ::-1], 1 / 4), down[::-1, ::-1])
    # Antialiasing: a pixel-level checkerboard averages out instead of aliasing.
    checker = (np.indices((64, 64)).sum(0) % 2).astype(np.float64)
    assert np.abs(imresize(checker, 1 / 4) - 0.5).max() < 0.02
    # A linear ramp stays linear away from the borders (the cubic kernel reproduces it).
    ramp = np.tile(np.arange(64, dtype=np.float64), (64, 1))
    row = imresize(ramp, 1 / 4)[8, 2:-2]
    assert np.allclose(np.diff(row), 4.0)


def test_modcrop():
    assert modcrop(np.zeros((101, 97, 3)), 4).shape == (100, 96, 3)


def test_psnr_conventions():
    rng = np.random.default_rng(2)
    hr = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-3, 4, hr.shape), 0, 255).astype(np.uint8)
    assert math.isinf(psnr_rgb(hr, hr, border=4))
    mse = np.mean((sr[4:-4, 4:-4].astype(float) - hr[4:-4, 4:-4]) ** 2)
    assert psnr_rgb(sr, hr, border=4) == pytest.approx(10 * math.log10(255**2 / mse))
    assert rgb_to_y(np.array([[[255, 255, 255]]], dtype=np.uint8))[0, 0] == 235
    assert rgb_to_y(np.array([[[0, 0, 0]]], dtype=np.uint8))[0, 0] == 16
    assert psnr_y(sr, hr, border=4, rounding="matlab") != psnr_y(sr, hr, border=4, rounding="float")


def test_ssim_bounds():
    rng = np.random.default_rng(3)
    hr = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    assert ssim_y(hr, hr, border=4) == pytest.approx(1.0)
    noisy = np.clip(hr.astype(int) + rng.integers(-90, 91, hr.shape), 0, 255).astype(np.uint8)
    assert 0.0 < ssim_y(noisy, hr, border=4) < 0.95
