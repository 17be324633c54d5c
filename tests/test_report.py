"""edge-sr report: every row converted, verified, evaluated and timed; renders in headless Chromium."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edge_sr.converters.contract import Contract, contract_path

BROWSER_DIR = Path(__file__).resolve().parent / "browser"
RECONSTRUCTION_STEPS = 6
"""The small report trains its INT8 builds this many steps: enough to run the step end to end."""


def render_in_chromium(page: Path, screenshot: Path) -> dict:
    """Open ``page`` from file:// with the network cut off; returns what the page did (see render_page.mjs)."""
    node = shutil.which("node")
    assert node, "node is needed for the browser test (scripts/setup-env.sh installs the rest)"
    assert (BROWSER_DIR / "node_modules" / "playwright-core").is_dir(), "run scripts/setup-env.sh (npm ci in tests/browser)"
    completed = subprocess.run([node, str(BROWSER_DIR / "render_page.mjs"), str(page), str(screenshot)],
                               capture_output=True, text=True, timeout=180)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def assert_screenshot_has_content(screenshot: Path) -> None:
    image = np.asarray(Image.open(screenshot).convert("RGB"), dtype=np.float32)
    assert image.shape[0] > 900 and image.shape[1] >= 1000
    grey = image.mean(axis=2)
    assert grey.std() > 20, "screenshot is (nearly) blank"
    colours = len(np.unique(image[::4, ::4].reshape(-1, 3), axis=0))
    assert colours > 500, f"screenshot has only {colours} colours: no charts or gallery rendered"
    # Charts draw in the palette's blue; the gallery's error map in red.
    assert ((image[..., 2] > 150) & (image[..., 0] < 80)).sum() > 500
    assert ((image[..., 0] > 150) & (image[..., 1] < 60) & (image[..., 2] < 60)).sum() > 200


@pytest.fixture(scope="module")
def small_report(tmp_path_factory, zoo_dir, data_dir):
    """span-ch28 x (ONNX, CoreML, LiteRT made to fail) x (fp32, int8), small sizes, plus a device
    file; also returns the lines the report said while converting."""
    import edge_sr.artifacts as artifacts
    from edge_sr.bench import TimingPolicy
    from edge_sr.report.build import ReportRequest, build_report
    from edge_sr.report.render import write_report

    output = tmp_path_factory.mktemp("report")
    device = output / "phone.json"
    device.write_text(json.dumps({
        "schema": "edge-sr/bench", "schema_version": 1, "device": {"name": "Pixel 8 (test fixture)", "kind": "android"},
        "rows": [{"model": "span-ch28", "runtime": "litert-gpu", "precision": "fp32", "input": [256, 256], "threads": 4,
                  "ms": {"median": 41.5, "p10": 40.0, "p90": 44.0, "min": 39.8, "runs": 20}}],
    }))
    real_provision = artifacts.provision

    def provision_with_a_broken_target(deploy, *, target, **options):
        if target == "tflite":
            raise RuntimeError("simulated converter crash (test)")
        return real_provision(deploy, target=target, **options)

    artifacts.provision = provision_with_a_broken_target
    try:
        request = ReportRequest(
            models=("span-ch28",), targets=("onnx", "tflite", "coreml"), precisions=("fp32", "int8"),
            sizes=((48, 48), (48, 80)), threads=(2,), datasets=("Set5",), gallery=("Set5", "Urban100"),
            sensitivity_images=1, calibration_images=8, reconstruction_steps=RECONSTRUCTION_STEPS, policy=TimingPolicy(max_seconds=1.5),
            device_results=(str(device),),
        )
        started = time.perf_counter()
        said: list[str] = []
        report = build_report(request, output, progress=False, say=said.append)
        paths = write_report(report, output)
        print(f"small report built in {time.perf_counter() - started:.0f} s")
    finally:
        artifacts.provision = real_provision
    return report, paths, output, said


