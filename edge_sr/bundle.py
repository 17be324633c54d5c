"""What the demo apps load: `edge-sr bundle` and the parsed contract view every app shares.

``contract_view`` is the reference reading of a model contract: the fields an app needs, in the
shape documented in ``apps/README.md``.  Each app's own parser (Kotlin, Swift, JavaScript)
prints the same view, and the tests compare them on real contract files.
"""

from __future__ import annotations

from typing import Any

from edge_sr.converters.contract import SCHEMA, SCHEMA_VERSION
from edge_sr.errors import EdgeSRError

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
    tolerance = data["verification"]["tolerance"]
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
        "tolerance": {
            "name": tolerance["name"],
            "max_abs_diff": tolerance.get("max_abs_diff"),
            "min_psnr_db": tolerance.get("min_psnr_db"),
        },
    }
