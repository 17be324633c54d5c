"""The Android app's platform-free Kotlin core, checked on real contracts without an Android SDK.

Compiles ``apps/android/core`` with the npm Kotlin compiler (``kotlin_home``), runs its unit tests
with every contract ``edge-sr convert`` writes, cross-checks the Kotlin parsed view and tile plan
with Python's (``edge_sr.app_bundle.contract_view``, ``edge_sr.tiling.tile_plan``), and parses every
``.kt`` file of the app with tree-sitter so app code that CI cannot compile is at least well formed.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from edge_sr.app_bundle import contract_view
from edge_sr.tiling import tile_plan

ANDROID = Path(__file__).resolve().parents[1] / "apps" / "android"
CORE = ANDROID / "core"


@pytest.fixture(scope="module")
def core_build(tmp_path_factory, kotlin_home: Path, app_contracts: list[Path]) -> tuple[Path, subprocess.CompletedProcess]:
    """Compiles core + tests once (run-tests.sh) and keeps the runner's output."""
    build = tmp_path_factory.mktemp("android-core")
    run = subprocess.run(
        [str(CORE / "run-tests.sh"), str(kotlin_home), str(build), *map(str, app_contracts)],
        capture_output=True, text=True, timeout=900,
    )
    return build, run


def _dump(kotlin_home: Path, build: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CORE / "dump-contract.sh"), str(kotlin_home), str(build), *args],
                          capture_output=True, text=True, timeout=300)


def test_core_unit_tests_pass(core_build):
    _, run = core_build
    summary = re.search(r"^(\d+) passed, (\d+) failed, (\d+) skipped$", run.stdout, re.MULTILINE)
    assert run.returncode == 0 and summary, f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    passed, failed, skipped = map(int, summary.groups())
    assert failed == 0 and skipped == 0, run.stdout
    assert passed >= 30, run.stdout


def test_parsed_view_matches_python(core_build, kotlin_home, app_contracts):
    build, _ = core_build
    run = _dump(kotlin_home, build, *map(str, app_contracts))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == len(app_contracts)
    for path, line in zip(app_contracts, lines):
        data = json.loads(path.read_text())
        kotlin = json.loads(line)
        python = contract_view(data, source=path.name)
        assert _approx_equal(kotlin, python), (path.name, kotlin, python)
        assert type(kotlin["scale"]) is int and type(kotlin["input"]["range"][0]) is float, path.name


def _approx_equal(a, b) -> bool:
    """Deep equality with floats compared by pytest.approx and ints kept distinct from floats."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_approx_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_approx_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and not isinstance(a, bool) and a == pytest.approx(b)
    return type(a) is type(b) and a == b


def test_contracts_cover_every_io_kind(app_contracts):
    views = [json.loads(p.read_text()) for p in app_contracts]
    assert any(v["input"]["layout"] == "NHWC" for v in views)
    assert any(v["input"]["dtype"] == "int8" for v in views)
    assert any("image" in v["input"] for v in views)
    assert any(v["shape_policy"]["kind"] == "dynamic" for v in views)


def test_refused_contract_exits_1_naming_the_file(core_build, kotlin_home, app_contracts, tmp_path):
    build, _ = core_build
    bad = tmp_path / "bad.contract.json"
    bad.write_text(app_contracts[0].read_text().replace('"edge-sr/model-contract"', '"edge-sr/other"', 1))
    run = _dump(kotlin_home, build, str(bad))
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.count("\n") == 1
    assert str(bad) in run.stderr and "field schema" in run.stderr and '"edge-sr/other"' in run.stderr, run.stderr


@pytest.mark.parametrize("height,width,tile,overlap", [
    (100, 70, (48, 48), 21), (1, 32, (16, 16), 1), (257, 300, (64, 96), 10), (48, 48, (48, 48), 21), (33, 17, (16, 16), 0),
])
def test_tile_plan_matches_python(core_build, kotlin_home, height, width, tile, overlap):
    """Same tiles as tile_plan; every output pixel comes from the tile Python's last-writer-wins assembly takes it from."""
    build, _ = core_build
    scale = 2
    run = _dump(kotlin_home, build, "--tile-plan", str(height), str(width), str(tile[0]), str(tile[1]), str(overlap), str(scale))
    assert run.returncode == 0, run.stderr
    kotlin = json.loads(run.stdout)
    padded = (max(height, tile[0]), max(width, tile[1]))
    python_tiles = tile_plan(*padded, tile=tile, overlap=overlap)
    assert kotlin["tiles"] == [[t.top, t.left, list(t.keep)] for t in python_tiles]
    # Owner of every output pixel: Python writes boxes in order (later tiles overwrite) ...
    out_h, out_w = height * scale, width * scale
    python_owner = [[None] * out_w for _ in range(out_h)]
    for t in python_tiles:
        top, left = (t.top + t.keep[0]) * scale, (t.left + t.keep[1]) * scale
        bottom, right = min((t.top + t.keep[2]) * scale, out_h), min((t.left + t.keep[3]) * scale, out_w)
        for y in range(top, bottom):
            python_owner[y][left:right] = [(t.top, t.left)] * max(0, right - left)
    # ... Kotlin writes each pixel once.
    kotlin_owner = [[None] * out_w for _ in range(out_h)]
    for tile_top, tile_left, top, left, bottom, right in kotlin["boxes"]:
        for y in range(top, bottom):
            assert all(o is None for o in kotlin_owner[y][left:right]), "pixel written twice"
            kotlin_owner[y][left:right] = [(tile_top, tile_left)] * (right - left)
    assert kotlin_owner == python_owner


def test_every_kotlin_file_parses():
    import tree_sitter_kotlin
    from tree_sitter import Language, Parser

    parser = Parser(Language(tree_sitter_kotlin.language()))
    files = sorted(ANDROID.rglob("*.kt")) + sorted(ANDROID.rglob("*.kts"))
    assert len(files) >= 20, files
    problems = []
    for path in files:
        tree = parser.parse(path.read_bytes())
        stack = [tree.root_node]
        while stack:
            node = stack.pop()
            if node.type == "ERROR" or node.is_missing:
                kind = "missing " + node.type if node.is_missing else "syntax error"
                problems.append(f"{path.relative_to(ANDROID)}:{node.start_point[0] + 1}:{node.start_point[1] + 1}: {kind}")
                break
            if node.has_error:
                stack.extend(reversed(node.children))
    assert not problems, "\n".join(problems)