def test_report_rows_carry_accuracy_latency_and_errors(small_report):
    report, paths, output, _ = small_report
    data = json.loads(paths["json"].read_text())
    assert data["schema"] == "edge-sr/report" and data["schema_version"] == 1
    rows = {(e["target"], e["precision"]): e for e in data["entries"]}
    assert set(rows) == {(t, p) for t in ("onnx", "tflite", "coreml") for p in ("fp32", "int8")}
    for precision in ("fp32", "int8"):
        onnx = rows[("onnx", precision)]
        assert onnx["status"] == "ok" and onnx["bytes"] > 0
        assert set(onnx["latency"]) == {"48x48@2", "48x80@2"} and all(v > 0 for v in onnx["latency"].values())
        assert onnx["accuracy"]["Set5"]["psnr_y"] > 28
        assert rows[("coreml", precision)]["status"] == "spec-verified"
        assert rows[("tflite", precision)]["status"] == "error" and "simulated converter crash" in rows[("tflite", precision)]["error"]
    fp32_ms, int8_ms = rows[("onnx", "fp32")]["latency"], rows[("onnx", "int8")]["latency"]
    assert rows[("onnx", "int8")]["speedup_vs_fp32"] == {k: pytest.approx(fp32_ms[k] / int8_ms[k], abs=1e-3) for k in int8_ms}
    assert "speedup_vs_fp32" not in rows[("onnx", "fp32")] and "speedup_vs_fp32" not in rows[("coreml", "int8")]
    drop = rows[("onnx", "int8")]["accuracy"]["Set5"]["drop_y"]
    assert drop == pytest.approx(rows[("onnx", "fp32")]["accuracy"]["Set5"]["psnr_y"] - rows[("onnx", "int8")]["accuracy"]["Set5"]["psnr_y"], abs=2e-4)
    worst = rows[("onnx", "int8")]["accuracy"]["Set5"]["worst_image"]
    assert worst["image"] in {"baby", "bird", "butterfly", "head", "woman"} and worst["drop_psnr_y"] >= drop - 1e-4
    assert rows[("onnx", "int8")]["kept_float"] == []  # full W8A8
    assert data["request"]["reconstruction_steps"] == RECONSTRUCTION_STEPS
    quantization = Contract.read(contract_path(output / rows[("onnx", "int8")]["artifacts"][0])).data["quantization"]
    reconstruction = [step for step in quantization["steps"] if step["step"] == "reconstruct"]
    assert len(reconstruction) == 1 and reconstruction[0]["steps"] == RECONSTRUCTION_STEPS
    flat = rows[("onnx", "int8")]["flat_field"]
    assert flat["levels"] == 18 and 0 < flat["rms"] <= flat["max_abs"] < 8 and flat["worst"]["channel"] in "RGB"
    assert "flat_field" not in rows[("onnx", "fp32")]  # the reference
    saturated = rows[("onnx", "int8")]["flat_colours"]
    assert saturated["colours"] == 6 and 0 < saturated["rms"] <= saturated["max_abs"]
    assert saturated["worst"]["colour"] in {"red", "green", "blue", "cyan", "magenta", "yellow"}
    assert "flat_colours" not in rows[("onnx", "fp32")]
    assert data["sensitivity"]["span-ch28"]["layers"] and data["budget_solver"][0]["input"]
    assert {g["dataset"] for g in data["gallery"]} == {"Set5", "Urban100"}
    for item in data["gallery"]:
        assert all((paths["json"].parent / f).is_file() for f in item["panels"].values())
    assert data["device_results"][0]["device"]["name"] == "Pixel 8 (test fixture)"
    assert all(r["ceiling_fraction"] > 0 for r in data["bench_rows"] if r.get("ms"))
    markdown = paths["md"].read_text()
    assert "| span-ch28 | onnx | int8 | ok |" in markdown and "Pixel 8" in markdown
    assert f"calibrated on 8 DIV2K crops; {RECONSTRUCTION_STEPS} output-reconstruction steps" in markdown


def test_report_says_each_conversion_step_with_its_row(small_report):
    """A build of many minutes must not look like a hang: its steps, the reconstruction's
    progress included, reach the caller as lines that name the model, target and precision."""
    *_, said = small_report
    int8 = [line.removeprefix("span-ch28 onnx int8: ") for line in said if line.startswith("span-ch28 onnx int8: ")]
    # SPAN ch28 has two 1×1 compositions, so both networks are calibrated and refitted.
    assert int8[:4] == [
        "calibrating (1×1 convs composed)", "refitting weights (1×1 convs composed)",
        "calibrating (1×1 convs apart)", "refitting weights (1×1 convs apart)",
    ], said
    training = [line for line in int8 if line.startswith("step ")]
    assert [line.split(":")[0] for line in training] == [f"step {n}/{RECONSTRUCTION_STEPS}" for n in range(1, RECONSTRUCTION_STEPS + 1)], said
    assert all(" dB from float on the training crops, " in line for line in training) and training[-1].endswith(", 0 s left")
    # CoreML shares the ONNX target's quantiser, so its INT8 row reuses the same build.
    assert "span-ch28 coreml int8: reusing the INT8 build of an earlier target (same quantiser and recipe)" in said
    assert "span-ch28 tflite fp32: RuntimeError: simulated converter crash (test)" in said


