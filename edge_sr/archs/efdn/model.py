"""EFDN (Edge-enhanced Feature Distillation Network), x2/x4, with EDBB in train or deploy form."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from edge_sr.archs.blocks.edbb import EDBBBranches, EDBBDeploy, EDBBTrain

CELLS = 4
"""The published top-level wiring (three local fusions, the last reusing cell 2) fixes 4 cells."""


@dataclass(frozen=True, kw_only=True)
class EFDNConfig:
    features: int
    esa_channels: int
    branch_channels: int
    scale: int
    image_channels: int = 3
    edbb_branches: EDBBBranches | None = None
    """None builds the deploy form (``rep_conv`` only)."""
    edbb_seq_channels: int = 0


class ESA(nn.Module):
    """Enhanced spatial attention: a strided, max-pooled gate resized back to the input."""

    def __init__(self, features: int, reduced: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(features, reduced, 1)
        self.conv_f = nn.Conv2d(reduced, reduced, 1)
        self.conv_max = nn.Conv2d(reduced, reduced, 3, padding=1)
        self.conv2 = nn.Conv2d(reduced, reduced, 3, stride=2, padding=0)
        self.conv3 = nn.Conv2d(reduced, reduced, 3, padding=1)
        self.conv3_ = nn.Conv2d(reduced, reduced, 3, padding=1)
        self.conv4 = nn.Conv2d(reduced, features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        reduced = self.conv1(x)
        pooled = F.max_pool2d(self.conv2(reduced), kernel_size=7, stride=3)
        gate = F.relu(self.conv_max(pooled))
        gate = self.conv3_(F.relu(self.conv3(gate)))
        gate = F.interpolate(gate, size=(x.shape[2], x.shape[3]), mode="bilinear", align_corners=False)
        return x * torch.sigmoid(self.conv4(gate + self.conv_f(reduced)))


class PointwisePReLU(nn.Module):
    """``act(conv1x1(x))``: the first conv of a cell."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.conv1x1 = nn.Conv2d(features, features, 1)
        self.act = nn.PReLU(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.conv1x1(x))


class Cell(nn.Module):
    def __init__(self, config: EFDNConfig) -> None:
        super().__init__()
        n, b = config.features, config.branch_channels
        self.conv1 = PointwisePReLU(n)
        if config.edbb_branches is None:
            self.conv2, self.conv3 = EDBBDeploy(n, n), EDBBDeploy(n, n)
        else:
            make = lambda: EDBBTrain(  # noqa: E731
                n, n, seq_mid=config.edbb_seq_channels, branches=config.edbb_branches
            )
            self.conv2, self.conv3 = make(), make()
        self.fuse = nn.Conv2d(4 * b, n, 1)
        self.att = ESA(n, config.esa_channels)
        self.branch = nn.ModuleList([nn.Conv2d(n, b, 1) for _ in range(4)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out1 = self.conv1(x)
        out2 = self.conv2(out1)
        out3 = self.conv3(out2)
        distilled = [branch(t) for branch, t in zip(self.branch, (x, out1, out2, out3))]
        return self.att(self.fuse(torch.cat(distilled, 1))) + x


class EFDN(nn.Module):
    """Input NCHW float32 RGB in [0, 1], at least 15 px per side (ESA's stride-2 conv then a
    7x7 max-pool); output NCHW RGB clamped to [0, 1], scale x larger.

    ESA pools over the whole image, so tiles cannot reproduce whole-image output exactly.
    """

    def __init__(self, config: EFDNConfig) -> None:
        super().__init__()
        n, rgb, s = config.features, config.image_channels, config.scale
        self.head = nn.Conv2d(rgb, n, 3, padding=1)
        self.cells = nn.ModuleList([Cell(config) for _ in range(CELLS)])
        self.local_fuse = nn.ModuleList([nn.Conv2d(2 * n, n, 1) for _ in range(3)])
        self.tail = nn.Sequential(nn.Conv2d(n, rgb * s * s, 3, padding=1), nn.PixelShuffle(s))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out0 = self.head(x)
        out1 = self.cells[0](out0)
        out2 = self.cells[1](out1)
        out3 = self.cells[2](self.local_fuse[0](torch.cat([out1, out2], 1)))
        out4 = self.cells[3](self.local_fuse[1](torch.cat([out2, out3], 1)))
        # The published wiring fuses out2 (not out3) with out4 here.
        fused = self.local_fuse[2](torch.cat([out2, out4], 1))
        return self.tail(fused + out0).clamp(0.0, 1.0)
