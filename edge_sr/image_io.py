"""Reading and writing images for the networks.

Tensor contract on the model side: NCHW float32 RGB in [0, 1].  Files on disk may be RGB,
RGBA, grayscale (with or without alpha), palette, CMYK, 8- or 16-bit; output keeps the input's
kind (grayscale stays grayscale, alpha is kept, 16-bit stays 16-bit where the format allows).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from edge_sr._files import atomic_output
from edge_sr.errors import ImageError

SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
WRITABLE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}


@dataclass(frozen=True)
class LoadedImage:
    """``rgb``: HxWx3 float32 in [0, 1]; ``alpha``: HxW float32 in [0, 1] or None."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    grayscale: bool
    bits: int
    note: str | None = None
    """Something the user should know about how the file was read (e.g. precision lost)."""

    def tensor(self) -> torch.Tensor:
        """NCHW float32 RGB in [0, 1], batch 1."""
        return torch.from_numpy(np.ascontiguousarray(self.rgb.transpose(2, 0, 1)))[None]


def _open(path: Path) -> Image.Image:
    if not path.is_file():
        raise ImageError(f"{path}: no such image file")
    try:
        image = Image.open(path)
        image.load()
    except UnidentifiedImageError:
        raise ImageError(
            f"{path}: cannot read image: expected a format Pillow reads (PNG, JPEG, BMP, TIFF, "
            "WebP, ...), found unrecognised data"
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"{path}: cannot read image: the file is damaged or truncated ({exc})") from None
    return image


def _png_colour_depth(path: Path) -> int | None:
    """Bits per sample of a colour PNG (from IHDR), or None for other files."""
    with open(path, "rb") as stream:
        head = stream.read(26)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    bit_depth, colour_type = head[24], head[25]
    return bit_depth if colour_type in (2, 6) else None


def read_image(path: str | os.PathLike) -> LoadedImage:
    """Read any image Pillow opens into RGB float [0, 1] (+ alpha), remembering its kind."""
    path = Path(path)
    image = _open(path)
    mode = image.mode
    note = None
    if _png_colour_depth(path) == 16:
        # Pillow decodes 16-bit colour PNGs to 8 bits per channel; say so rather than hide it.
        note = f"{path}: 16-bit colour PNG read at 8 bits per channel (Pillow's limit); output is 8-bit"
    if mode in SIXTEEN_BIT_MODES or mode == "F":
        data = np.asarray(image, dtype=np.float64)
        if mode == "F":
            peak, bits = 1.0, 16
        else:
            peak, bits = (65535.0, 16) if data.max(initial=0) > 255 or mode != "I" else (255.0, 8)
        grey = np.clip(data / peak, 0.0, 1.0).astype(np.float32)
        return LoadedImage(rgb=np.repeat(grey[..., None], 3, axis=2), alpha=None, grayscale=True, bits=bits)
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode == "1":
        image, mode = image.convert("L"), "L"
    if mode == "PA":
        image, mode = image.convert("RGBA"), "RGBA"
    alpha = None
    if mode in ("RGBA", "LA"):
        alpha = np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
    grayscale = mode in ("L", "LA")
    if grayscale:
        grey = np.asarray(image.getchannel(0), dtype=np.float32) / 255.0
        rgb = np.repeat(grey[..., None], 3, axis=2)
    else:
        try:
            rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
        except (ValueError, OSError) as exc:
            raise ImageError(f"{path}: cannot convert image mode {mode} to RGB ({exc})") from None
    return LoadedImage(rgb=rgb, alpha=alpha, grayscale=grayscale, bits=8, note=note)


def read_rgb_uint8(path: str | os.PathLike) -> np.ndarray:
    """HxWx3 uint8 RGB, as evaluation uses it (grayscale replicated, alpha dropped)."""
    loaded = read_image(path)
    if loaded.bits != 8:
        raise ImageError(f"{path}: expected an 8-bit image for evaluation, found {loaded.bits}-bit")
    return np.floor(loaded.rgb * 255.0 + 0.5).astype(np.uint8)


def output_format(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in WRITABLE_SUFFIXES:
        raise ImageError(
            f"{path}: cannot write images with suffix {suffix or '(none)'!r}; expected one of "
            f"{', '.join(sorted(WRITABLE_SUFFIXES))}"
        )
    return WRITABLE_SUFFIXES[suffix]


def write_image(path: str | os.PathLike, rgb: torch.Tensor, *, like: LoadedImage) -> None:
    """Write NCHW (batch 1) float RGB, clamped to [0, 1], in the kind of image ``like`` was.

    Alpha, when ``like`` has it, is resized to the output size with bicubic resampling.
    """
    fmt = output_format(path)
    array = rgb[0].detach().clamp(0.0, 1.0).permute(1, 2, 0).cpu().numpy().astype(np.float64)
    if like.grayscale:
        grey = array @ np.array([0.299, 0.587, 0.114])
        if like.bits == 16:
            if fmt not in ("PNG", "TIFF"):
                raise ImageError(f"{path}: {fmt} cannot store 16-bit grayscale; write .png or .tif")
            out = Image.fromarray(np.floor(grey * 65535.0 + 0.5).astype(np.uint16))
        else:
            out = Image.fromarray(np.floor(grey * 255.0 + 0.5).astype(np.uint8))
    else:
        out = Image.fromarray(np.floor(array * 255.0 + 0.5).astype(np.uint8))
    _save(path, out, fmt, like=like)


def write_pixels(path: str | os.PathLike, pixels: np.ndarray, *, like: LoadedImage) -> None:
    """Write HxWx3 uint8 RGB in the kind of image ``like`` was (8-bit: pixels carry no more).

    For outputs assembled tile by tile, where a float copy of the whole image would not fit.
    """
    fmt = output_format(path)
    if like.grayscale:
        weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
        grey = np.empty(pixels.shape[:2], dtype=np.uint8)
        for row in range(0, pixels.shape[0], 1024):  # bounded float scratch for huge images
            band = pixels[row : row + 1024].astype(np.float32) @ weights
            grey[row : row + 1024] = np.floor(band + 0.5).clip(0, 255).astype(np.uint8)
        out = Image.fromarray(grey)
    else:
        out = Image.fromarray(pixels)
    _save(path, out, fmt, like=like)


def _save(path: str | os.PathLike, out: Image.Image, fmt: str, *, like: LoadedImage) -> None:
    if like.alpha is not None:
        if fmt in ("JPEG", "BMP"):
            raise ImageError(f"{path}: {fmt} cannot store the input's alpha channel; write .png, .tif or .webp")
        alpha = Image.fromarray(np.floor(like.alpha * 255.0 + 0.5).astype(np.uint8))
        alpha = alpha.resize(out.size, Image.Resampling.BICUBIC)
        out = out.convert("LA" if out.mode == "L" else "RGBA")
        out.putalpha(alpha)
    with atomic_output(path) as temporary:
        out.save(temporary, format=fmt)