def test_report_html_renders_in_headless_chromium(small_report, tmp_path):
    _, paths, output, _ = small_report
    html = paths["html"].read_text()
    for reference in ('src="http', "src='http", 'href="http', "url(http", "@import"):
        assert reference not in html  # nothing to fetch: the page opens offline
    # Open a copy away from the gallery folder: the page must carry its own images.
    page = tmp_path / "alone" / "report.html"
    page.parent.mkdir()
    shutil.copy(paths["html"], page)
    screenshot = output / "report-screenshot.png"
    seen = render_in_chromium(page, screenshot)
    assert seen["console_errors"] == [] and seen["page_errors"] == [] and seen["external_requests"] == []
    assert len(seen["images"]) == 10  # 2 gallery crops x (HR, bicubic, fp32, int8, error map)
    assert all(image["complete"] and image["width"] == 96 for image in seen["images"])
    assert seen["svgs"] >= 4 and seen["tables"] >= 3
    assert_screenshot_has_content(screenshot)


def test_bad_device_results_are_one_line(tmp_path, capsys, zoo_dir, data_dir):
    from edge_sr.cli import main

    bad = tmp_path / "device.json"
    bad.write_text(json.dumps({"schema": "something-else", "rows": []}))
    code = main(["report", "span-ch28", "--targets", "onnx", "--device-results", str(bad), "-o", str(tmp_path / "r")])
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "edge-sr/bench" in error and str(bad) in error
    assert not (tmp_path / "r" / "report.html").exists()


def test_report_and_pipeline_int8_options_are_one_line_errors(tmp_path, capsys, zoo_dir, data_dir):
    from edge_sr.cli import main

    for value, expected in (("lots", "expected dB (e.g. 0.1) or 'off'"), ("20", "max_psnr_drop 20.0")):
        code = main(["report", "span-ch28", "--targets", "onnx", "--max-psnr-drop", value, "-o", str(tmp_path / "r")])
        error = capsys.readouterr().err.strip()
        assert code == 2 and error.count("\n") == 0 and expected in error, error
    for value, expected in (("lots", "--max-psnr-drop 'lots'"), ("20", "max_psnr_drop 20.0")):
        code = main(["pipeline", "span-ch28", "--max-psnr-drop", value, "-o", str(tmp_path / "p")])
        error = capsys.readouterr().err.strip()
        assert code == 2 and error.count("\n") == 0 and expected in error, error
    not_a_recipe = tmp_path / "recipe.json"
    not_a_recipe.write_text(json.dumps({"schema": "something-else"}))
    code = main(["report", "span-ch28", "--targets", "onnx", "--recipe", str(not_a_recipe), "-o", str(tmp_path / "r")])
    error = capsys.readouterr().err.strip()
    assert code == 2 and error.count("\n") == 0 and f"{not_a_recipe}: expected an edge-sr/quant-recipe int8 recipe" in error, error
    assert not (tmp_path / "r").exists() and not (tmp_path / "p").exists()


