"""What the demo apps load: `edge-sr bundle` and the parsed contract view every app shares.

``contract_view`` is the reference reading of a model contract: the fields an app needs, in the
shape documented in ``apps/README.md``.  Each app's own parser (Kotlin, Swift, JavaScript)
prints the same view, and the tests compare them on real contract files.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_sr._files import atomic_output
from edge_sr.converters.contract import SCHEMA, SCHEMA_VERSION
from edge_sr.errors import EdgeSRError, OptionError

if TYPE_CHECKING:
    from edge_sr.descriptor import ModelDescriptor
    from edge_sr.quant.recipe import Int8Recipe

DEFAULT_OVERLAP = 16
"""Tile overlap for contracts written before the ``tiling`` field existed."""


def _tensor_view(facts: dict[str, Any]) -> dict[str, Any]:
    quantization = facts.get("quantization")
    return {
        "name": facts["name"],
        "layout": facts["layout"],
        "dtype": facts["dtype"],
        "range": [float(facts["range"][0]), float(facts["range"][1])],
        "shape": [int(v) for v in facts["shape"]],
        "quantization": None if quantization is None else {
            "scale": float(quantization["scale"]), "zero_point": int(quantization["zero_point"]),
        },
        "clamped": facts.get("clamped"),
        "image": "image" in facts,
    }


def contract_view(data: dict[str, Any], *, source: str = "contract") -> dict[str, Any]:
    """The app-facing reading of a contract (``apps/README.md``, "The parsed view")."""
    if data.get("schema") != SCHEMA or data.get("schema_version") != SCHEMA_VERSION:
        raise EdgeSRError(
            f"{source}: expected schema {SCHEMA!r} version {SCHEMA_VERSION}, "
            f"found {data.get('schema')!r} version {data.get('schema_version')!r}"
        )
    policy = data["shape_policy"]
    dynamic = policy["kind"] == "dynamic"
    tiling = data.get("tiling")
    golden = data["golden"]
    window = golden["output_window"]
    # Artifacts whose runtime is not on the converting machine (CoreML on Linux) have no tolerance.
    tolerance = data["verification"].get("tolerance")
    return {
        "file": data["artifact"]["file"],
        "format": data["artifact"]["format"],
        "target": data["target"],
        "arch": data["model"]["arch"],
        "zoo_name": data["model"].get("zoo_name"),
        "scale": int(data["scale"]),
        "precision": data["precision"],
        "min_input_size": int(data["model"]["min_input_size"]),
        "input": _tensor_view(data["input"]),
        "output": _tensor_view(data["output"]),
        "shape_policy": {
            "kind": policy["kind"],
            "sizes": [[int(h), int(w)] for h, w in policy.get("sizes", [])],
            "min_size": int(policy["min_size"]) if dynamic else None,
            "max_size": int(policy["max_size"]) if dynamic else None,
        },
        "tiling": (
            {"overlap": DEFAULT_OVERLAP, "exact": False} if tiling is None
            else {"overlap": int(tiling["overlap"]), "exact": bool(tiling["exact"])}
        ),
        "golden": {
            "input": golden["input"],
            "output": golden["output"],
            "window": [int(window["top"]), int(window["left"]), int(window["height"]), int(window["width"])],
        },
        "tolerance": None if tolerance is None else {
            "name": tolerance["name"],
            "max_abs_diff": tolerance.get("max_abs_diff"),
            "min_psnr_db": tolerance.get("min_psnr_db"),
        },
    }


# ---------------------------------------------------------------------------------------------
# edge-sr bundle: convert what an app needs and place it where the app loads models from.

BUNDLE_SCHEMA = "edge-sr/bundle"
BUNDLE_SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
REPO = Path(__file__).resolve().parents[1]
APPS_DIR = REPO / "apps"
WEB_SITE_FILES = ("index.html", "app.css", "js")
WEB_VENDOR = Path("node_modules") / "onnxruntime-web" / "dist"
# ort.webgpu runs both backends (WebAssembly and WebGPU) from one WebAssembly build.
WEB_VENDOR_FILES = ("ort.webgpu.min.mjs", "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm")


@dataclass(frozen=True, kw_only=True)
class AppSpec:
    """Which targets an app runs, and where under ``apps/<name>/`` it loads models from."""

    name: str
    targets: tuple[str, ...]
    models_dir: str
    precisions: tuple[str, ...]


APPS = {
    spec.name: spec
    for spec in (
        AppSpec(name="web", targets=("onnx",), models_dir="models", precisions=("fp32", "int8")),
        AppSpec(name="android", targets=("executorch", "tflite"), models_dir="app/src/main/assets/models", precisions=("fp32", "int8")),
        AppSpec(name="ios", targets=("coreml",), models_dir="EdgeSR/Models", precisions=("fp16", "int8")),
    )
}


@dataclass(frozen=True)
class BundleResult:
    models_dir: Path
    site_dir: Path | None
    """The web app's root (serve it with ``edge-sr serve-demo``); None for the mobile apps."""
    entries: list[dict[str, Any]]
    notes: list[str]


