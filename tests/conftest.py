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


@pytest.fixture(scope="session")
def kotlin_home() -> Path:
    """The Kotlin compiler from npm (``tests/kotlin``, installed by the test command)."""
    home = Path(__file__).parent / "kotlin" / "node_modules" / "kotlin-compiler"
    if not (home / "bin" / "kotlinc").exists():
        pytest.fail(f"{home}: expected the npm kotlin-compiler (scripts/setup-env.sh runs npm ci in tests/kotlin), found nothing")
    return home


QUICK_RECIPE = ["--calib-images", "4", "--calib-crop", "48", "--validation-images", "1", "--max-psnr-drop", "off",
                "--weight-rounding", "nearest"]
"""A fast INT8 recipe for tests about plumbing, not accuracy."""
QUICK_INT8 = [*QUICK_RECIPE, "--accuracy", "none"]


@pytest.fixture(scope="session")
def app_contracts(tmp_path_factory, zoo_dir, data_dir) -> list[Path]:
    """Real contracts from every converter, as the apps receive them: span-ch28 to every target
    (fp32), NHWC TFLite, CoreML image I/O, and INT8 ONNX (dynamic) and TFLite (fixed), each
    written by ``edge-sr convert`` beside its verified artifact and golden pair."""
    from edge_sr.cli import main

    out = tmp_path_factory.mktemp("app-contracts")
    runs = {
        "all": ["--target", "all", "--precision", "fp32", "--input-size", "48x48"],
        "nhwc": ["--target", "tflite", "--layout", "nhwc", "--input-size", "48x48"],
        "image-io": ["--target", "coreml", "--image-io", "--input-size", "48x48"],
        "int8-onnx": ["--target", "onnx", "--precision", "int8", "--dynamic", *QUICK_INT8],
        # LiteRT INT8 verifies (>= 40 dB vs the PyTorch quantised graph) at 256x256, not at small sizes.
        "int8-tflite": ["--target", "tflite", "--precision", "int8", "--calib-images", "6", "--calib-crop", "64",
                        "--validation-images", "1", "--max-psnr-drop", "off", "--accuracy", "none"],
    }
    for folder, options in runs.items():
        assert main(["convert", "span-ch28", *options, "-o", str(out / folder)]) == 0, folder
    contracts = sorted(out.glob("*/*.contract.json"))
    assert len(contracts) >= 9, contracts
    return contracts
