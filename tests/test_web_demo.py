"""The web demo end to end: `edge-sr bundle --app web`, `edge-sr serve-demo`, and the page driven in
headless Chromium (Debian's chromium, playwright-core from npm) for an fp32 and an INT8 model
(WebAssembly) and on WebGPU, its output checked against Python onnxruntime, against onnxruntime-web
under Node (INT8: bit for bit) and the contract's golden pair; and the page's platform-free code
(contract reading, tiling, pixels) under Node against Python."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from edge_sr.cli import main

from conftest import QUICK_RECIPE, REPO

BROWSER_DIR = REPO / "tests" / "browser"
WEB = REPO / "apps" / "web"


def _probe(*args: str) -> str:
    completed = subprocess.run(["node", "tools/core-probe.mjs", *args], cwd=WEB, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


LR_SIZE = (72, 100)  # H, W of the real DIV2K crop the page upscales
TILE = 64            # the page's largest tile: forces a grid of tiles (2 x 3) with the contract's overlap
FP32_TOLERANCE = 1e-4
"""web-fp32-vs-onnxruntime: onnxruntime-web (WebAssembly) vs Python onnxruntime, same artifact."""


@pytest.fixture(scope="module")
def site(tmp_path_factory, zoo_dir, data_dir):
    out = tmp_path_factory.mktemp("web-site")
    code = main(["bundle", "span-ch28", "--app", "web", "-o", str(out), *QUICK_RECIPE])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def server(site):
    from edge_sr.demo_server import make_server

    httpd = make_server(site, port=0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def lr_image(tmp_path_factory, div2k_lr) -> Path:
    pixels = np.asarray(Image.open(div2k_lr[3]).convert("RGB"))
    top, left = 40, 60
    path = tmp_path_factory.mktemp("lr") / "div2k-crop.png"
    Image.fromarray(pixels[top : top + LR_SIZE[0], left : left + LR_SIZE[1]]).save(path)
    return path


def _drive(server: str, tmp_path: Path, *, model: int, image: Path, optimization: str, tile: int,
           backend: str = "wasm", runs: int = 3) -> tuple[dict, np.ndarray]:
    config = {
        "url": server, "image": str(image), "model": model, "threads": 2, "backend": backend,
        "optimization": optimization, "runs": runs, "tile": tile,
        "screenshot": str(tmp_path / "demo.png"), "output": str(tmp_path / "output.f32"),
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    completed = subprocess.run(["node", "web_demo.mjs", str(tmp_path / "config.json")], cwd=BROWSER_DIR,
                               capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    height, width = result["output"]
    output = np.fromfile(tmp_path / "output.f32", dtype=np.float32).reshape(1, 3, height, width)
    return result, output


def _onnxruntime(path: Path, level: str):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = {
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL, "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    }[level]
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda x: torch.from_numpy(session.run(["sr"], {"lr": x.numpy()})[0])


def _pixels_tensor(image: Path) -> torch.Tensor:
    pixels = np.asarray(Image.open(image).convert("RGB")).astype(np.float32) / 255.0
    return torch.from_numpy(pixels.transpose(2, 0, 1).copy())[None]


def _check_page(result: dict, tmp_path: Path, manifest_index: int, site: Path, *,
                lr_size: tuple[int, int] = LR_SIZE, runtime: str = "onnxruntime-web-wasm", runs: int = 3) -> dict:
    assert result["console_errors"] == [] and result["page_errors"] == [], result
    assert result["external_requests"] == [] and result["failed_requests"] == [], result
    assert result["error"] is None and result["status"].startswith("done"), result
    assert result["cross_origin_isolated"] is True  # serve-demo's COOP/COEP headers
    row = result["row"]
    assert row["runtime"] == runtime and row["threads"] == (2 if runtime.endswith("wasm") else 0)
    assert row["input"] == list(lr_size) and row["output"] == [lr_size[0] * 4, lr_size[1] * 4]
    for stage in ("pre", "run", "post"):
        assert row["stages_ms"][stage]["runs"] == runs and row["stages_ms"][stage]["median"] > 0
    assert row["ms"]["median"] >= row["stages_ms"]["run"]["median"]
    # The golden pair of the contract, run in the page.
    assert result["golden"]["passed"] is True, result["golden_text"]
    # The results document is what `edge-sr report --device-results` reads.
    from edge_sr.report.build import read_device_results

    (tmp_path / "results.json").write_text(json.dumps(result["results"]))
    assert read_device_results(str(tmp_path / "results.json"))["rows"][0]["runtime"] == runtime
    # The screenshot shows the before/after view, two output-sized canvases, with image content.
    assert result["compare_visible"]
    assert ["after", lr_size[1] * 4, lr_size[0] * 4] in result["canvases"]
    screenshot = np.asarray(Image.open(tmp_path / "demo.png").convert("RGB")).astype(np.float32)
    assert screenshot.shape[0] > 600 and screenshot.std() > 20, "the screenshot looks blank"
    entry = json.loads((site / "models" / "manifest.json").read_text())["models"][manifest_index]
    return entry


def test_web_demo_fp32_matches_python_onnxruntime(site, server, lr_image, tmp_path):
    from edge_sr.tiling import tiled

    result, output = _drive(server, tmp_path, model=0, image=lr_image, optimization="all", tile=TILE)
    entry = _check_page(result, tmp_path, 0, site)
    assert entry["precision"] == "fp32"
    from edge_sr.tiling import tile_plan

    expected_tiles = len(tile_plan(*LR_SIZE, tile=(TILE, TILE), overlap=21))
    assert expected_tiles > 1 and result["row"]["tiling"] == {"tile": [TILE, TILE], "overlap": 21, "tiles": expected_tiles}
    run = _onnxruntime(site / "models" / entry["contract"].removesuffix(".contract.json"), "all")
    x = _pixels_tensor(lr_image)
    reference_tiled = tiled(run, tile=(TILE, TILE), scale=4, overlap=21)(x).numpy()
    reference_whole = run(x).numpy()
    tiled_diff = float(np.abs(output - reference_tiled).max())
    whole_diff = float(np.abs(output - reference_whole).max())
    print(f"fp32 web vs onnxruntime: tiled {tiled_diff:.2e}, whole image {whole_diff:.2e}; "
          f"latency median {result['row']['ms']['median']} ms")
    assert tiled_diff <= FP32_TOLERANCE
    assert whole_diff <= FP32_TOLERANCE  # the contract's overlap makes tiles seamless


def test_web_demo_webgpu_backend_matches_python_onnxruntime(site, server, tmp_path):
    """WebGPU on Chromium's software adapter (SwiftShader): slow, but the same shaders a GPU runs."""
    manifest = json.loads((site / "models" / "manifest.json").read_text())
    contract = json.loads((site / "models" / manifest["models"][0]["contract"]).read_text())
    golden_input = site / "models" / contract["golden"]["input"]
    size = Image.open(golden_input).size
    result, output = _drive(server, tmp_path, model=0, image=golden_input, optimization="all", tile=256, backend="webgpu", runs=1)
    _check_page(result, tmp_path, 0, site, lr_size=(size[1], size[0]), runtime="onnxruntime-web-webgpu", runs=1)
    assert "WebGPU available" in result["environment"]
    reference = _onnxruntime(site / "models" / contract["artifact"]["file"], "all")(_pixels_tensor(golden_input)).numpy()
    diff = float(np.abs(output - reference).max())
    print(f"fp32 WebGPU (SwiftShader) vs onnxruntime: {diff:.2e}; median {result['row']['ms']['median']:.0f} ms")
    assert diff <= FP32_TOLERANCE