def _read_manifest(path: Path, app: str) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise EdgeSRError(f"{path}: cannot read the bundle manifest ({error}); remove it or bundle into another folder") from None
    if data.get("schema") != BUNDLE_SCHEMA or data.get("schema_version") != BUNDLE_SCHEMA_VERSION or data.get("app") != app:
        raise EdgeSRError(
            f"{path}: expected a {BUNDLE_SCHEMA} v{BUNDLE_SCHEMA_VERSION} manifest for the {app} app, "
            f"found schema {data.get('schema')!r} v{data.get('schema_version')!r} for {data.get('app')!r}"
        )
    return list(data.get("models", []))


def _web_vendor() -> Path:
    """onnxruntime-web's runtime files (installed by `npm ci` in apps/web)."""
    vendor = APPS_DIR / "web" / WEB_VENDOR
    missing = [name for name in WEB_VENDOR_FILES if not (vendor / name).is_file()]
    if missing:
        raise EdgeSRError(f"{vendor}: expected onnxruntime-web's {', '.join(missing)} (run `npm ci` in apps/web), found none")
    return vendor


def _copy_web_site(site: Path) -> None:
    """The web app's own files and onnxruntime-web's runtime files, into ``site``."""
    vendor = _web_vendor()
    source = APPS_DIR / "web"
    if site.resolve() != source.resolve():
        for name in WEB_SITE_FILES:
            if (source / name).is_dir():
                shutil.copytree(source / name, site / name, dirs_exist_ok=True)
            else:
                shutil.copy2(source / name, site / name)
    (site / "vendor" / "ort").mkdir(parents=True, exist_ok=True)
    for name in WEB_VENDOR_FILES:
        shutil.copy2(vendor / name, site / "vendor" / "ort" / name)


def _companions(artifact: Path) -> list[Path]:
    """An artifact and what travels with it: contract and golden pair."""
    from edge_sr.converters.contract import contract_path

    contract = contract_path(artifact)
    golden = json.loads(contract.read_text())["golden"]
    return [artifact, contract, artifact.with_name(golden["input"]), artifact.with_name(golden["output"])]


def _destinations(app: str, output: Path | None) -> tuple[Path | None, Path]:
    spec = APPS[app]
    if output is None:
        site = APPS_DIR / "web" if app == "web" else None
        return site, APPS_DIR / app / spec.models_dir
    site = Path(output) if app == "web" else None
    return site, (site / spec.models_dir if site is not None else Path(output))