def test_a_report_within_a_float_budget_measures_what_convert_ships(small_report, tmp_path, zoo_dir, data_dir):
    """``max_psnr_drop`` builds the report's INT8 rows as ``edge-sr convert --max-psnr-drop``
    does: layers kept in float, the budget met on the held-out images, flat areas held, and so
    a smaller drop than the full-W8A8 build of the same target in its runtime; such a row goes
    into the demo apps."""
    from edge_sr.bench import TimingPolicy
    from edge_sr.pipeline import _unfit_for_apps
    from edge_sr.quant.recipe import VISIBLE_SHIFT_LEVELS, Calibration, Int8Recipe
    from edge_sr.report.build import ReportRequest, build_report
    from edge_sr.report.render import _summary_rows, write_report

    budget = 0.1
    # Min-max ranges on small crops keep the fallback's rebuilds cheap.
    cheap = Int8Recipe(range_estimator="minmax", calibration=Calibration(images=6, crop=64), compose_pointwise="always")
    request = ReportRequest(
        models=("span-ch28",), targets=("onnx",), precisions=("fp32", "int8"), sizes=((48, 48),), threads=(1,),
        datasets=("Set5",), gallery=(), sensitivity_images=0, recipe=cheap, validation_images=2,
        max_psnr_drop=budget, policy=TimingPolicy(max_seconds=0.5),
    )
    assert request.reconstruction_steps == 0  # the default within a budget, as convert's
    report = build_report(request, tmp_path, progress=False, say=lambda line: None)
    paths = write_report(report, tmp_path)
    data = json.loads(paths["json"].read_text())
    built_with = Int8Recipe.from_dict(data["request"]["int8_recipe"])
    assert built_with == dataclasses.replace(cheap, calibration=Calibration(images=6, crop=64, validation_images=2), max_psnr_drop=budget)
    int8 = next(e for e in data["entries"] if e["precision"] == "int8")
    assert int8["status"] == "ok", int8
    contract = Contract.read(contract_path(tmp_path / int8["artifacts"][0])).data["quantization"]
    assert int8["kept_float"] == contract["kept_float"] and int8["kept_float"], int8
    fallback = int8["fallback"]
    assert fallback["met"] and fallback["max_psnr_drop_db"] == budget and fallback["predicted_drop_bound_db"] <= budget, fallback
    assert fallback["flat_shift_levels"] <= fallback["max_flat_shift_levels"] == VISIBLE_SHIFT_LEVELS, fallback
    # Measured in onnxruntime: flat areas within the bound, and less lost than in full W8A8.
    assert max(int8["flat_field"]["max_abs"], int8["flat_colours"]["max_abs"]) <= VISIBLE_SHIFT_LEVELS, int8
    full_w8a8 = next(e for e in small_report[0]["entries"] if (e["target"], e["precision"]) == ("onnx", "int8"))
    assert int8["accuracy"]["Set5"]["drop_y"] < full_w8a8["accuracy"]["Set5"]["drop_y"], (int8["accuracy"], full_w8a8["accuracy"])
    assert _unfit_for_apps(int8, app="web") is None
    markdown = paths["md"].read_text()
    assert f"2 held-out DIV2K images is within {budget:g} dB and flat areas within 8 levels; calibrated on 6 DIV2K crops" in markdown
    header, rows = _summary_rows(data)
    (int8_row,) = [row for row in rows if row[2] == "int8"]
    assert int8_row[header.index("kept float")] == str(len(int8["kept_float"]))


@pytest.mark.slow
def test_seed_networks_report_builds_in_under_20_minutes(tmp_path, zoo_dir, data_dir):
    """SPAN ch28, DSCLoRA, EFDN x ExecuTorch, LiteRT, ONNX (+ CoreML spec rows) x fp32/int8, one command."""
    started = time.perf_counter()
    completed = subprocess.run(
        # Without output reconstruction: its training (~8 min a build for SPAN ch28) is not what
        # this times, and the small report covers it.
        [str(Path(os.sys.executable).with_name("edge-sr")), "report", "span-ch28", "dsclora", "efdn", "--reconstruct-steps", "0",
         "-o", str(tmp_path), "--no-progress"],
        capture_output=True, text=True, timeout=3600,
    )
    seconds = time.perf_counter() - started
    assert completed.returncode == 0, completed.stderr[-3000:]
    data = json.loads((tmp_path / "report.json").read_text())
    assert len(data["entries"]) == 3 * 4 * 2
    rows = {(e["model"], e["target"], e["precision"]): e for e in data["entries"]}
    for model in ("span-ch28", "dsclora", "efdn"):
        for precision in ("fp32", "int8"):
            for target in ("executorch", "onnx"):
                assert rows[(model, target, precision)]["status"] == "ok", rows[(model, target, precision)].get("error")
            assert rows[(model, "coreml", precision)]["status"] == "spec-verified"
            # LiteRT INT8 may be refused by its own verification (DSCLoRA: 38.3 dB vs the 40 dB
            # floor); a refused row must carry its reason.
            litert = rows[(model, "tflite", precision)]
            assert litert["status"] == "ok" or (litert["status"] == "error" and litert["error"])
    seen = render_in_chromium(tmp_path / "report.html", tmp_path / "screenshot.png")
    assert seen["console_errors"] == [] and all(i["complete"] and i["width"] > 0 for i in seen["images"])
    assert_screenshot_has_content(tmp_path / "screenshot.png")
    print(f"seed report: {seconds:.0f} s")
    assert seconds < 20 * 60


