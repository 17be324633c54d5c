"""Named numeric tolerances.

Every numeric transformation edge-sr performs is checked against its source with one of these,
in code and in tests, so a number in a report can always be traced to the rule it passed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Tolerance:
    """A bound on ``max |candidate - reference|``: ``atol + rtol * max |reference|``.

    The relative part keeps the bound meaningful for train-form networks with random weights,
    whose outputs are not confined to [0, 1]; for a trained SR network it is negligible.
    """

    name: str
    atol: float
    rtol: float
    meaning: str

    def bound(self, reference: torch.Tensor) -> float:
        return self.atol + self.rtol * float(reference.detach().abs().max())

    def check(self, candidate: torch.Tensor, reference: torch.Tensor) -> tuple[bool, float, float]:
        """Return ``(holds, max_abs_difference, bound)``."""
        if candidate.shape != reference.shape:
            return False, float("inf"), self.bound(reference)
        diff = float((candidate.detach().double() - reference.detach().double()).abs().max())
        bound = self.bound(reference)
        return diff <= bound, diff, bound


def verify_equivalent(
    original: "torch.nn.Module", rewritten: "torch.nn.Module", sample: torch.Tensor, *, tolerance: Tolerance, what: str
) -> float:
    """Run both modules on ``sample``; return the max abs difference or raise VerificationError."""
    from edge_sr.errors import VerificationError

    with torch.inference_mode():
        reference, candidate = original(sample), rewritten(sample)
    holds, diff, bound = tolerance.check(candidate, reference)
    if not holds:
        raise VerificationError(f"{what}: changed the output by {diff:.3g} (tolerance {tolerance.name}: {bound:.3g})")
    return diff


COLLAPSE_FP32 = Tolerance(
    name="collapse-fp32",
    atol=1e-4,
    rtol=1e-5,
    meaning="deploy-form (collapsed) network vs its train-form source, float32, same input",
)
"""Folding is exact in real arithmetic; float32 rounding of the folded kernels leaves ~1e-6."""