def place_bundle(*, app: str, model: str, artifacts: list[tuple[str, str, Path]], output: Path | None, move: bool = False) -> BundleResult:
    """Place verified ``(target, precision, artifact)`` files of ``model`` where ``app`` loads them,
    with their contracts and golden pairs, and record them in ``manifest.json`` (earlier entries
    of other models are kept; this model's are replaced).  See :func:`bundle` for ``output``."""
    if app not in APPS:
        raise OptionError(f"--app {app!r}: expected one of {', '.join(APPS)}")
    site, models_dir = _destinations(app, output)
    manifest_path = models_dir / MANIFEST
    kept = [entry for entry in _read_manifest(manifest_path, app) if entry.get("model") != model]
    files = [path for _, _, artifact in artifacts for path in _companions(artifact)]
    if site is not None:
        site.mkdir(parents=True, exist_ok=True)
        _copy_web_site(site)
    models_dir.mkdir(parents=True, exist_ok=True)
    for old in models_dir.glob(f"{model}.*"):
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    for path in files:
        if move:
            os.replace(path, models_dir / path.name)
        elif path.is_dir():
            shutil.copytree(path, models_dir / path.name)
        else:
            shutil.copy2(path, models_dir / path.name)
    entries = [{"model": model, "target": target, "precision": precision, "contract": f"{artifact.name}.contract.json"}
               for target, precision, artifact in artifacts]
    manifest = {
        "schema": BUNDLE_SCHEMA, "schema_version": BUNDLE_SCHEMA_VERSION, "app": app,
        "edge_sr_version": _version(), "models": kept + entries,
    }
    with atomic_output(manifest_path) as temporary:
        temporary.write_text(json.dumps(manifest, indent=2) + "\n")
    return BundleResult(models_dir=models_dir, site_dir=site, entries=entries, notes=[])


def bundle(
    deploy: ModelDescriptor,
    *,
    app: str,
    precisions: tuple[str, ...] | None = None,
    output: Path | None = None,
    size: tuple[int, int] = (256, 256),
    recipe: Int8Recipe | None = None,
    progress: Callable[[str], None] | None = None,
) -> BundleResult:
    """Convert ``deploy`` (a collapsed model) for ``app`` and place artifacts, contracts, golden
    pairs and ``manifest.json`` where the app loads them.

    ``output``: for web, the site root (the page's files are copied in, models go to
    ``output/models``); for android/ios, the models folder itself.  Default: the app's own folder
    in this checkout (``apps/<app>/…``).  Artifacts take dynamic shapes where the target allows,
    else one fixed ``size``.  Conversion happens in a staging folder: nothing is placed unless
    every artifact converted and verified.
    """
    from edge_sr.artifacts import provision

    if app not in APPS:
        raise OptionError(f"--app {app!r}: expected one of {', '.join(APPS)}")
    spec = APPS[app]
    precisions = tuple(precisions or spec.precisions)
    unknown = [p for p in precisions if p not in ("fp32", "fp16", "int8")]
    if unknown:
        raise OptionError(f"--precision {','.join(unknown)}: expected fp32, fp16 or int8")
    if app == "web":
        _web_vendor()
    _, models_dir = _destinations(app, output)
    name = deploy.zoo_name or Path(deploy.source).stem
    # Staging beside the destination, so placing is a rename; a folder made only for it goes
    # again if the conversion fails.
    missing = [folder for folder in (models_dir.parent, *models_dir.parent.parents) if not folder.exists()]
    made = missing[-1] if missing else None
    models_dir.parent.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix=".edge-sr-bundle-", dir=models_dir.parent) as staging_name:
            staging = Path(staging_name)
            artifacts: list[tuple[str, str, Path]] = []
            builds: dict = {}
            for target in spec.targets:
                for precision in precisions:
                    if progress:
                        progress(f"{target} {precision}")
                    paths = provision(
                        deploy, target=target, precision=precision, sizes=[size], output_dir=staging,
                        int8_builds=builds, recipe=recipe, progress=progress, notes=notes,
                    )
                    artifacts += [(target, precision, path) for path in paths]
            result = place_bundle(app=app, model=name, artifacts=artifacts, output=output, move=True)
    except BaseException:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
        raise
    return BundleResult(models_dir=result.models_dir, site_dir=result.site_dir, entries=result.entries, notes=notes)


def _version() -> str:
    import edge_sr

    return edge_sr.__version__