def test_accuracy_runs_share_one_tiling():
    """A fixed-shape int8 artifact beside a dynamic fp32 one: both run in the same tiles."""
    import torch

    from edge_sr.bench import Subject
    from edge_sr.report.build import _matched_runs

    seen: dict[str, list[tuple[int, int]]] = {"fp32": [], "int8": []}

    def opener(precision):
        def open_runner(threads):
            def run(x):
                seen[precision].append(tuple(x.shape[2:]))
                return torch.nn.functional.interpolate(x, scale_factor=4, mode="nearest")

            return run

        return open_runner

    subjects = {
        "fp32": Subject(model="m", runtime="r", precision="fp32", form="deploy", scale=4, open=opener("fp32")),
        "int8": Subject(model="m", runtime="r", precision="int8", form="deploy", scale=4, open=opener("int8"), fixed_size=(32, 32)),
    }
    runs = _matched_runs(subjects)
    x = torch.rand(1, 3, 50, 70)
    assert torch.equal(runs["fp32"](x), runs["int8"](x))
    assert set(seen["fp32"]) == set(seen["int8"]) == {(32, 32)}


def test_pipeline_summary_names_each_datasets_worst_image():
    from edge_sr.pipeline import _drops

    entry = {"accuracy": {
        "Set14": {"drop_y": 0.046, "worst_image": {"image": "ppt3", "drop_psnr_y": 0.43}},
        "Set5": {"psnr_y": 31.7},  # fp32 rows carry no drop
    }}
    assert _drops(entry) == "Set14 +0.046 (worst ppt3 +0.430)"
    assert _drops({"accuracy": None}) == ""
    entry["flat_field"] = {"levels": 18, "max_abs": 2.514, "rms": 1.2, "worst": {"level": 240, "channel": "R"}}
    assert _drops(entry) == "Set14 +0.046 (worst ppt3 +0.430), flat grey areas shifted by up to 2.51 levels (grey 240, R)"
    entry["flat_colours"] = {"colours": 6, "max_abs": 88.68, "rms": 40.1, "worst": {"colour": "magenta", "channel": "G"}}
    assert _drops(entry).endswith("(grey 240, R), flat saturated colours by up to 88.68 (magenta, G)")


def test_an_int8_artifact_slower_than_fp32_is_said_in_the_report_and_the_summary():
    """A float budget keeps layers in float between quantise/dequantise pairs, and a runtime can
    run such a graph slower than fp32 (onnxruntime did: 1.49x at 256x256): the row says so."""
    from edge_sr.pipeline import _markdown
    from edge_sr.report.build import _int8_speedups
    from edge_sr.report.render import slower_than_fp32

    entries = [
        {"model": "m", "target": "onnx", "precision": "fp32", "latency": {"256x256@2": 336.0, "339x510@2": 869.0}},
        {"model": "m", "target": "onnx", "precision": "int8", "latency": {"256x256@2": 499.0, "339x510@2": 620.0}},
        {"model": "m", "target": "tflite", "precision": "fp32", "latency": {"256x256@2": 313.0}},
        {"model": "m", "target": "tflite", "precision": "int8", "latency": {"256x256@2": 238.0}},
        {"model": "m", "target": "coreml", "precision": "int8", "status": "spec-verified"},
    ]
    _int8_speedups(entries)
    onnx, tflite, coreml = entries[1], entries[3], entries[4]
    assert onnx["speedup_vs_fp32"] == {"256x256@2": 0.673, "339x510@2": 1.402}
    assert tflite["speedup_vs_fp32"] == {"256x256@2": 1.315} and "speedup_vs_fp32" not in coreml
    assert slower_than_fp32(onnx) == "slower than fp32: 1.49× at 256x256 on 2 threads (HxW input; its time over fp32's)"
    assert slower_than_fp32(tflite) == "" and slower_than_fp32(coreml) == ""

    summary = {"model": "m", "source": {"arch": "span", "scale": 4, "form": "deploy", "sha256": "0" * 64},
               "steps": {"collapse": {"parameters_before": 1, "parameters_after": 1, "macs_before": 1e9, "macs_after": 1e9,
                                      "max_abs_diff": 0.0, "tolerance": "collapse-fp32"},
                         "evaluate": {}, "report": {"html": "r.html", "entries": [{**onnx, "status": "ok"}]}}}
    row = next(line for line in _markdown(summary).splitlines() if line.startswith("| onnx | int8 |"))
    assert row.endswith("| slower than fp32: 1.49× at 256x256 on 2 threads (HxW input; its time over fp32's) |")


