"""`edge-sr bundle` (artifacts placed where each app loads them) and `edge-sr serve-demo`."""

from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path

import pytest

from edge_sr.app_bundle import contract_view
from edge_sr.cli import main


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def test_android_and_ios_bundles_hold_verified_artifacts_and_merge_models(tmp_path, zoo_dir, data_dir, capsys):
    android = tmp_path / "android-models"
    assert main(["bundle", "span-ch28", "--app", "android", "--precision", "fp32", "-o", str(android)]) == 0
    manifest = _manifest(android)
    assert manifest["schema"] == "edge-sr/bundle" and manifest["app"] == "android"
    assert {(e["target"], e["precision"]) for e in manifest["models"]} == {("executorch", "fp32"), ("tflite", "fp32")}
    for entry in manifest["models"]:
        contract = json.loads((android / entry["contract"]).read_text())
        view = contract_view(contract, source=entry["contract"])
        for name in (view["file"], view["golden"]["input"], view["golden"]["output"]):
            assert (android / name).exists(), name
        assert contract["verification"]["passed"] is True
        assert view["shape_policy"]["kind"] == "dynamic" and view["tiling"] == {"overlap": 21, "exact": True}
    assert not list(tmp_path.glob(".edge-sr-bundle-*")), "staging folder left behind"

    ios = tmp_path / "ios-models"
    assert main(["bundle", "span-ch28", "--app", "ios", "--precision", "fp16", "-o", str(ios)]) == 0
    assert main(["bundle", "dsclora", "--app", "ios", "--precision", "fp16", "-o", str(ios)]) == 0
    # Bundling span-ch28 again replaces its entries and keeps dsclora's.
    assert main(["bundle", "span-ch28", "--app", "ios", "--precision", "fp16", "-o", str(ios)]) == 0
    entries = _manifest(ios)["models"]
    assert sorted((e["model"], e["target"], e["precision"]) for e in entries) == [
        ("dsclora", "coreml", "fp16"), ("span-ch28", "coreml", "fp16")]
    for entry in entries:
        assert (ios / entry["contract"].removesuffix(".contract.json")).is_dir()  # the .mlpackage
    assert "bundled 1 artifacts" in capsys.readouterr().out


def test_bundle_errors_are_one_line_and_leave_nothing(tmp_path, zoo_dir, monkeypatch, capsys):
    assert main(["bundle", "span-ch28", "--app", "web", "--precision", "int4", "-o", str(tmp_path / "a")]) == 2
    assert "--precision int4: expected fp32, fp16 or int8" in capsys.readouterr().err
    import edge_sr.app_bundle as app_bundle

    monkeypatch.setattr(app_bundle, "WEB_VENDOR", Path("no-such-node-modules"))
    assert main(["bundle", "span-ch28", "--app", "web", "-o", str(tmp_path / "site")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "npm ci" in error and "onnxruntime-web" in error
    assert not (tmp_path / "site").exists()
    # A conversion that fails leaves neither artifacts nor the folders made for them.
    import edge_sr.artifacts as artifacts
    from edge_sr.errors import VerificationError

    real_provision = artifacts.provision

    def provision_failing_on_tflite(deploy, *, target, **options):
        if target == "tflite":
            raise VerificationError("tflite: simulated verification failure (test)")
        return real_provision(deploy, target=target, **options)

    monkeypatch.setattr(artifacts, "provision", provision_failing_on_tflite)
    assert main(["bundle", "span-ch28", "--app", "android", "--precision", "fp32", "-o", str(tmp_path / "new" / "models")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("edge-sr:")]
    assert errors == ["edge-sr: error: tflite: simulated verification failure (test)"]
    assert not (tmp_path / "new").exists()


def test_serve_demo_sends_the_headers_threads_need(tmp_path, capsys):
    from edge_sr.demo_server import make_server

    assert main(["serve-demo", str(tmp_path), "--port", "0"]) == 2
    assert "edge-sr bundle MODEL --app web" in capsys.readouterr().err
    for name in ("index.html", "js/app.js", "models/manifest.json", "vendor/ort/ort-wasm-simd-threaded.asyncify.wasm"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"\0asm" if name.endswith(".wasm") else b"{}")
    server = make_server(tmp_path, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        with urllib.request.urlopen(base) as page:
            assert page.headers["Cross-Origin-Opener-Policy"] == "same-origin"
            assert page.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        with urllib.request.urlopen(base + "vendor/ort/ort-wasm-simd-threaded.asyncify.wasm") as wasm:
            assert wasm.headers["Content-Type"] == "application/wasm"
        with urllib.request.urlopen(base + "js/app.js") as script:
            assert script.headers["Content-Type"].startswith("text/javascript")
    finally:
        server.shutdown()
        server.server_close()
