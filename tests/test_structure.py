"""Project rules that code review alone would miss."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import edge_sr

REPO = Path(__file__).resolve().parents[1]


def test_public_surface_is_explicit():
    for name in edge_sr.__all__:
        assert hasattr(edge_sr, name), name
    assert {"load", "collapse", "ModelDescriptor", "EdgeSRError"} <= set(edge_sr.__all__)


def test_converters_and_quant_install_under_edge_sr_only():
    import edge_sr.converters
    import edge_sr.quant

    assert Path(edge_sr.converters.__file__).resolve().parent == REPO / "converters"
    assert Path(edge_sr.quant.__file__).resolve().parent == REPO / "quant"
    probe = "import importlib.util as u; print(u.find_spec('converters'), u.find_spec('quant'))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd="/")
    assert result.stdout.strip() == "None None"


def test_importing_edge_sr_loads_no_heavy_sdk():
    probe = (
        "import sys, edge_sr, edge_sr.cli, edge_sr.evaluate; "
        "heavy = [m for m in ('coremltools', 'executorch', 'onnxruntime', 'ai_edge_litert', 'litert_torch', 'onnx') if m in sys.modules]; "
        "print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd="/")
    assert result.stdout.strip() == "[]", result.stderr


def test_registry_is_explicit_and_complete():
    from edge_sr.archs import REGISTRY

    assert REGISTRY.names() == ["span", "spanf", "espan", "dscf_fused", "efdn"]
    for arch in REGISTRY:
        folder = REPO / "edge_sr" / "archs" / arch.name
        assert (folder / "__init__.py").is_file() and (folder / "model.py").is_file()


def test_atomic_outputs_get_the_permissions_of_any_new_file(tmp_path):
    import stat

    from edge_sr._files import atomic_output

    target = tmp_path / "manifest.json"
    with atomic_output(target) as temporary:
        temporary.write_text("{}")
    plain = tmp_path / "plain.json"
    plain.write_text("{}")
    assert stat.S_IMODE(target.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
