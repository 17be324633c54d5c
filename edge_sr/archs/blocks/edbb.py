"""EDBB, EFDN's edge-enhanced diverse branch block, in train and deploy form."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from edge_sr.archs.blocks.fold import FoldableBlock, center_tap
from edge_sr.errors import OptionError


@dataclass(frozen=True)
class EDBBBranches:
    """Which parallel branches an EDBB sums before its PReLU.

    A state_dict stores every branch's tensors whether the forward used them or not, so the
    branch set cannot be read from a file: the user names it with ``edbb_variant``.
    """

    conv1x1: bool
    seq_1x1_3x3: bool
    identity: bool

    # Always present in both published variants: the 3x3 conv and the three scaled filters.
    PRESETS = {"plain": (True, False, False), "gv": (False, False, True)}
    MODIFIERS = {"+1x1-3x3": "seq_1x1_3x3", "+identity": "identity"}

    @classmethod
    def parse(cls, text: str) -> "EDBBBranches":
        """``"plain"``, ``"gv"``, or ``"plain"`` followed by ``+1x1-3x3`` and/or ``+identity``."""
        base, _, rest = text.partition("+")
        if base not in cls.PRESETS:
            raise OptionError(cls._bad(text))
        conv1x1, seq, identity = cls.PRESETS[base]
        for modifier in filter(None, rest.split("+")):
            field = cls.MODIFIERS.get("+" + modifier)
            if base != "plain" or field is None:
                raise OptionError(cls._bad(text))
            if field == "seq_1x1_3x3":
                seq = True
            else:
                identity = True
        return cls(conv1x1=conv1x1, seq_1x1_3x3=seq, identity=identity)

    @staticmethod
    def _bad(text: str) -> str:
        return (
            f"edbb_variant {text!r}: expected 'plain' or 'gv' (or 'plain' with '+1x1-3x3' "
            "and/or '+identity')"
        )

    def name(self) -> str:
        if self == EDBBBranches(conv1x1=False, seq_1x1_3x3=False, identity=True):
            return "gv"
        suffix = ("+1x1-3x3" if self.seq_1x1_3x3 else "") + ("+identity" if self.identity else "")
        return "plain" + suffix


def _sobel_x() -> torch.Tensor:
    return torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])


def _laplacian() -> torch.Tensor:
    return torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


class Seq1x1Then3x3(nn.Module):
    """``k1 (3x3, valid) over pad_with_b0(k0 x + b0)``; keys ``k0, b0, k1, b1``."""

    def __init__(self, c_in: int, c_mid: int, c_out: int) -> None:
        super().__init__()
        self.k0 = nn.Parameter(torch.randn(c_mid, c_in, 1, 1) * (1.0 / c_in) ** 0.5)
        self.b0 = nn.Parameter(torch.zeros(c_mid))
        self.k1 = nn.Parameter(torch.randn(c_out, c_mid, 3, 3) * (1.0 / (9 * c_mid)) ** 0.5)
        self.b1 = nn.Parameter(torch.zeros(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mid = _pad_with_bias(F.conv2d(x, self.k0, self.b0), self.b0)
        return F.conv2d(mid, self.k1, self.b1)

    def equivalent_3x3(self) -> tuple[torch.Tensor, torch.Tensor]:
        k0, b0 = self.k0.double()[:, :, 0, 0], self.b0.double()
        k1, b1 = self.k1.double(), self.b1.double()
        return torch.einsum("omuv,mi->oiuv", k1, k0), k1.sum(dim=(2, 3)) @ b0 + b1


class ScaledFilter(nn.Module):
    """1x1 conv, then a fixed depthwise 3x3 ``mask`` times a per-channel ``scale``, plus ``bias``.

    Keys ``k0, b0, scale, bias, mask``; ``mask`` is a frozen parameter (Sobel-x, Sobel-y or
    Laplacian) and is read from the file like the rest.
    """

    def __init__(self, c_in: int, c_out: int, mask: torch.Tensor) -> None:
        super().__init__()
        self.k0 = nn.Parameter(torch.randn(c_out, c_in, 1, 1) * (1.0 / c_in) ** 0.5)
        self.b0 = nn.Parameter(torch.zeros(c_out))
        self.scale = nn.Parameter(torch.randn(c_out, 1, 1, 1) * 1e-3)
        self.bias = nn.Parameter(torch.randn(c_out) * 1e-3)
        self.mask = nn.Parameter(mask.expand(c_out, 1, 3, 3).clone(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mid = _pad_with_bias(F.conv2d(x, self.k0, self.b0), self.b0)
        return F.conv2d(mid, self.scale * self.mask, self.bias, groups=self.k0.shape[0])

    def equivalent_3x3(self) -> tuple[torch.Tensor, torch.Tensor]:
        depthwise = (self.scale.double() * self.mask.double())[:, 0]  # (O, 3, 3)
        k0, b0 = self.k0.double()[:, :, 0, 0], self.b0.double()
        kernel = depthwise[:, None, :, :] * k0[:, :, None, None]
        return kernel, depthwise.sum(dim=(1, 2)) * b0 + self.bias.double()


def _pad_with_bias(y: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    # Padding the 1x1 output with its bias equals zero-padding its input: the fold relies on it.
    padded = F.pad(y, (1, 1, 1, 1))
    border = F.pad(torch.zeros_like(y[:1, :1]), (1, 1, 1, 1), value=1.0)
    return padded + border * bias.view(1, -1, 1, 1)


class EDBBTrain(FoldableBlock):
    """Train form: the chosen branches summed, then a per-channel PReLU ``act``.

    Branch tensors (``rep_conv``, ``conv1x1``, ``conv1x1_3x3``, ``conv1x1_sbx``, ``conv1x1_sby``,
    ``conv1x1_lpl``) all exist so that files load with strict keys; ``branches`` says which ones
    the forward sums.  The fold is derived from the same ``branches``, so forward and fold cannot
    disagree (one published implementation adds the identity in forward but not in its fold).
    """

    def __init__(self, c_in: int, c_out: int, *, seq_mid: int, branches: EDBBBranches) -> None:
        super().__init__()
        if branches.identity and c_in != c_out:
            raise OptionError(
                f"edbb_variant {branches.name()!r}: the identity branch needs equal in and out "
                f"channels, found {c_in} -> {c_out}"
            )
        self.branches = branches
        self.rep_conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv1x1 = nn.Conv2d(c_in, c_out, 1)
        self.conv1x1_3x3 = Seq1x1Then3x3(c_in, seq_mid, c_out)
        self.conv1x1_sbx = ScaledFilter(c_in, c_out, _sobel_x())
        self.conv1x1_sby = ScaledFilter(c_in, c_out, _sobel_x().t().contiguous())
        self.conv1x1_lpl = ScaledFilter(c_in, c_out, _laplacian())
        self.act = nn.PReLU(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.rep_conv(x) + self.conv1x1_sbx(x) + self.conv1x1_sby(x) + self.conv1x1_lpl(x)
        if self.branches.conv1x1:
            y = y + self.conv1x1(x)
        if self.branches.seq_1x1_3x3:
            y = y + self.conv1x1_3x3(x)
        if self.branches.identity:
            y = y + x
        return self.act(y)

    def folded_state_dict(self) -> dict[str, torch.Tensor]:
        kernel = self.rep_conv.weight.double()
        bias = self.rep_conv.bias.double()
        for branch in (self.conv1x1_sbx, self.conv1x1_sby, self.conv1x1_lpl):
            k, b = branch.equivalent_3x3()
            kernel, bias = kernel + k, bias + b
        if self.branches.conv1x1:
            kernel = kernel + center_tap(self.conv1x1.weight.double(), 3)
            bias = bias + self.conv1x1.bias.double()
        if self.branches.seq_1x1_3x3:
            k, b = self.conv1x1_3x3.equivalent_3x3()
            kernel, bias = kernel + k, bias + b
        if self.branches.identity:
            channels = kernel.shape[0]
            kernel = kernel.clone()
            kernel[torch.arange(channels), torch.arange(channels), 1, 1] += 1.0
        dtype = self.rep_conv.weight.dtype
        return {
            "rep_conv.weight": kernel.to(dtype),
            "rep_conv.bias": bias.to(dtype),
            "act.weight": self.act.weight.detach().clone(),
        }


class EDBBDeploy(nn.Module):
    """Deploy form: ``act(rep_conv(x))`` with a 3x3 conv and a per-channel PReLU."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.rep_conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.act = nn.PReLU(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.rep_conv(x))
