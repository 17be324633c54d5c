"""Every zoo checkpoint loads strictly and reproduces the published network."""

from __future__ import annotations

import pytest
import torch

import edge_sr
from edge_sr import zoo
from edge_sr.checkpoint import sha256_of
from edge_sr.complexity import measure
from edge_sr.evaluate import evaluate

PUBLISHED = {  # name: (parameters, GFLOPs @256 as printed in the challenge tables)
    "efdn": (276_192, 16.70),
    "span-ch28": (150_688, 9.83),
    "dsclora": (130_828, 8.54),
    "span-tiny": (130_828, 8.54),
    "spanf": (148_288, 9.68),
}


@pytest.mark.parametrize("entry", zoo.ZOO, ids=lambda e: e.name)
def test_zoo_checkpoint_loads_strictly_with_recorded_facts(entry, zoo_dir, real_crop):
    descriptor = edge_sr.load(entry.name)
    assert descriptor.arch == entry.arch
    assert descriptor.scale == entry.scale
    assert descriptor.form == "deploy"
    assert descriptor.sha256 == entry.sha256 == sha256_of(zoo_dir / entry.filename)
    complexity = measure(descriptor.module)
    assert complexity.parameters == entry.parameters
    assert complexity.macs == entry.macs
    x = real_crop(37, 41)
    y = descriptor.run(x)
    assert y.shape == (1, 3, 37 * entry.scale, 41 * entry.scale)
    assert torch.isfinite(y).all()
    # A trained network's output is an image: close to [0, 1] and close to the input's mean.
    assert -0.1 < float(y.min()) and float(y.max()) < 1.1
    assert abs(float(y.mean()) - float(x.mean())) < 0.02


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_parameters_and_flops(name, zoo_dir):
    parameters, gflops = PUBLISHED[name]
    complexity = measure(edge_sr.load(name).module)
    assert complexity.parameters == parameters
    assert round(complexity.macs / 1e9, 2) == gflops


def test_params_ema_is_used_when_a_file_holds_both(zoo_dir):
    descriptor = edge_sr.load("span-team46")
    assert descriptor.wrapper == "params_ema"
    raw = torch.load(zoo_dir / "ntire25_team46_span.pth", map_location="cpu", weights_only=True)
    ema = raw["params_ema"]["conv_1.eval_conv.weight"]
    assert torch.equal(descriptor.module.conv_1.eval_conv.weight, ema)
    assert not torch.equal(raw["params"]["conv_1.eval_conv.weight"], ema)


def test_a_path_loads_like_its_zoo_name(zoo_dir, real_crop):
    by_name = edge_sr.load("dsclora")
    by_path = edge_sr.load(zoo_dir / "ntire25_team23_DSCF.pth")
    x = real_crop(20, 24)
    assert torch.equal(by_name.run(x), by_path.run(x))
    assert by_name.zoo_name == "dsclora" and by_path.zoo_name is None


@pytest.mark.parametrize(
    "name, psnr_rgb, psnr_y",
    [("efdn", 30.175, 32.053), ("span-ch28", 29.842, 31.711)],
)
def test_published_psnr_on_set5(name, psnr_rgb, psnr_y, zoo_dir, data_dir):
    result = evaluate(edge_sr.load(name), data_dir / "benchmarks" / "Set5", progress=False)
    assert result["images_evaluated"] == 5
    assert result["psnr_rgb"] == pytest.approx(psnr_rgb, abs=0.01)
    assert result["psnr_y"] == pytest.approx(psnr_y, abs=0.01)
    # The unrounded-Y variant is the one the EFDN paper printed (32.08) for EFDN.
    if name == "efdn":
        assert result["psnr_y_float"] == pytest.approx(32.075, abs=0.01)
    assert 0.85 < result["ssim_y"] < 0.95


def test_zoo_models_answer_to_their_file_names_too(zoo_dir):
    by_stem = edge_sr.load("ntire24_team38_span_ch28_slim")
    by_file = edge_sr.load("ntire24_team38_span_ch28_slim.pth")
    assert by_stem.zoo_name == by_file.zoo_name == "span-ch28"
    assert by_stem.sha256 == zoo.entry("span-ch28").sha256