INT8_MIN_IDENTICAL = 0.70
INT8_MAX_STEPS = 8
INT8_MIN_PSNR_DB = 50.0
"""web-int8-vs-python-onnxruntime.  Exact equality with Python onnxruntime is not reachable: both
run the same QDQ graph with graph optimisations off, but their float kernels round differently
(x86 MLAS accumulates Conv with AVX-512 FMA, WebAssembly SIMD with separate multiply and add;
Sigmoid's approximations differ too), and a value on a rounding boundary before a QuantizeLinear
moves one 8-bit step and the change travels on: per-node outputs first differ at the 3rd conv
(1 value); onnxruntime 1.30.0 (the web build's version) and 1.31.1 differ from the web the same
way.  Every requantisation turns such a difference into a whole step, and equalisation adds 18
of them (the depthwise convs that unscale each sigmoid's input).  So: >= 70 % of output values
identical (96 % measured before SiLU decomposition and equalisation, 78 % with them), none more than 8 steps of 1/255
apart (3 measured here; 5 for the main job's refit model on a 160x90 crop), PSNR between the two
>= 50 dB (61 dB before, 54.4 after; the int8 network is 46 dB from fp32).  Equality is then checked where it does hold: against onnxruntime on the
same WebAssembly kernels at the same optimisation level (Node), bit for bit."""


