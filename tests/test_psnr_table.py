"""The full PSNR table: every zoo model on every benchmark, both protocols (slow)."""

from __future__ import annotations

import json
import os

import pytest

import edge_sr
from edge_sr import zoo
from edge_sr.evaluate import evaluate

DATASETS = ("Set5", "Set14", "BSD100", "Urban100")


@pytest.mark.slow
@pytest.mark.parametrize("entry", zoo.ZOO, ids=lambda e: e.name)
def test_psnr_table(entry, zoo_dir, data_dir, tmp_path_factory):
    descriptor = edge_sr.load(entry.name)
    rows = {}
    for dataset in DATASETS:
        result = evaluate(descriptor, data_dir / "benchmarks" / dataset, progress=False)
        rows[dataset] = {k: result[k] for k in ("psnr_rgb", "psnr_y", "psnr_y_float", "ssim_y")}
        # Sanity: every published network beats bicubic comfortably on every set.
        assert result["psnr_y"] > {"Set5": 31.0, "Set14": 27.5, "BSD100": 26.8, "Urban100": 24.5}[dataset] - (0 if entry.scale == 4 else -3)
    target = os.environ.get("EDGE_SR_PSNR_TABLE")
    if target:
        with open(target, "a") as sink:
            sink.write(json.dumps({"model": entry.name, "scale": entry.scale, **rows}) + "\n")
