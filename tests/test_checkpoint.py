"""Reading checkpoints: wrappers, and every kind of bad file refused with one clear line."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

import edge_sr
from edge_sr.checkpoint import read_state_dict


@pytest.fixture(scope="module")
def span_state(zoo_dir):
    return torch.load(zoo_dir / "ntire24_team38_span_ch28_slim.pth", map_location="cpu", weights_only=True)


@pytest.mark.parametrize(
    "wrap, expected",
    [
        (lambda sd: {"params_ema": sd, "params": {k: v * 0 for k, v in sd.items()}}, "params_ema"),
        (lambda sd: {"params": sd}, "params"),
        (lambda sd: {"state_dict": {f"module.{k}": v for k, v in sd.items()}, "epoch": 3}, "state_dict+module."),
        (lambda sd: {"model": sd, "optimizer": {"lr": 1e-3}}, "model"),
        (lambda sd: {f"module.{k}": v for k, v in sd.items()}, "plain+module."),
    ],
    ids=["params_ema", "params", "state_dict+module", "model", "module-prefix"],
)
def test_wrappers_are_unwrapped(wrap, expected, span_state, tmp_path, real_crop):
    path = tmp_path / "wrapped.pth"
    torch.save(wrap(span_state), path)
    state, wrapper = read_state_dict(path)
    assert wrapper == expected
    assert set(state) == set(span_state)
    x = real_crop(16, 16)
    assert torch.equal(edge_sr.load(path).run(x), edge_sr.load("span-ch28").run(x))


def test_truncated_file_is_refused(zoo_dir, tmp_path):
    data = (zoo_dir / "ntire25_team00_EFDN.pth").read_bytes()
    path = tmp_path / "truncated.pth"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(edge_sr.CheckpointError, match="truncated or corrupt") as info:
        edge_sr.load(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_non_checkpoint_file_is_refused(data_dir, tmp_path):
    with pytest.raises(edge_sr.CheckpointError, match="not a"):
        edge_sr.load(data_dir / "benchmarks" / "Set5" / "HR" / "baby.png")
    text = tmp_path / "notes.pth"
    text.write_text("these are not weights\n")
    with pytest.raises(edge_sr.CheckpointError, match="notes.pth"):
        edge_sr.load(text)
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    with pytest.raises(edge_sr.CheckpointError, match="empty file"):
        edge_sr.load(empty)


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_that_would_run_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"conv_1.eval_conv.weight": torch.zeros(1), "payload": _RunsCode(marker)}, path, pickle_module=pickle)
    with pytest.raises(edge_sr.CheckpointError, match="could run code"):
        edge_sr.load(path)
    assert not marker.exists()


def test_unknown_layout_is_refused(tmp_path):
    rrdb_like = {f"body.{i}.rdb1.conv1.weight": torch.zeros(32, 64, 3, 3) for i in range(3)}
    rrdb_like["conv_first.weight"] = torch.zeros(64, 3, 3, 3)
    path = tmp_path / "esrgan.pth"
    torch.save(rrdb_like, path)
    with pytest.raises(edge_sr.UnknownArchitectureError, match="unknown network layout: expected one of span, spanf"):
        edge_sr.load(path)


def test_wrong_shapes_and_missing_keys_are_refused(span_state, tmp_path):
    broken = dict(span_state)
    broken["block_2.c2_r.eval_conv.weight"] = torch.zeros(28, 28, 5, 5)
    path = tmp_path / "shape.pth"
    torch.save(broken, path)
    with pytest.raises(edge_sr.CheckpointError, match="block_2.c2_r.eval_conv.weight has shape"):
        edge_sr.load(path)
    missing = {k: v for k, v in span_state.items() if not k.startswith("block_3.c2_r")}
    torch.save(missing, path)
    with pytest.raises(edge_sr.CheckpointError, match="missing 2 keys"):
        edge_sr.load(path)


def test_unknown_name_or_missing_file(zoo_dir, tmp_path, monkeypatch):
    with pytest.raises(edge_sr.CheckpointError, match="span-ch999: expected a checkpoint file or a zoo model name .* found no such file"):
        edge_sr.load("span-ch999")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "span-ch999").mkdir()
    with pytest.raises(edge_sr.CheckpointError, match="found a folder"):
        edge_sr.load("span-ch999")
    # An output folder named after a zoo model does not shadow the model.
    (tmp_path / "span-tiny").mkdir()
    assert edge_sr.load("span-tiny").arch == "span"
