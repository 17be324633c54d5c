"""Small helpers for reading hyper-parameters off a state_dict's keys and shapes."""

from __future__ import annotations

import math
import re
from typing import Mapping

import torch

from edge_sr.errors import CheckpointError


def indexed_prefixes(keys: frozenset[str] | Mapping[str, object], pattern: str) -> list[int]:
    """Sorted integers N for which some key starts with ``pattern.format(N)``.

    ``pattern`` holds one ``{}``, e.g. ``"block_{}."`` or ``"cells.{}."``.
    """
    head, tail = pattern.split("{}")
    regex = re.compile(re.escape(head) + r"(\d+)" + re.escape(tail))
    found = {int(m.group(1)) for k in keys if (m := regex.match(k))}
    return sorted(found)


def tensor(state: Mapping[str, torch.Tensor], key: str, *, source: str, dims: int) -> torch.Tensor:
    value = state.get(key)
    if value is None:
        raise CheckpointError(f"{source}: expected key {key}, found it missing")
    if value.dim() != dims:
        raise CheckpointError(
            f"{source}: expected {key} to be {dims}-D, found shape {tuple(value.shape)}"
        )
    return value


def conv_shape(
    state: Mapping[str, torch.Tensor], layer: str, *, source: str
) -> tuple[int, int, int]:
    """(out_channels, in_channels, kernel_size) of a conv stored at ``layer``.

    Understands plain convs (``layer.weight``) and Conv3XC in either form (``layer.eval_conv``
    or ``layer.sk`` + ``layer.conv.1``).
    """
    if f"{layer}.sk.weight" in state:
        sk = tensor(state, f"{layer}.sk.weight", source=source, dims=4)
        return sk.shape[0], sk.shape[1], tensor(state, f"{layer}.conv.1.weight", source=source, dims=4).shape[-1]
    key = f"{layer}.eval_conv.weight" if f"{layer}.eval_conv.weight" in state else f"{layer}.weight"
    weight = tensor(state, key, source=source, dims=4)
    return weight.shape[0], weight.shape[1], weight.shape[-1]


def scale_from_channels(out_channels: int, *, image_channels: int, source: str, key: str) -> int:
    """The pixel-shuffle scale s for a conv producing ``image_channels * s**2`` channels."""
    squared, remainder = divmod(out_channels, image_channels)
    scale = math.isqrt(squared)
    if remainder or scale * scale != squared or scale < 1:
        raise CheckpointError(
            f"{source}: expected {key} to produce {image_channels}*s^2 channels for a pixel "
            f"shuffle, found {out_channels}"
        )
    return scale


def require_equal(found: int, expected: int, *, what: str, source: str) -> None:
    if found != expected:
        raise CheckpointError(f"{source}: expected {what} = {expected}, found {found}")


def numbered_blocks(state: Mapping[str, torch.Tensor], pattern: str, *, source: str) -> list[int]:
    """Indices 1..N of the blocks named by ``pattern`` (e.g. ``"block_{}."``), which must be consecutive."""
    found = indexed_prefixes(state, pattern)
    if not found or found != list(range(1, len(found) + 1)):
        raise CheckpointError(
            f"{source}: expected blocks {pattern.format(1)}..{pattern.format('N')} numbered from 1 "
            f"without gaps, found {found or 'none'}"
        )
    return found
