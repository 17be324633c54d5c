"""ModelDescriptor: a loaded network plus the facts every later step needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
from torch import nn

from edge_sr.errors import ImageError


@dataclass(frozen=True, kw_only=True)
class ModelDescriptor:
    """A network ready to run, and what edge-sr knows about it.

    ``module`` is in eval mode with gradients off.  Its contract: input NCHW float32 RGB in
    [0, 1] (batch any, height/width >= ``min_input_size``); output NCHW float32 RGB, about
    [0, 1] (SPAN-family networks do not clamp), ``scale`` times larger in height and width.
    """

    module: nn.Module
    arch: str
    scale: int
    form: str
    """``"train"`` (re-parameterisation or LoRA branches present) or ``"deploy"`` (plain convs)."""
    sha256: str
    """sha256 of the checkpoint file the weights came from."""
    source: str
    """The file path, or the zoo name it was resolved from."""
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    min_input_size: int = 1
    zoo_name: str | None = None
    wrapper: str = "plain"
    """How the file stored its tensors (``plain``, ``params_ema``, ``state_dict+module.``...)."""
    collapse_report: Any = None
    """A :class:`edge_sr.collapse.CollapseReport` when this descriptor came from ``collapse``."""

    def check_input(self, x: torch.Tensor, *, what: str = "input") -> None:
        """Raise ImageError unless ``x`` is NCHW with 3 channels and large enough."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ImageError(f"{what}: expected an NCHW tensor with 3 channels, found shape {tuple(x.shape)}")
        height, width = x.shape[2], x.shape[3]
        if min(height, width) < self.min_input_size:
            raise ImageError(
                f"{what} is {width}x{height} px; {self.arch} needs at least "
                f"{self.min_input_size} px per side"
            )

    def run(self, x: torch.Tensor) -> torch.Tensor:
        """Run the network on NCHW float32 RGB in [0, 1]; returns the raw (unclamped) output."""
        self.check_input(x)
        with torch.inference_mode():
            return self.module(x.float())

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable facts (no weights)."""
        return {
            "arch": self.arch,
            "scale": self.scale,
            "form": self.form,
            "sha256": self.sha256,
            "source": self.source,
            "zoo_name": self.zoo_name,
            "hyperparameters": dict(self.hyperparameters),
            "min_input_size": self.min_input_size,
        }
