"""What an export should produce: precision, shape policy, layout, and (later) a quantisation recipe."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from edge_sr.errors import OptionError
from edge_sr.quant.recipe import Int8Recipe

PRECISIONS = ("fp32", "fp16", "int8")
LAYOUTS = ("nchw", "nhwc")
SHAPE_KINDS = ("fixed", "dynamic", "enumerated")
DEFAULT_SIZE = (256, 256)
"""The size the field measures at (FLOPs and runtimes are quoted at 256x256 LR)."""
DYNAMIC_MIN, DYNAMIC_MAX = 16, 1024


def parse_size(text: str) -> tuple[int, int]:
    """``"HxW"`` -> (H, W)."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise OptionError(f"input size {text!r}: expected HxW, e.g. 256x256")
    height, width = int(match.group(1)), int(match.group(2))
    if height < 1 or width < 1:
        raise OptionError(f"input size {text!r}: height and width must be positive")
    return height, width


@dataclass(frozen=True, kw_only=True)
class ShapePolicy:
    """``fixed`` (one size), ``enumerated`` (a list of sizes) or ``dynamic`` (any H, W in a range)."""

    kind: str = "fixed"
    sizes: tuple[tuple[int, int], ...] = (DEFAULT_SIZE,)
    min_size: int = DYNAMIC_MIN
    max_size: int = DYNAMIC_MAX

    def __post_init__(self) -> None:
        if self.kind not in SHAPE_KINDS:
            raise OptionError(f"shape policy {self.kind!r}: expected one of {', '.join(SHAPE_KINDS)}")
        if self.kind != "dynamic" and not self.sizes:
            raise OptionError(f"shape policy {self.kind}: needs at least one size")
        if self.kind == "fixed" and len(self.sizes) != 1:
            raise OptionError("a fixed shape policy takes exactly one size")

    @classmethod
    def fixed(cls, height: int, width: int) -> "ShapePolicy":
        return cls(kind="fixed", sizes=((height, width),))

    @classmethod
    def dynamic(cls, *, min_size: int = DYNAMIC_MIN, max_size: int = DYNAMIC_MAX) -> "ShapePolicy":
        return cls(kind="dynamic", sizes=(), min_size=min_size, max_size=max_size)

    @classmethod
    def enumerated(cls, sizes: list[tuple[int, int]]) -> "ShapePolicy":
        return cls(kind="enumerated", sizes=tuple(sorted(set(sizes))))

    def export_size(self) -> tuple[int, int]:
        """The example size used to trace/export."""
        return self.sizes[0] if self.sizes else (64, 64)

    def check_sizes(self) -> list[tuple[int, int]]:
        """Sizes verification runs at: every listed size, or two for dynamic (one odd)."""
        if self.kind == "dynamic":
            return [(64, 96), (37, 53)]
        return list(self.sizes)

    def as_dict(self) -> dict[str, object]:
        facts: dict[str, object] = {"kind": self.kind, "sizes": [list(s) for s in self.sizes]}
        if self.kind == "dynamic":
            facts.update(min_size=self.min_size, max_size=self.max_size)
        return facts


@dataclass(frozen=True, kw_only=True)
class ExportSpec:
    """Everything about the artifact that is not the network itself."""

    precision: str = "fp32"
    shape: ShapePolicy = field(default_factory=ShapePolicy)
    layout: str = "nchw"
    image_io: bool = False
    """CoreML only: image input/output (CVPixelBuffer) instead of tensors."""
    recipe: Int8Recipe | None = None
    """INT8 only: the quantisation recipe (default recipe when None)."""

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise OptionError(f"precision {self.precision!r}: expected one of {', '.join(PRECISIONS)}")
        if self.precision == "int8" and self.recipe is None:
            object.__setattr__(self, "recipe", Int8Recipe())
        if self.precision != "int8" and self.recipe is not None:
            raise OptionError(f"a quantisation recipe applies to int8 only, not {self.precision}")
        if self.layout not in LAYOUTS:
            raise OptionError(f"layout {self.layout!r}: expected one of {', '.join(LAYOUTS)}")

    def as_dict(self) -> dict[str, object]:
        return {
            "precision": self.precision,
            "shape": self.shape.as_dict(),
            "layout": self.layout,
            "image_io": self.image_io,
            **({"recipe": self.recipe.to_dict()} if self.recipe is not None else {}),
        }
