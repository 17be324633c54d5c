"""The model contract: one JSON file beside every artifact that the apps and benchmarks read.

Schema ``edge-sr/model-contract`` version 1 (documented in ``converters/CONTRACT.md``).  Nothing an
app needs to know about a model (names, layout, range, shapes, scale, golden pair) lives
anywhere else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_sr.errors import EdgeSRError

SCHEMA = "edge-sr/model-contract"
SCHEMA_VERSION = 1
INPUT_NAME = "lr"
OUTPUT_NAME = "sr"
CONTRACT_SUFFIX = ".contract.json"

REQUIRED_FIELDS = (
    "schema", "schema_version", "artifact", "target", "model", "input", "output", "scale",
    "shape_policy", "precision", "versions", "converter", "golden", "verification",
)


def contract_path(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + CONTRACT_SUFFIX)


def tensor_facts(*, name: str, layout: str, shape: list[int], value_range: tuple[float, float], clamped: bool | None) -> dict[str, Any]:
    """One input/output description.  ``shape`` uses -1 for dynamic dimensions; ``clamped``
    (outputs only) says whether values are guaranteed inside ``range``."""
    facts: dict[str, Any] = {
        "name": name,
        "layout": layout.upper(),
        "dtype": "float32",
        "range": list(value_range),
        "colour_space": "RGB",
        "shape": shape,
        "quantization": None,
    }
    if clamped is not None:
        facts["clamped"] = clamped
    return facts


@dataclass(frozen=True)
class Contract:
    data: dict[str, Any]

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.data, indent=2) + "\n")

    @classmethod
    def read(cls, path: str | Path) -> "Contract":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise EdgeSRError(f"{path}: cannot read model contract ({exc})") from None
        if data.get("schema") != SCHEMA:
            raise EdgeSRError(f"{path}: expected schema {SCHEMA!r}, found {data.get('schema')!r}")
        if data.get("schema_version") != SCHEMA_VERSION:
            raise EdgeSRError(f"{path}: expected schema_version {SCHEMA_VERSION}, found {data.get('schema_version')!r}")
        missing = [k for k in REQUIRED_FIELDS if k not in data]
        if missing:
            raise EdgeSRError(f"{path}: model contract is missing {', '.join(missing)}")
        return cls(data)