def test_web_demo_int8_matches_python_onnxruntime_without_graph_optimisations(site, server, lr_image, tmp_path):
    optimization = "disabled"
    result, output = _drive(server, tmp_path, model=1, image=lr_image, optimization=optimization, tile=256)
    entry = _check_page(result, tmp_path, 1, site)
    assert entry["precision"] == "int8" and result["row"]["tiling"]["tiles"] == 1
    assert result["row"]["graph_optimization"] == optimization
    run = _onnxruntime(site / "models" / entry["contract"].removesuffix(".contract.json"), optimization)
    reference = run(_pixels_tensor(lr_image)).numpy()
    steps = np.abs(output - reference) * 255.0
    identical = float((steps == 0).mean())
    mse = float(((np.clip(output, 0, 1) - np.clip(reference, 0, 1)) ** 2).mean())
    print(f"int8 web vs onnxruntime ({optimization}): {100 * identical:.2f} % identical, max {steps.max():.2f} steps, "
          f"PSNR {10 * np.log10(1 / mse) if mse else float('inf'):.1f} dB; latency median {result['row']['ms']['median']} ms")
    assert identical >= INT8_MIN_IDENTICAL
    assert steps.max() <= INT8_MAX_STEPS + 1e-3
    assert mse == 0 or 10 * np.log10(1 / mse) >= INT8_MIN_PSNR_DB
    # Against onnxruntime on the same (WebAssembly) kernels, run by Node outside the page, at the
    # same optimisation level: the page adds nothing — pixels in, tensors out, bit for bit.
    x = _pixels_tensor(lr_image).numpy()
    x.tofile(tmp_path / "input.f32")
    _probe("run", str(site / "models" / entry["contract"].removesuffix(".contract.json")), str(tmp_path / "input.f32"),
           str(x.shape[2]), str(x.shape[3]), optimization, str(tmp_path / "node.f32"))
    node = np.fromfile(tmp_path / "node.f32", dtype=np.float32).reshape(output.shape)
    assert np.array_equal(output, node), f"{int((output != node).sum())} values differ from onnxruntime-web under Node"


# --- the page's platform-free code under Node: contract reading, tiling, pixels ------------------

def test_web_contract_reading_matches_python_on_real_contracts(app_contracts, tmp_path):
    from edge_sr.app_bundle import contract_view

    lines = _probe("views", *map(str, app_contracts)).splitlines()
    assert len(lines) == len(app_contracts)
    for path, line in zip(app_contracts, lines):
        web = json.loads(line)
        assert "error" not in web, (path.name, web)
        # JSON numbers: JavaScript prints 1.0 as 1, which compares equal; every other value exactly.
        assert web == contract_view(json.loads(path.read_text()), source=path.name), path.name
    # A contract of another schema version is refused with the file, field and what was found.
    bad = tmp_path / "bad.contract.json"
    bad.write_text(app_contracts[0].read_text().replace('"schema_version": 1', '"schema_version": 2', 1))
    refused = json.loads(_probe("views", str(bad)))
    assert "bad.contract.json" in refused["error"] and "version 1" in refused["error"] and "version 2" in refused["error"]


def test_web_tile_plan_equals_python(tmp_path):
    from edge_sr.tiling import tile_plan

    cases = [[h, w, th, tw, o] for h in (16, 47, 64, 100, 257) for w in (16, 64, 90, 300)
             for th, tw, o in ((16, 16, 0), (64, 64, 21), (48, 96, 10), (256, 256, 21)) if h >= th and w >= tw]
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    plans = json.loads(_probe("tiles", str(tmp_path / "cases.json")))
    assert len(plans) == len(cases) > 20
    for (h, w, th, tw, o), plan in zip(cases, plans):
        expected = [{"top": t.top, "left": t.left, "keep": list(t.keep)} for t in tile_plan(h, w, tile=(th, tw), overlap=o)]
        assert plan == expected, (h, w, th, tw, o)


def test_web_pixels_round_trip_for_every_layout_and_dtype():
    report = json.loads(_probe("pixels"))
    assert {(r["layout"], r["dtype"]) for r in report} == {("NCHW", "float32"), ("NHWC", "float32"), ("NCHW", "int8"), ("NHWC", "uint8")}
    for row in report:
        assert row["mismatches"] == 0, row
    kinds = {(r["layout"], r["dtype"]): r for r in report}
    # NCHW starts with the red plane (x = 0, 1, 2, ...); NHWC interleaves R, G, B of pixel 0.
    assert kinds[("NCHW", "float32")]["first"] == pytest.approx([0, 1 / 255, 2 / 255, 3 / 255])
    assert kinds[("NHWC", "float32")]["first"] == pytest.approx([0, 85 / 255, 170 / 255, 1 / 255])
    assert kinds[("NCHW", "int8")]["first"] == [-128, -127, -126, -125] and kinds[("NCHW", "int8")]["type"] == "Int8Array"
