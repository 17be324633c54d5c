"""``load``: a checkpoint file or zoo name in, a ready ModelDescriptor out."""

from __future__ import annotations

import os
from pathlib import Path

from edge_sr import zoo
from edge_sr.archs import REGISTRY
from edge_sr.checkpoint import read_state_dict, sha256_of
from edge_sr.descriptor import ModelDescriptor
from edge_sr.errors import CheckpointError, OptionError
from edge_sr.registry import LoadOptions, load_strict


def load(
    source: str | os.PathLike,
    *,
    edbb_variant: str | None = None,
    lora_weights: str | None = None,
    lora_scaling: float | None = None,
) -> ModelDescriptor:
    """Load a checkpoint file or zoo model name into a :class:`ModelDescriptor`.

    The architecture and its hyper-parameters are detected from the state_dict's keys and
    shapes; the tensors must match the detected network exactly (strict keys and shapes).
    Only ``weights_only`` loading is used.

    Facts a file cannot state about itself:

    - ``edbb_variant``: for EFDN train-form files, the EDBB branch set (``"plain"`` or ``"gv"``,
      see :class:`edge_sr.archs.blocks.edbb.EDBBBranches`).
    - ``lora_weights``: for files with LoRA factors, ``"unmerged"`` (``weight`` excludes the
      update) or ``"merged"`` (saved after an in-place merge: the factors are then ignored).
      Required when the factors hold a non-zero update.
    - ``lora_scaling``: alpha / rank of the LoRA layers (default 2.0, DSCLoRA's).
    """
    text = os.fspath(source)
    path = Path(text)
    zoo_name = None
    # A folder named like a zoo model (an output folder, say) does not shadow the model.
    if not path.is_file():
        if zoo.is_zoo_name(text):
            zoo_name = zoo.entry(text).name
            path = zoo.resolve(text)
        else:
            found = "a folder" if path.is_dir() else "no such file"
            raise CheckpointError(
                f"{text}: expected a checkpoint file or a zoo model name (known: {', '.join(zoo.names())}), found {found}"
            )
    state, wrapper = read_state_dict(path)
    shown = str(path)
    arch = REGISTRY.identify(state, source=shown)
    options = LoadOptions(edbb_variant=edbb_variant, lora_weights=lora_weights, lora_scaling=lora_scaling)
    detection = arch.detect(state, options=options, source=shown)
    if edbb_variant is not None and "edbb_variant" not in detection.hyperparameters:
        raise OptionError(
            f"{shown}: edbb_variant applies to EFDN train-form checkpoints only; this file is "
            f"{arch.name} ({detection.form} form)"
        )
    module = arch.build(detection)
    load_strict(module, state, source=shown)
    module.eval().requires_grad_(False)
    return ModelDescriptor(
        module=module,
        arch=arch.name,
        scale=detection.scale,
        form=detection.form,
        sha256=sha256_of(path),
        source=zoo_name or shown,
        hyperparameters=dict(detection.hyperparameters),
        min_input_size=arch.min_input_size,
        zoo_name=zoo_name,
        wrapper=wrapper,
    )
