"""Tiled inference: seam-free for local networks, quantified for EFDN's global attention."""

from __future__ import annotations

import math
import resource
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import edge_sr
from edge_sr.collapse import collapse
from edge_sr.tiling import receptive_radius, tile_plan, tiled
from edge_sr.tolerances import Tolerance
from edge_sr.upscale import choose_tiling, upscale

TILED_FP32 = Tolerance(
    name="tiled-fp32", atol=1e-5, rtol=0.0,
    meaning="tiled vs whole-image output of a local (SPAN-family) network with overlap >= receptive radius",
)


@pytest.fixture(scope="module")
def deploy_models(zoo_dir):
    return {name: collapse(edge_sr.load(name)) for name in ("span-ch28", "dsclora", "efdn")}


@pytest.mark.parametrize(("height", "width", "tile", "overlap"), [(100, 130, 48, 8), (48, 48, 48, 4), (30, 200, 32, 6), (257, 31, 64, 16)])
def test_tile_plan_keeps_every_pixel_exactly_once(height, width, tile, overlap):
    covered = np.zeros((max(height, tile), max(width, tile)), dtype=np.int32)
    for piece in tile_plan(max(height, tile), max(width, tile), tile=(tile, tile), overlap=overlap):
        top, left, bottom, right = piece.keep
        covered[piece.top + top : piece.top + bottom, piece.left + left : piece.left + right] += 1
    # Later tiles may re-write pixels an earlier tile kept (the last row/column is pulled back to
    # fit); every pixel is kept at least once and the overlap never leaves a hole.
    assert covered.min() >= 1


def test_receptive_radius_is_measured_from_the_network(deploy_models):
    # SPAN ch28 and DSCLoRA: 21 chained 3x3 convs -> 21 px; EFDN pools the whole image.
    assert receptive_radius(deploy_models["span-ch28"].module) == 21
    assert receptive_radius(deploy_models["dsclora"].module) == 21
    assert receptive_radius(deploy_models["efdn"].module, min_input_size=deploy_models["efdn"].min_input_size) is None


@pytest.mark.parametrize("name", ["span-ch28", "dsclora"])
def test_span_family_tiled_output_equals_the_whole_image(name, deploy_models, real_crop):
    model = deploy_models[name]
    x = real_crop(110, 150)
    whole = model.run(x)
    choice = choose_tiling(model, tile=64, overlap=None)
    assert choice.exact and choice.overlap == 21
    tiled_output = upscale(model, x, tile=64)
    assert tiled_output.shape == whole.shape
    assert float((tiled_output - whole).abs().max()) <= TILED_FP32.atol
    # Too little overlap shows: the tolerance is not vacuous.
    short = tiled(model.run, tile=(64, 64), scale=model.scale, overlap=4)(x)
    assert float((short - whole).abs().max()) > 100 * TILED_FP32.atol


def test_efdn_tiled_difference_is_quantified(deploy_models, data_dir):
    """EFDN's attention pools over the whole input: tiles cannot match; the difference is measured."""
    from edge_sr.evaluate import make_lr
    from edge_sr.image_io import read_rgb_uint8
    from edge_sr.resize import modcrop

    model = deploy_models["efdn"]
    hr = modcrop(read_rgb_uint8(data_dir / "benchmarks" / "Set14" / "HR" / "baboon.png"), 4)
    lr = torch.from_numpy(np.ascontiguousarray(make_lr(hr, 4).transpose(2, 0, 1))).float().div(255)[None]
    whole = model.run(lr).clamp(0, 1)
    choice = choose_tiling(model, tile=64, overlap=None)
    assert not choice.exact and "global context" in choice.note
    tiled_output = upscale(model, lr, tile=64).clamp(0, 1)
    mse = float(((tiled_output - whole) ** 2).mean())
    psnr_vs_whole = 10 * math.log10(1 / mse)
    print(f"EFDN baboon, 64-px tiles, overlap {choice.overlap}: tiled vs whole {psnr_vs_whole:.2f} dB, max {float((tiled_output - whole).abs().max()):.4f}")
    assert mse > 0
    assert 25.0 < psnr_vs_whole < 80.0


def test_upscale_cli_tiles_give_the_whole_image_pixels(tmp_path, deploy_models, div2k_lr):
    from edge_sr.cli import main

    source = tmp_path / "in.png"
    Image.open(div2k_lr[3]).crop((0, 0, 150, 110)).save(source)
    assert main(["upscale", "span-ch28", str(source), str(tmp_path / "whole.png")]) == 0
    assert main(["upscale", "span-ch28", str(source), str(tmp_path / "tiled.png"), "--tile", "64", "--no-progress"]) == 0
    whole = np.asarray(Image.open(tmp_path / "whole.png"), dtype=np.int16)
    tiles = np.asarray(Image.open(tmp_path / "tiled.png"), dtype=np.int16)
    assert whole.shape == tiles.shape == (440, 600, 3)
    # fp32 tiles equal the whole image within 1e-5, so 8-bit pixels agree except at rounding ties.
    assert np.abs(whole - tiles).max() <= 1 and np.mean(whole != tiles) < 1e-3


def test_tile_too_small_for_the_receptive_field_is_one_line(capsys, tmp_path, deploy_models, div2k_lr):
    from edge_sr.cli import main

    source = tmp_path / "in.png"
    Image.open(div2k_lr[0]).crop((0, 0, 80, 60)).save(source)
    assert main(["upscale", "span-ch28", str(source), str(tmp_path / "out.png"), "--tile", "32"]) == 2
    error = capsys.readouterr().err
    assert "overlap of 21 px" in error and "--tile 58" in error
    assert not (tmp_path / "out.png").exists()


@pytest.mark.slow
def test_4000x3000_image_upscales_tiled_in_bounded_memory(tmp_path, zoo_dir, div2k_lr, monkeypatch):
    """A 4000x3000 LR image (16000x12000 out) through the CLI with a progress bar; the whole-image
    pass would need tens of GB of activations."""
    tile = Image.open(div2k_lr[0]).convert("RGB")
    big = Image.new("RGB", (4000, 3000))
    for top in range(0, 3000, tile.height):
        for left in range(0, 4000, tile.width):
            big.paste(tile, (left, top))
    source, destination = tmp_path / "big.png", tmp_path / "big_x4.png"
    big.save(source)
    completed = subprocess.run(
        [sys.executable, "-m", "edge_sr.cli", "upscale", "span-ch28", str(source), str(destination), "--tile", "256", "--progress"],
        capture_output=True, text=True, timeout=3600,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "upscaling" in completed.stderr and "tile" in completed.stderr  # the tqdm bar
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    print(f"4000x3000 -> 16000x12000: child peak RSS {peak_gb:.2f} GB")
    assert peak_gb < 6.0
    # 192 MP is above Pillow's decompression-bomb guard; this file is ours.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with Image.open(destination) as result:
        assert result.size == (16000, 12000)
