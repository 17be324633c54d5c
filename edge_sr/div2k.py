"""DIV2K: the official layout and names, local discovery, verified downloads, calibration crops.

Layout (as the archives unpack): ``DIV2K_{train,valid}_HR/0001.png`` and
``DIV2K_{train,valid,test}_LR_bicubic/X{2,3,4}/0001x4.png``; images 0001-0800 are train,
0801-0900 valid, 0901-1000 test (whose HR images were never published).  The root is
``$EDGE_SR_DATA/div2k`` (or ``$EDGE_SR_DATA`` itself when the DIV2K folders sit there).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from PIL import Image

from edge_sr.download import download_verified
from edge_sr.errors import DatasetError, DownloadError

SPLITS = ("train", "valid", "test")
SCALES = (2, 3, 4)
INDEX_RANGES = {"train": (1, 800), "valid": (801, 900), "test": (901, 1000)}
BASE_URL = "https://data.vision.ee.ethz.ch/cvl/DIV2K"


def hr_dir(root: Path, split: str) -> Path:
    if split == "test":
        raise DatasetError("DIV2K test HR images were never published: expected split 'train' or 'valid'")
    return root / f"DIV2K_{split}_HR"


def lr_dir(root: Path, split: str, scale: int) -> Path:
    return root / f"DIV2K_{split}_LR_bicubic" / f"X{scale}"


def lr_name(index: int, scale: int) -> str:
    return f"{index:04d}x{scale}.png"


@dataclass(frozen=True, kw_only=True)
class Archive:
    """An official DIV2K archive; ``sha256``/``bytes`` are None where no checksum is published."""

    name: str
    sha256: str | None = None
    bytes: int | None = None

    @property
    def url(self) -> str:
        return f"{BASE_URL}/{self.name}"


# Checksums as recorded by TensorFlow Datasets for the archives it mirrors; the DIV2K site
# publishes none.  Archives without one must be given a sha256 by the caller.
ARCHIVES: dict[str, Archive] = {
    a.name: a
    for a in (
        Archive(name="DIV2K_train_HR.zip", bytes=3530603713, sha256="9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335"),
        Archive(name="DIV2K_valid_HR.zip", bytes=448993893, sha256="20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc"),
        Archive(name="DIV2K_train_LR_bicubic_X2.zip", bytes=925390592, sha256="a53a424317575838dadce4bcd97cf7b744d6855f43740ed5f0245af3cf4bd850"),
        Archive(name="DIV2K_valid_LR_bicubic_X2.zip", bytes=117763600, sha256="60eed9875c697df51204aa579e2a699e1d5215095788a097ff54dd17e2664d57"),
        *(Archive(name=f"DIV2K_{split}_LR_bicubic_X{scale}.zip") for split in SPLITS for scale in SCALES if (split, scale) not in (("train", 2), ("valid", 2))),
    )
}


def find_root(root: str | os.PathLike | None = None) -> Path:
    """The DIV2K root: ``root`` if given, else ``$EDGE_SR_DATA/div2k`` or ``$EDGE_SR_DATA``."""
    if root is not None:
        return Path(root)
    data = os.environ.get("EDGE_SR_DATA")
    if not data:
        raise DatasetError("EDGE_SR_DATA is not set: expected it to name the folder holding div2k/")
    for candidate in (Path(data) / "div2k", Path(data)):
        if any(candidate.glob("DIV2K_*")):
            return candidate
    raise DatasetError(f"{data}: expected DIV2K folders (DIV2K_<split>_HR or DIV2K_<split>_LR_bicubic) in div2k/ or itself, found none")


def lr_images(*, split: str = "test", scale: int = 4, root: str | os.PathLike | None = None) -> list[Path]:
    """The LR images present locally for ``split`` and ``scale``, by index."""
    if split not in SPLITS or scale not in SCALES:
        raise DatasetError(f"DIV2K has splits {SPLITS} and scales {SCALES}; asked for {split!r} x{scale}")
    folder = lr_dir(find_root(root), split, scale)
    first, last = INDEX_RANGES[split]
    images = [folder / lr_name(i, scale) for i in range(first, last + 1) if (folder / lr_name(i, scale)).is_file()]
    if not images:
        raise DatasetError(f"{folder}: expected DIV2K {split} x{scale} LR images named like {lr_name(first, scale)}, found none")
    return images


def download(name: str, root: str | os.PathLike, *, sha256: str | None = None, progress=None) -> Path:
    """Download (resuming if interrupted) and unpack an official archive into ``root``."""
    archive = ARCHIVES.get(name)
    if archive is None:
        raise DownloadError(f"{name}: not an official DIV2K archive; known: {', '.join(sorted(ARCHIVES))}")
    expected = archive.sha256 or sha256
    if expected is None:
        raise DownloadError(f"{name}: no published checksum; pass the sha256 you expect to verify the download")
    target = Path(root)
    path = download_verified(
        os.environ.get("EDGE_SR_DIV2K_MIRROR", BASE_URL).rstrip("/") + "/" + name,
        target / name,
        sha256=expected,
        size=archive.bytes,
        resume=True,
        progress=progress,
    )
    with zipfile.ZipFile(path) as bundle:
        for member in bundle.namelist():
            if member.startswith("/") or ".." in Path(member).parts:
                raise DownloadError(f"{path}: refusing archive member {member!r} outside the target folder")
        bundle.extractall(target)
    return path


def calibration_batches(
    images: list[Path], *, count: int, crop: int, seed: int, batch_size: int = 1, candidates: int = 1
) -> Iterator[torch.Tensor]:
    """``count`` deterministic crops (one per image, images cycled in order), batched.

    Each crop is the most detailed of ``candidates`` seeded random positions in its image (the
    largest mean absolute difference between neighbouring pixels); ``candidates=1`` gives plain
    random crops.  Quantisation ranges and the refit must cover sharp high-contrast edges: random
    crops of photographs are mostly smooth, and an int8 ESPAN calibrated on them lost 3.4 dB on
    an Urban100 façade (2.2 dB with the most detailed of 32).

    Each batch is NCHW float32 RGB in [0, 1] (pixel / 255).  The same arguments always give
    the same crops: positions come from a numpy generator seeded with ``seed``.
    """
    if count < 1 or crop < 1 or batch_size < 1 or candidates < 1:
        raise DatasetError(
            f"calibration needs positive count, crop, batch size and candidates; got {count}, {crop}, {batch_size}, {candidates}"
        )
    if not images:
        raise DatasetError("calibration needs at least one image")
    rng = np.random.default_rng(seed)
    batch: list[torch.Tensor] = []
    for index in range(count):
        path = images[index % len(images)]
        pixels = np.asarray(Image.open(path).convert("RGB"))
        height, width = pixels.shape[:2]
        if height < crop or width < crop:
            raise DatasetError(f"{path}: {width}x{height} px is smaller than the {crop}x{crop} calibration crop")
        best_detail, patch = -1.0, None
        for _ in range(candidates):
            top, left = int(rng.integers(0, height - crop + 1)), int(rng.integers(0, width - crop + 1))
            window = pixels[top : top + crop, left : left + crop].astype(np.float32)
            detail = float(np.abs(np.diff(window, axis=0)).mean() + np.abs(np.diff(window, axis=1)).mean())
            if detail > best_detail:
                best_detail, patch = detail, window
        batch.append(torch.from_numpy(np.ascontiguousarray(patch.transpose(2, 0, 1) / 255.0)))
        if len(batch) == batch_size:
            yield torch.stack(batch)
            batch = []
    if batch:
        yield torch.stack(batch)
