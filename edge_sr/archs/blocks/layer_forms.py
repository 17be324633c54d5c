"""Which form each re-parameterisable layer of a SPAN-family checkpoint is stored in.

SPAN-family files come in three forms, told apart by their keys:

- deploy: ``<layer>.eval_conv.{weight,bias}`` (one 3x3 conv per Conv3XC);
- Conv3XC train form: ``<layer>.sk.*`` and ``<layer>.conv.{0,1,2}.*`` (plus a stale
  ``eval_conv``);
- ConvLoRA train form: deploy keys plus ``lora_A`` / ``lora_B`` on some convs (DSCLoRA).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import torch
from torch import nn

from edge_sr.archs.blocks.conv3xc import Conv3XCDeploy, Conv3XCTrain
from edge_sr.archs.blocks.lora import LoRAConv2d
from edge_sr.errors import CheckpointError, OptionError
from edge_sr.registry import Detection, LoadOptions

LORA_WEIGHT_STATES = ("unmerged", "merged")
DSCLORA_SCALING = 2.0
"""alpha / rank of every published DSCLoRA layer (rank 2 alpha 4; rank 8 alpha 16)."""


@dataclass(frozen=True)
class LayerForms:
    """How to build each re-parameterisable layer; empty ``lora_ranks`` means no LoRA."""

    conv3xc_train: bool = False
    conv3xc_gain: int = 2
    conv3xc_stale_eval_conv: bool = True
    lora_ranks: Mapping[str, int] = field(default_factory=dict)
    lora_scaling: float = DSCLORA_SCALING
    lora_weights: str = "unmerged"

    @property
    def is_train(self) -> bool:
        return self.conv3xc_train or bool(self.lora_ranks)

    def conv3xc(self, name: str, c_in: int, c_out: int, kernel_size: int = 3) -> nn.Module:
        if self.conv3xc_train:
            if kernel_size != 3:
                raise CheckpointError(
                    f"{name}: expected a 3x3 Conv3XC for the train form, found {kernel_size}x{kernel_size}"
                )
            return Conv3XCTrain(
                c_in, c_out, gain=self.conv3xc_gain, stale_eval_conv=self.conv3xc_stale_eval_conv
            )
        return Conv3XCDeploy(self.conv(f"{name}.eval_conv", c_in, c_out, kernel_size))

    def conv(self, name: str, c_in: int, c_out: int, kernel_size: int, bias: bool = True) -> nn.Module:
        if name in self.lora_ranks:
            return LoRAConv2d(
                c_in,
                c_out,
                kernel_size,
                rank=self.lora_ranks[name],
                scaling=self.lora_scaling,
                weights_hold_update=self.lora_weights == "merged",
            )
        return nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=bias)

    def as_hyperparameters(self) -> dict[str, object]:
        facts: dict[str, object] = {}
        if self.conv3xc_train:
            facts["conv3xc_gain"] = self.conv3xc_gain
            facts["conv3xc_stale_eval_conv"] = self.conv3xc_stale_eval_conv
        if self.lora_ranks:
            facts["lora"] = {
                "ranks": dict(self.lora_ranks),
                "scaling": self.lora_scaling,
                "weights": self.lora_weights,
            }
        return facts

    @classmethod
    def from_hyperparameters(cls, hyperparameters: Mapping[str, object]) -> "LayerForms":
        lora = hyperparameters.get("lora") or {}
        return cls(
            conv3xc_train="conv3xc_gain" in hyperparameters,
            conv3xc_gain=int(hyperparameters.get("conv3xc_gain", 2)),
            conv3xc_stale_eval_conv=bool(hyperparameters.get("conv3xc_stale_eval_conv", True)),
            lora_ranks=dict(lora.get("ranks", {})),
            lora_scaling=float(lora.get("scaling", DSCLORA_SCALING)),
            lora_weights=str(lora.get("weights", "unmerged")),
        )


def detect_layer_forms(
    state: Mapping[str, torch.Tensor],
    *,
    conv3xc_names: list[str],
    source: str,
    lora_weights: str | None,
    lora_scaling: float | None,
) -> LayerForms:
    """Read the form of every Conv3XC (and LoRA factors anywhere) from ``state``'s keys."""
    train = [n for n in conv3xc_names if f"{n}.sk.weight" in state]
    if train and len(train) != len(conv3xc_names):
        deploy = [n for n in conv3xc_names if n not in train]
        raise CheckpointError(
            f"{source}: expected every Conv3XC in one form, found train-form {train[0]} "
            f"beside deploy-form {deploy[0]}"
        )
    gain = 2
    if train:
        first = state[f"{train[0]}.conv.0.weight"]
        gain = first.shape[0] // first.shape[1]

    lora_ranks: dict[str, int] = {}
    factor_b: list[torch.Tensor] = []
    for key, tensor in state.items():
        if key.endswith(".lora_A"):
            layer = key[: -len(".lora_A")]
            weight = state.get(f"{layer}.weight")
            if weight is None or weight.dim() != 4 or f"{layer}.lora_B" not in state:
                raise CheckpointError(
                    f"{source}: expected {layer}.weight (4-D) and {layer}.lora_B beside "
                    f"{key}, found them missing"
                )
            k = weight.shape[-1]
            lora_ranks[layer] = tensor.shape[0] // k
            factor_b.append(state[f"{layer}.lora_B"])

    if not lora_ranks:
        if lora_weights is not None or lora_scaling is not None:
            raise OptionError(
                f"{source}: LoRA options were given, but the file holds no lora_A/lora_B factors"
            )
        stale = all(f"{n}.eval_conv.weight" in state for n in train)
        return LayerForms(conv3xc_train=bool(train), conv3xc_gain=gain, conv3xc_stale_eval_conv=stale)

    if train:
        raise CheckpointError(
            f"{source}: expected LoRA factors on deploy-form convs only, found them beside "
            "train-form Conv3XC branches"
        )
    if lora_weights is None:
        if any(bool(b.any()) for b in factor_b):
            raise OptionError(
                f"{source}: holds LoRA factors with a non-zero update, and a file saved after an "
                "in-place merge looks the same as one saved before it; pass lora_weights='unmerged' "
                "(weights exclude the update) or 'merged' (weights already include it)"
            )
        lora_weights = "unmerged"  # lora_B == 0: the update is zero either way
    if lora_weights not in LORA_WEIGHT_STATES:
        raise OptionError(
            f"lora_weights {lora_weights!r}: expected one of {', '.join(LORA_WEIGHT_STATES)}"
        )
    scaling = DSCLORA_SCALING if lora_scaling is None else float(lora_scaling)
    return LayerForms(lora_ranks=lora_ranks, lora_scaling=scaling, lora_weights=lora_weights)


def span_family_detection(
    state: Mapping[str, torch.Tensor],
    *,
    conv3xc_names: list[str],
    scale: int,
    hyperparameters: Mapping[str, object],
    options: LoadOptions,
    source: str,
) -> Detection:
    """The Detection of a SPAN-family file: its own facts plus the forms of its Conv3XC/LoRA layers."""
    forms = detect_layer_forms(
        state,
        conv3xc_names=conv3xc_names,
        source=source,
        lora_weights=options.lora_weights,
        lora_scaling=options.lora_scaling,
    )
    return Detection(
        form="train" if forms.is_train else "deploy",
        scale=scale,
        hyperparameters={**hyperparameters, **forms.as_hyperparameters()},
    )
