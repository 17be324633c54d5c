"""``collapse``: fold every re-parameterisation and LoRA branch into plain convolutions."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from edge_sr._files import atomic_output
from edge_sr.archs import REGISTRY
from edge_sr.archs.blocks.fold import folded_state_dict
from edge_sr.complexity import Complexity, measure
from edge_sr.descriptor import ModelDescriptor
from edge_sr.errors import VerificationError
from edge_sr.registry import Detection, load_strict
from edge_sr.tolerances import COLLAPSE_FP32, Tolerance

CHECK_SIZE = (37, 41)
"""Odd height and width, so border handling and odd shapes are exercised by every check."""
CHECK_SEED = 0


def random_check_image(height: int, width: int, *, seed: int = CHECK_SEED) -> torch.Tensor:
    """Seeded random NCHW RGB in [0, 1] with natural-image statistics.

    A smooth random field (bilinear upsampling of coarse noise) plus mild pixel noise.  White
    noise is a poor probe: trained SR networks answer it with outputs in the hundreds, where
    float32 rounding alone exceeds any sensible tolerance, while the same fold agrees to
    ~1e-6 on images.
    """
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, max(2, height // 4), max(2, width // 4), generator=generator)
    smooth = torch.nn.functional.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)
    return (smooth + 0.05 * torch.randn(1, 3, height, width, generator=generator)).clamp(0.0, 1.0)


@dataclass(frozen=True)
class CollapseReport:
    before: Complexity
    after: Complexity
    max_abs_diff: float
    bound: float
    tolerance: str
    check_shape: tuple[int, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "parameters_before": self.before.parameters,
            "parameters_after": self.after.parameters,
            "macs_before": self.before.macs,
            "macs_after": self.after.macs,
            "flop_input_size": self.after.input_size,
            "max_abs_diff": self.max_abs_diff,
            "bound": self.bound,
            "tolerance": self.tolerance,
            "check_shape": list(self.check_shape),
        }


def collapse(
    descriptor: ModelDescriptor,
    *,
    check_input: torch.Tensor | None = None,
    tolerance: Tolerance = COLLAPSE_FP32,
) -> ModelDescriptor:
    """A new deploy-form descriptor whose module is made only of plain ops.

    Conv3XC branches, every EDBB variant and ConvLoRA updates are folded in float64.  The
    result is run against ``descriptor.module`` on ``check_input`` (default:
    :func:`random_check_image` of ``CHECK_SIZE``) and a :class:`VerificationError` is raised unless the
    outputs agree within ``tolerance``.  The source descriptor is never modified.
    """
    arch = REGISTRY.get(descriptor.arch)
    source_detection = Detection(
        form=descriptor.form, scale=descriptor.scale, hyperparameters=descriptor.hyperparameters
    )
    deploy_detection = arch.deploy_detection(source_detection)
    deployed = arch.build(deploy_detection)
    load_strict(deployed, folded_state_dict(descriptor.module), source=f"{descriptor.source} (folded)")
    deployed.eval().requires_grad_(False)

    if check_input is None:
        check_input = random_check_image(*CHECK_SIZE)
    with torch.inference_mode():
        reference = descriptor.module(check_input)
        candidate = deployed(check_input)
    holds, diff, bound = tolerance.check(candidate, reference)
    if not holds:
        raise VerificationError(
            f"{descriptor.source}: collapsed {descriptor.arch} differs from its source by {diff:.3g} "
            f"(tolerance {tolerance.name}: {bound:.3g}) on a {tuple(check_input.shape)} input"
        )
    report = CollapseReport(
        before=measure(descriptor.module),
        after=measure(deployed),
        max_abs_diff=diff,
        bound=bound,
        tolerance=tolerance.name,
        check_shape=tuple(check_input.shape),
    )
    return dataclasses.replace(
        descriptor,
        module=deployed,
        form="deploy",
        hyperparameters=dict(deploy_detection.hyperparameters),
        collapse_report=report,
    )


def save_deploy_checkpoint(descriptor: ModelDescriptor, path: str | os.PathLike) -> Path:
    """Write a deploy-form descriptor's state_dict (plain tensors) atomically to ``path``."""
    if descriptor.form != "deploy":
        raise VerificationError(f"{path}: expected a deploy-form model to save, found {descriptor.form} form")
    state = {k: v.detach().clone().contiguous() for k, v in descriptor.module.state_dict().items()}
    with atomic_output(path) as temporary:
        torch.save(state, temporary)
    return Path(path)
