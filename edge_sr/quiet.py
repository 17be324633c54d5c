"""Keeping third-party chatter out of edge-sr's own output (the CLI and its worker processes)."""

from __future__ import annotations

import logging
import os
import warnings


def quiet_libraries() -> None:
    """SDK chatter (missing optional CUDA kernels, deprecations) would bury edge-sr's own lines.

    Worker processes start with fresh warning filters, so they call this too.  EDGE_SR_DEBUG=1
    keeps everything.
    """
    if os.environ.get("EDGE_SR_DEBUG"):
        return
    # TensorFlow Lite's native logging (oneDNN and absl banners) reads this when it loads.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for name in ("torchao", "torch", "executorch", "coremltools", "onnxscript"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
