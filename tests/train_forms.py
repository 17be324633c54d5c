"""Train-form networks with seeded random weights, saved as users' checkpoints would be.

Weights are perturbed from the constructors' initialisation with a fixed seed so every branch
(including LoRA factors and the EDBB scales, which start near zero) carries a real signal, and
the output conv is scaled so outputs are O(1) like a trained SR network's.
"""

from __future__ import annotations

from pathlib import Path

import torch

from edge_sr.archs import REGISTRY
from edge_sr.registry import Detection

SPAN48_TRAIN = Detection(
    form="train",
    scale=4,
    hyperparameters={
        "channels": 48, "blocks": 6, "cat_channels": 48, "image_channels": 3,
        "conv3xc_gain": 2, "conv3xc_stale_eval_conv": True,
    },
)
SPANF_TRAIN = Detection(
    form="train", scale=4,
    hyperparameters={"channels": 32, "blocks": 5, "image_channels": 3, "conv3xc_gain": 2, "conv3xc_stale_eval_conv": True},
)


def efdn_train(variant: str, scale: int = 4) -> Detection:
    return Detection(
        form="train", scale=scale,
        hyperparameters={
            "features": 48, "esa_channels": 12, "branch_channels": 24, "image_channels": 3,
            "edbb_variant": variant, "edbb_seq_channels": 96,
        },
    )


def dsclora_train(weights: str = "unmerged") -> Detection:
    ranks = {f"block_{i}.c{k}_r.eval_conv": 2 for i in range(1, 7) for k in (1, 2, 3)}
    ranks.update({"conv_2.eval_conv": 8, "upsampler.0": 8})
    return Detection(
        form="train", scale=4,
        hyperparameters={
            "channels": 26, "blocks": 6, "cat_channels": 26, "image_channels": 3,
            "lora": {"ranks": ranks, "scaling": 2.0, "weights": weights},
        },
    )


def build_random(arch: str, detection: Detection, *, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    module = REGISTRY.get(arch).build(detection).eval()
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if name.endswith("mask"):
                continue
            parameter.add_(torch.randn_like(parameter) * 0.02)
        for name, parameter in module.named_parameters():
            if name.startswith(("upsampler.0", "conv_2.", "tail.0")) and not name.endswith("mask"):
                parameter.mul_(0.1)
    return module


def save_random(path: Path, arch: str, detection: Detection, *, seed: int = 0) -> Path:
    module = build_random(arch, detection, seed=seed)
    torch.save(module.state_dict(), path)
    return path


def save_dsclora(path: Path, span_tiny_checkpoint: Path, *, seed: int = 0, update: float = 0.01) -> Path:
    """A DSCLoRA train-form file as its authors had it: the published SPAN-Tiny weights as the
    frozen base, plus seeded LoRA factors whose update changes the weights by a few percent."""
    base = torch.load(span_tiny_checkpoint, map_location="cpu", weights_only=True)
    module = REGISTRY.get("span").build(dsclora_train())
    state = module.state_dict()
    generator = torch.Generator().manual_seed(seed)
    for key in state:
        if key.endswith("lora_A"):
            fan_in = state[key].shape[1]
            state[key] = (torch.rand(state[key].shape, generator=generator) * 2 - 1) / fan_in**0.5
        elif key.endswith("lora_B"):
            state[key] = torch.randn(state[key].shape, generator=generator) * update
        else:
            state[key] = base[key].clone()
    torch.save(state, path)
    return path