def test_main_job_bundles_only_int8_artifacts_that_hold_the_flat_area_bound(small_report, tmp_path):
    """The main job's demo apps get the report's artifacts, but a full-W8A8 artifact whose flat
    greys or saturated colours shift past the convert default's bound (or were never measured)
    stays out, with the reason and the command that builds a fit one."""
    import copy

    from edge_sr.pipeline import _bundle_apps
    from edge_sr.quant.recipe import VISIBLE_SHIFT_LEVELS

    report, _, output, _ = small_report
    rows = {(e["target"], e["precision"]): e for e in report["entries"]}
    measured = rows[("onnx", "int8")]
    shift = max(measured["flat_field"]["max_abs"], measured["flat_colours"]["max_abs"])
    bundled = _bundle_apps(report, output, tmp_path / "as-built")

    web = json.loads((Path(bundled["web"]["models_dir"]) / "manifest.json").read_text())
    web_int8_left_out = [x for x in bundled["web"]["left_out"] if x["precision"] == "int8"]
    if shift > VISIBLE_SHIFT_LEVELS:
        assert [(m["target"], m["precision"]) for m in web["models"]] == [("onnx", "fp32")]
        assert len(web_int8_left_out) == 1 and f"{shift:.1f} levels" in web_int8_left_out[0]["reason"]
        assert "edge-sr bundle span-ch28 --app web" in web_int8_left_out[0]["reason"]
    else:
        assert [(m["target"], m["precision"]) for m in web["models"]] == [("onnx", "fp32"), ("onnx", "int8")]
        assert web_int8_left_out == []
    # CoreML runs only on macOS: its INT8 is spec-verified, never measured here, so not vouched for.
    ios = json.loads((Path(bundled["ios"]["models_dir"]) / "manifest.json").read_text())
    assert [(m["target"], m["precision"]) for m in ios["models"]] == [("coreml", "fp32")]
    assert [x["precision"] for x in bundled["ios"]["left_out"]] == ["int8"]
    assert "not measured here" in bundled["ios"]["left_out"][0]["reason"]
    assert "edge-sr pipeline" not in bundled["ios"]["left_out"][0]["reason"]  # a budget would not measure it either
    assert "android" not in bundled  # its LiteRT rows failed (the fixture's broken target) and ExecuTorch was not built

    # The other side of the bound, on the same artifacts: within it, the INT8 goes in; past it, out.
    for flat, expect_int8 in ((VISIBLE_SHIFT_LEVELS - 0.5, True), (VISIBLE_SHIFT_LEVELS + 0.5, False)):
        doctored = copy.deepcopy(report)
        for entry in doctored["entries"]:
            if entry["precision"] == "int8" and entry["target"] == "onnx":
                entry["flat_field"] = {**entry["flat_field"], "max_abs": flat - 1}
                entry["flat_colours"] = {**entry["flat_colours"], "max_abs": flat}
        apps = _bundle_apps(doctored, output, tmp_path / f"flat-{flat}")
        models = json.loads((Path(apps["web"]["models_dir"]) / "manifest.json").read_text())["models"]
        assert (("onnx", "int8") in [(m["target"], m["precision"]) for m in models]) is expect_int8
        assert (apps["web"]["left_out"] == []) is expect_int8
        if expect_int8:
            assert (Path(apps["web"]["models_dir"]) / Path(measured["artifacts"][0]).name).is_file()
