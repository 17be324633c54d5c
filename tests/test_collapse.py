"""Collapse reproduces train-form networks exactly, with plain ops only."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

import edge_sr
from edge_sr.archs.blocks.conv3xc import Conv3XCTrain
from edge_sr.complexity import measure
from edge_sr.tolerances import COLLAPSE_FP32
from train_forms import SPAN48_TRAIN, SPANF_TRAIN, dsclora_train, efdn_train, save_dsclora, save_random

from edge_sr.archs.span.model import InputNormalization

# InputNormalization is ``(x - mean) * 255``: a subtraction and a multiplication, no weights.
PLAIN_LEAVES = (nn.Conv2d, nn.PReLU, nn.PixelShuffle, InputNormalization)

CASES = {
    "span-c48-conv3xc": ("span", SPAN48_TRAIN, {}),
    "spanf-conv3xc": ("spanf", SPANF_TRAIN, {}),
    "efdn-gv": ("efdn", efdn_train("gv"), {"edbb_variant": "gv"}),
    "efdn-plain": ("efdn", efdn_train("plain"), {"edbb_variant": "plain"}),
    "efdn-plain+1x1-3x3+identity": (
        "efdn", efdn_train("plain+1x1-3x3+identity"), {"edbb_variant": "plain+1x1-3x3+identity"},
    ),
    "efdn-x2-gv": ("efdn", efdn_train("gv", scale=2), {"edbb_variant": "gv"}),
    "dsclora-lora": ("span", dsclora_train(), {"lora_weights": "unmerged"}),
}


@pytest.fixture(scope="module")
def train_files(tmp_path_factory, zoo_dir):
    folder = tmp_path_factory.mktemp("train")
    files = {
        name: save_random(folder / f"{name}.pth", arch, detection, seed=index)
        for index, (name, (arch, detection, _)) in enumerate(CASES.items())
        if arch != "span" or "lora" not in detection.hyperparameters
    }
    span_tiny = zoo_dir / "ntire24_team39_spantiny_ch26_slim.pth"
    files["dsclora-lora"] = save_dsclora(folder / "dsclora-lora.pth", span_tiny, seed=7)
    return files


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("size", [(37, 41), (16, 15)])
def test_collapse_reproduces_train_form_on_real_images(case, size, train_files, real_crop, tmp_path):
    arch, detection, options = CASES[case]
    source = edge_sr.load(train_files[case], **options)
    assert source.form == "train" and source.arch == arch
    deployed = edge_sr.collapse(source)
    assert deployed.form == "deploy"
    for index in range(2):
        x = real_crop(*size, index=index)
        reference, candidate = source.run(x), deployed.run(x)
        diff = float((reference - candidate).abs().max())
        assert diff <= 1e-4, f"{case}: max abs diff {diff} on a real {size} crop"
        assert float(reference.abs().max()) < 20  # outputs are image-scale, so 1e-4 is meaningful
    # Only plain ops remain, and nothing learnable beyond what the deploy checkpoint stores.
    leaves = [m for m in deployed.module.modules() if not list(m.children())]
    assert all(isinstance(m, PLAIN_LEAVES) for m in leaves), {type(m).__name__ for m in leaves}
    # The deploy checkpoint reads back into the same network.
    path = edge_sr.save_deploy_checkpoint(deployed, tmp_path / "deploy.pth")
    reloaded = edge_sr.load(path)
    assert reloaded.form == "deploy" and reloaded.arch == arch
    x = real_crop(*size)
    assert torch.equal(reloaded.run(x), deployed.run(x))


def test_span_c48_parameter_counts(train_files):
    source = edge_sr.load(train_files["span-c48-conv3xc"])
    assert source.hyperparameters["channels"] == 48
    deployed = edge_sr.collapse(source)
    report = deployed.collapse_report
    assert report.before.parameters == 2_236_728
    assert report.after.parameters == 426_288 == measure(deployed.module).parameters
    assert report.tolerance == COLLAPSE_FP32.name and report.max_abs_diff <= report.bound


def test_stale_eval_conv_is_ignored_in_train_form(train_files, real_crop):
    source = edge_sr.load(train_files["span-c48-conv3xc"])
    x = real_crop(21, 23)
    before = source.run(x)
    with torch.no_grad():
        for module in source.module.modules():
            if isinstance(module, Conv3XCTrain):
                module.eval_conv.weight.normal_()
    assert torch.equal(source.run(x), before)
    deployed = edge_sr.collapse(source)
    assert float((deployed.run(x) - before).abs().max()) <= 1e-4


@pytest.mark.parametrize("case", ["span-c48-conv3xc", "efdn-gv", "dsclora-lora"])
def test_forward_never_mutates_weights(case, train_files, real_crop):
    arch, detection, options = CASES[case]
    descriptor = edge_sr.load(train_files[case], **options)
    state = {k: v.clone() for k, v in descriptor.module.state_dict().items()}
    descriptor.run(real_crop(17, 19))
    edge_sr.collapse(descriptor)
    for key, value in descriptor.module.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_gv_fold_includes_the_identity(train_files, real_crop):
    # One published fold drops the identity that the gv forward adds; ours must not.
    source = edge_sr.load(train_files["efdn-gv"], edbb_variant="gv")
    wrong = edge_sr.load(train_files["efdn-gv"], edbb_variant="plain")
    x = real_crop(24, 24)
    assert float((source.run(x) - wrong.run(x)).abs().max()) > 1e-3  # the variant matters
    assert float((edge_sr.collapse(source).run(x) - source.run(x)).abs().max()) <= 1e-4


def test_collapse_raises_when_the_fold_is_wrong(train_files, monkeypatch):
    source = edge_sr.load(train_files["span-c48-conv3xc"])
    original = Conv3XCTrain.folded_state_dict

    def off_by_a_little(self):
        state = original(self)
        state["eval_conv.bias"] = state["eval_conv.bias"] + 1e-2
        return state

    monkeypatch.setattr(Conv3XCTrain, "folded_state_dict", off_by_a_little)
    with pytest.raises(edge_sr.VerificationError, match="collapse-fp32"):
        edge_sr.collapse(source)


def test_collapse_of_a_deploy_model_is_an_exact_copy(zoo_dir, real_crop):
    source = edge_sr.load("efdn")
    deployed = edge_sr.collapse(source)
    assert deployed.module is not source.module
    x = real_crop(30, 31)
    assert torch.equal(deployed.run(x), source.run(x))
    assert deployed.collapse_report.max_abs_diff == 0.0


def test_merged_lora_file_is_never_double_counted(tmp_path, real_crop, zoo_dir):
    unmerged = save_dsclora(tmp_path / "unmerged.pth", zoo_dir / "ntire24_team39_spantiny_ch26_slim.pth", seed=3)
    state = torch.load(unmerged, weights_only=True)
    # Simulate the trap: a file saved after an in-place merge holds W + dW *and* the factors.
    module = edge_sr.load(unmerged, lora_weights="unmerged").module
    merged_state = dict(state)
    for name, layer in module.named_modules():
        if hasattr(layer, "lora_A"):
            merged_state[f"{name}.weight"] = layer.effective_weight().detach().clone()
    merged = tmp_path / "merged.pth"
    torch.save(merged_state, merged)

    with pytest.raises(edge_sr.OptionError, match="lora_weights"):
        edge_sr.load(merged)
    x = real_crop(19, 22)
    truth = edge_sr.load(unmerged, lora_weights="unmerged").run(x)
    right = edge_sr.load(merged, lora_weights="merged")
    assert float((right.run(x) - truth).abs().max()) <= 1e-5
    assert float((edge_sr.collapse(right).run(x) - truth).abs().max()) <= 1e-4
    double_counted = edge_sr.load(merged, lora_weights="unmerged").run(x)
    assert float((double_counted - truth).abs().max()) > 1e-3


def test_lora_file_with_zero_update_needs_no_option(tmp_path, real_crop, zoo_dir):
    path = save_dsclora(tmp_path / "fresh.pth", zoo_dir / "ntire24_team39_spantiny_ch26_slim.pth", seed=4)
    state = torch.load(path, weights_only=True)
    state = {k: (torch.zeros_like(v) if k.endswith("lora_B") else v) for k, v in state.items()}
    torch.save(state, path)
    descriptor = edge_sr.load(path)
    assert descriptor.form == "train"
    assert descriptor.hyperparameters["lora"]["ranks"]["upsampler.0"] == 8
    assert descriptor.hyperparameters["lora"]["ranks"]["block_1.c1_r.eval_conv"] == 2


def test_efdn_train_form_needs_a_valid_variant(train_files, zoo_dir):
    with pytest.raises(edge_sr.OptionError, match="edbb_variant='plain' or 'gv'"):
        edge_sr.load(train_files["efdn-gv"])
    with pytest.raises(edge_sr.OptionError, match="edbb_variant 'sobel'"):
        edge_sr.load(train_files["efdn-gv"], edbb_variant="sobel")
    with pytest.raises(edge_sr.OptionError, match="edbb_variant 'gv\\+identity'"):
        edge_sr.load(train_files["efdn-gv"], edbb_variant="gv+identity")
    with pytest.raises(edge_sr.OptionError, match="deploy form"):
        edge_sr.load("efdn", edbb_variant="gv")
    with pytest.raises(edge_sr.OptionError, match="no lora_A"):
        edge_sr.load("span-ch28", lora_weights="merged")


def test_descriptor_is_immutable_and_carries_facts(train_files):
    source = edge_sr.load(train_files["efdn-plain"], edbb_variant="plain")
    with pytest.raises(dataclasses.FrozenInstanceError):
        source.scale = 2  # type: ignore[misc]
    assert source.hyperparameters["edbb_variant"] == "plain"
    deployed = edge_sr.collapse(source)
    assert "edbb_variant" not in deployed.hyperparameters
    assert deployed.sha256 == source.sha256 and deployed.min_input_size == 15
