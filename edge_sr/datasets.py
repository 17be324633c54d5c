"""Finding evaluation images: benchmark folders (``HR/``) and the DIV2K layout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge_sr.errors import DatasetError

IMAGE_SUFFIXES = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")
DIV2K_SPLITS = ("valid", "train")


@dataclass(frozen=True)
class EvalPair:
    """One evaluation image: the HR file, and the LR file when the dataset ships one."""

    name: str
    hr: Path
    lr: Path | None


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _pair_with_lr(hr_files: list[Path], lr_folder: Path | None, scale: int) -> list[EvalPair]:
    pairs = []
    for hr in hr_files:
        lr = None
        if lr_folder is not None:
            candidate = lr_folder / f"{hr.stem}x{scale}{hr.suffix}"
            if not candidate.is_file():
                raise DatasetError(f"{candidate}: expected the LR image for {hr.name}, found nothing")
            lr = candidate
        pairs.append(EvalPair(name=hr.stem, hr=hr, lr=lr))
    return pairs


def discover(root: str | Path, *, scale: int) -> tuple[str, list[EvalPair]]:
    """Return ``(layout, pairs)`` for ``root``.

    Layouts, tried in order:

    - ``benchmark``: ``root/HR/*.png``, with ``root/LR_bicubic/X{s}/<stem>x{s}.png`` used when
      that folder exists (otherwise LR is made from HR);
    - ``div2k``: ``root/DIV2K_{valid,train}_HR/`` and ``root/DIV2K_<split>_LR_bicubic/X{s}/``;
    - ``folder``: images directly in ``root``, treated as HR.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: expected a dataset folder, found no such directory")
    if (root / "HR").is_dir():
        hr_files = _images(root / "HR")
        lr_folder = root / "LR_bicubic" / f"X{scale}"
        layout, pairs = "benchmark", _pair_with_lr(hr_files, lr_folder if lr_folder.is_dir() else None, scale)
    else:
        split = next((s for s in DIV2K_SPLITS if (root / f"DIV2K_{s}_HR").is_dir()), None)
        if split is not None:
            hr_files = _images(root / f"DIV2K_{split}_HR")
            lr_folder = root / f"DIV2K_{split}_LR_bicubic" / f"X{scale}"
            layout, pairs = "div2k", _pair_with_lr(hr_files, lr_folder if lr_folder.is_dir() else None, scale)
        else:
            layout, pairs = "folder", _pair_with_lr(_images(root), None, scale)
    if not pairs:
        raise DatasetError(
            f"{root}: expected HR images under HR/, DIV2K_<split>_HR/ or the folder itself, found none"
        )
    return layout, pairs
