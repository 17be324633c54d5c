"""Reading checkpoint files safely and unwrapping them to a flat tensor state_dict."""

from __future__ import annotations

import hashlib
import os
import pickle
import zipfile
from pathlib import Path

import torch

from edge_sr.errors import CheckpointError

# Priority order: ``params_ema`` first because that is what the NTIRE harness (and BasicSR)
# evaluates when a file holds both it and ``params``.
WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model")
DATA_PARALLEL_PREFIX = "module."


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


ZIP_MAGIC = b"PK\x03\x04"
PICKLE_MAGIC = b"\x80"
KNOWN_MAGIC = {b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image", b"\x7fELF": "an executable"}


def _sniff(path: Path) -> None:
    """Refuse files that are not a torch.save archive (zip) or legacy pickle, naming what they are."""
    with open(path, "rb") as stream:
        head = stream.read(8)
    if head.startswith(ZIP_MAGIC):
        if not zipfile.is_zipfile(path):
            raise CheckpointError(
                f"{path}: not a readable PyTorch checkpoint: expected a torch.save file, "
                "found a truncated or corrupt archive"
            )
        return
    if head.startswith(PICKLE_MAGIC):
        return
    found = next((what for magic, what in KNOWN_MAGIC.items() if head.startswith(magic)), None)
    if found is None:
        try:
            head.decode("utf-8")
            found = "text"
        except UnicodeDecodeError:
            found = "unrecognised binary data"
    raise CheckpointError(f"{path}: not a PyTorch checkpoint: expected a torch.save file, found {found}")


def _load_untrusted(path: Path) -> object:
    """``torch.load`` with ``weights_only=True``: a pickle that would run code is refused."""
    _sniff(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "Weights only load failed" in first_line or "Unsupported global" in str(exc):
            raise CheckpointError(
                f"{path}: refused to load: the pickle asks to construct objects beyond plain "
                "tensors and containers (it could run code); expected a weights-only state_dict"
            ) from None
        raise CheckpointError(
            f"{path}: not a PyTorch checkpoint: expected a torch.save file, "
            f"found data pickle cannot read ({first_line})"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "central directory" in text or "zip archive" in text or isinstance(exc, EOFError):
            found = "a truncated or corrupt archive"
        else:
            found = text
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint: expected a torch.save file, found {found}"
        ) from None


def _unwrap(obj: object, path: Path) -> tuple[dict[str, torch.Tensor], str]:
    wrapper = "plain"
    for _ in range(3):  # wrappers nest at most a couple of levels in the wild
        if not isinstance(obj, dict):
            break
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            break
        inner = next((k for k in WRAPPER_KEYS if isinstance(obj.get(k), dict)), None)
        if inner is None:
            break
        obj = obj[inner]
        wrapper = inner if wrapper == "plain" else f"{wrapper}/{inner}"
    if not isinstance(obj, dict) or not obj:
        found = type(obj).__name__ if not isinstance(obj, dict) else "an empty dict"
        raise CheckpointError(
            f"{path}: expected a state_dict (a dict of tensors, possibly under "
            f"{'/'.join(WRAPPER_KEYS)}), found {found}"
        )
    not_tensors = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(
            f"{path}: expected a state_dict of tensors, found non-tensor entries "
            f"{', '.join(map(str, not_tensors[:4]))}"
        )
    state = {str(k): v for k, v in obj.items()}
    if all(k.startswith(DATA_PARALLEL_PREFIX) for k in state):
        state = {k[len(DATA_PARALLEL_PREFIX) :]: v for k, v in state.items()}
        wrapper = f"{wrapper}+module."
    return state, wrapper


def read_state_dict(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], str]:
    """Read ``path`` with ``weights_only=True`` and return ``(state_dict, wrapper)``.

    ``wrapper`` names how the tensors were stored: ``"plain"``, ``"params_ema"``,
    ``"state_dict+module."``, ...  Raises :class:`CheckpointError` for anything that is not
    a weights-only state_dict.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: expected a PyTorch checkpoint, found an empty file")
    return _unwrap(_load_untrusted(path), path)
