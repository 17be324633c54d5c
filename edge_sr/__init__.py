"""edge-sr: ship efficient super-resolution networks to phones and edge devices.

The public surface is what this module exports; everything else is internal.
"""

from __future__ import annotations

from edge_sr.collapse import CollapseReport, collapse, save_deploy_checkpoint
from edge_sr.descriptor import ModelDescriptor
from edge_sr.errors import (
    CheckpointError,
    DatasetError,
    DownloadError,
    EdgeSRError,
    ImageError,
    OptionError,
    UnknownArchitectureError,
    VerificationError,
    ZooError,
)
from edge_sr.loading import load
from edge_sr.upscale import upscale

__version__ = "0.1.0"

# Conversion lives in edge_sr.converters (installed from converters/); its SDKs load lazily.
from edge_sr.converters.contract import Contract  # noqa: E402
from edge_sr.converters.pipeline import ConversionError, ConversionResult, ConverterUnavailable  # noqa: E402
from edge_sr.converters.pipeline import convert_model as convert  # noqa: E402
from edge_sr.converters.spec import ExportSpec, ShapePolicy  # noqa: E402
from edge_sr.quant.recipe import Calibration, Int8Recipe  # noqa: E402
from edge_sr.bench import TimingPolicy  # noqa: E402
from edge_sr.report.build import ReportRequest, build_report  # noqa: E402
from edge_sr.report.render import write_report  # noqa: E402
from edge_sr.app_bundle import BundleResult, bundle, contract_view  # noqa: E402

__all__ = [
    "BundleResult",
    "Calibration",
    "CheckpointError",
    "CollapseReport",
    "Contract",
    "ConversionError",
    "ConversionResult",
    "ConverterUnavailable",
    "ExportSpec",
    "ShapePolicy",
    "DatasetError",
    "DownloadError",
    "EdgeSRError",
    "ImageError",
    "Int8Recipe",
    "ModelDescriptor",
    "OptionError",
    "ReportRequest",
    "TimingPolicy",
    "UnknownArchitectureError",
    "VerificationError",
    "ZooError",
    "__version__",
    "bundle",
    "collapse",
    "contract_view",
    "convert",
    "load",
    "build_report",
    "save_deploy_checkpoint",
    "upscale",
    "write_report",
]
