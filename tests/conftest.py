"""Shared fixtures: the real data (through EDGE_SR_ZOO / EDGE_SR_DATA) and train-form builders."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def _env_dir(variable: str, default: Path) -> Path:
    path = Path(os.environ.get(variable) or default)
    if not path.is_dir():
        pytest.fail(f"{variable}={path}: expected the shared data folder (see README); found nothing", pytrace=False)
    return path


@pytest.fixture(scope="session")
def zoo_dir() -> Path:
    path = _env_dir("EDGE_SR_ZOO", REPO.parent / "shared" / "data" / "zoo")
    os.environ["EDGE_SR_ZOO"] = str(path)
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = _env_dir("EDGE_SR_DATA", REPO.parent / "shared" / "data")
    os.environ["EDGE_SR_DATA"] = str(path)
    return path


@pytest.fixture(scope="session")
def div2k_lr(data_dir: Path) -> list[Path]:
    images = sorted((data_dir / "div2k" / "DIV2K_test_LR_bicubic" / "X4").glob("*.png"))
    assert len(images) == 100
    return images


@pytest.fixture(scope="session")
def real_crop(div2k_lr):
    """``real_crop(height, width, index=0)``: NCHW float32 RGB [0, 1] crop of a DIV2K LR image."""
    from PIL import Image

    def crop(height: int, width: int, index: int = 0) -> torch.Tensor:
        image = np.asarray(Image.open(div2k_lr[index]).convert("RGB"), dtype=np.float32) / 255.0
        top, left = 60 + 7 * index, 90 + 5 * index
        patch = image[top : top + height, left : left + width]
        return torch.from_numpy(np.ascontiguousarray(patch.transpose(2, 0, 1)))[None]

    return crop
