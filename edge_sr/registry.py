"""The architecture registry: an explicit list of networks that recognise their own checkpoints.

Each :class:`Architecture` looks at a state_dict's keys and shapes, says whether the layout is
its own, infers the hyper-parameters (widths, block counts, scale, form) and builds a module
whose keys match the file exactly.  Nothing registers itself: the registry is the tuple passed
to :class:`ArchitectureRegistry` in ``edge_sr/archs/__init__.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import torch
from torch import nn

from edge_sr.errors import CheckpointError, UnknownArchitectureError

FORMS = ("train", "deploy")
TRAIN_ONLY_HYPERPARAMETERS = frozenset(
    {"conv3xc_gain", "conv3xc_stale_eval_conv", "lora", "edbb_variant", "edbb_seq_channels"}
)


@dataclass(frozen=True, kw_only=True)
class LoadOptions:
    """Facts a file cannot tell about itself; ``None`` means "not given"."""

    edbb_variant: str | None = None
    lora_weights: str | None = None
    lora_scaling: float | None = None


@dataclass(frozen=True, kw_only=True)
class Detection:
    """What an architecture read from a state_dict: form, scale and hyper-parameters.

    ``hyperparameters`` holds only JSON-serialisable values, so it can be written into reports
    and contracts as it is.
    """

    form: str
    scale: int
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.form not in FORMS:
            raise ValueError(f"form must be one of {FORMS}, got {self.form!r}")


class Architecture(ABC):
    """One network family: detection from keys, module construction, deploy-form facts."""

    name: str
    title: str
    min_input_size: int = 1
    """Smallest LR height/width the network accepts (EFDN's attention needs 15 px)."""
    min_dynamic_input_size: int = 1
    """Smallest size a dynamic-shape export can promise (graph capture must rule out degenerate
    sizes, e.g. EFDN's pooled attention map collapsing to one pixel)."""

    @abstractmethod
    def owns(self, keys: frozenset[str]) -> bool:
        """Cheap test on the key names alone: is this layout ours?"""

    @abstractmethod
    def detect(
        self, state: Mapping[str, torch.Tensor], *, options: LoadOptions, source: str
    ) -> Detection:
        """Infer form, scale and hyper-parameters; raise CheckpointError/OptionError if unfit."""

    @abstractmethod
    def build(self, detection: Detection) -> nn.Module:
        """A module with freshly initialised weights whose state_dict keys match the file."""

    def deploy_detection(self, detection: Detection) -> Detection:
        """The detection of this network's deploy form (train-only facts dropped)."""
        deploy_only = {
            k: v
            for k, v in detection.hyperparameters.items()
            if k not in TRAIN_ONLY_HYPERPARAMETERS
        }
        return Detection(form="deploy", scale=detection.scale, hyperparameters=deploy_only)


class ArchitectureRegistry:
    """An ordered, explicit collection of architectures."""

    def __init__(self, architectures: Iterable[Architecture]) -> None:
        self._architectures = tuple(architectures)
        names = [a.name for a in self._architectures]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate architecture names in {names}")

    def __iter__(self):
        return iter(self._architectures)

    def names(self) -> list[str]:
        return [a.name for a in self._architectures]

    def get(self, name: str) -> Architecture:
        for arch in self._architectures:
            if arch.name == name:
                return arch
        raise KeyError(f"unknown architecture {name!r}; registered: {', '.join(self.names())}")

    def identify(self, state: Mapping[str, torch.Tensor], *, source: str) -> Architecture:
        keys = frozenset(state)
        owners = [a for a in self._architectures if a.owns(keys)]
        if len(owners) == 1:
            return owners[0]
        if len(owners) > 1:
            raise UnknownArchitectureError(
                f"{source}: ambiguous layout: {', '.join(a.name for a in owners)} all claim it"
            )
        sample = ", ".join(sorted(keys)[:4])
        raise UnknownArchitectureError(
            f"{source}: unknown network layout: expected one of {', '.join(self.names())}, "
            f"found {len(keys)} keys none of them recognises (e.g. {sample})"
        )


def load_strict(module: nn.Module, state: Mapping[str, torch.Tensor], *, source: str) -> None:
    """``load_state_dict(strict=True)`` with one-line errors naming the first offending keys."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} keys (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} keys (e.g. {', '.join(unexpected[:3])})")
        raise CheckpointError(f"{source}: keys do not match the detected network: {'; '.join(parts)}")
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise CheckpointError(
                f"{source}: {key} has shape {tuple(tensor.shape)}, expected "
                f"{tuple(expected[key].shape)} for the detected network"
            )
    module.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=True)
