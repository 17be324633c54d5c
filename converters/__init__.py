"""Converters: one per deployment target, behind one interface (``base.Converter``).

``TARGETS`` is the explicit registry; ``convert_model`` (in ``pipeline``) is the one fixed
pipeline every target goes through: collapse -> exact rewrites -> export -> inspect -> run
and compare -> golden pair -> contract.  SDKs are imported only inside the converter methods
that need them.  Installed as ``edge_sr.converters``.
"""

from __future__ import annotations

from edge_sr.converters.base import Converter
from edge_sr.converters.coreml import CONVERTER as COREML
from edge_sr.converters.executorch import COREML_DELEGATE as EXECUTORCH_COREML
from edge_sr.converters.executorch import XNNPACK as EXECUTORCH
from edge_sr.converters.onnx import CONVERTER as ONNX
from edge_sr.converters.tflite import CONVERTER as TFLITE
from edge_sr.errors import OptionError

TARGETS: tuple[Converter, ...] = (ONNX, TFLITE, EXECUTORCH, EXECUTORCH_COREML, COREML)


def target_names() -> list[str]:
    return [converter.name for converter in TARGETS]


def get_converter(name: str) -> Converter:
    for converter in TARGETS:
        if converter.name == name:
            return converter
    raise OptionError(f"target {name!r}: expected one of {', '.join(target_names())} or 'all'")
