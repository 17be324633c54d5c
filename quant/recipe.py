"""Quantisation recipes as data: frozen, validated, versioned, serialisable.

A recipe says *what* to quantise and how to calibrate; a handler per target (selected by the
recipe's type and the target) says *how* a given SDK does it, and must say which parts of a
recipe it cannot honour rather than drop them silently.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from edge_sr.errors import OptionError

RECIPE_SCHEMA = "edge-sr/quant-recipe"
RECIPE_VERSION = 9
"""2 added ``calibration.crop_candidates`` (version-1 recipes read as 1: plain random crops);
3 added ``equalize`` (older recipes read as ``False``: they were built without it); 4 added
``max_flat_shift_levels`` (older recipes read as ``None``: their fallback saw natural images only);
5 added ``compose_pointwise`` (older recipes read as ``"never"``); 6 made it a choice (version-5
``true`` reads as ``"always"``, ``false`` as ``"never"``); 7 added ``compose_max_grey_shift_levels``
(older recipes read as ``None``: their choice was the bound's alone); 8 added
``calibration.threads`` (older recipes read as ``None``: built on the process's thread count); 9
added ``float_weights`` (older recipes read as ``"fp32"``)."""
_ADDED_FIELDS = (
    (2, True, "crop_candidates", 1),
    (3, False, "equalize", False),
    (4, False, "max_flat_shift_levels", None),
    (5, False, "compose_pointwise", "never"),
    (7, False, "compose_max_grey_shift_levels", None),
    (8, True, "threads", None),
    (9, False, "float_weights", "fp32"),
)
"""``(version that added it, a ``calibration`` field?, field, what older recipes were built with)``."""
VISIBLE_SHIFT_LEVELS = 8.0
"""A flat area's mean off by more than this many 8-bit levels (3 % of full scale) is a colour
cast anyone sees side by side: the CLI warns, and the fallback keeps layers in float until flat
areas are within it.  All-int8 grey shifts stay under it (SPAN ch28 3.0, EFDN 5.3); saturated
colours of all-int8 artifacts do not (64–97 levels measured)."""
RANGE_ESTIMATORS = ("minmax", "percentile", "mse", "entropy")
COMPOSE_POINTWISE = ("auto", "always", "never")
FLOAT_WEIGHTS = ("fp16", "fp32")
WEIGHT_ROUNDINGS = ("nearest", "refit")
"""``nearest``: the target's own rounding; ``refit``: :mod:`edge_sr.quant.refit` (weights, biases,
and the activation quantisation each conv sees)."""
REFERENCE_PSNR_DB_BY_SCALE = {2: 33.5, 3: 30.0, 4: 28.0}
"""Float Y PSNR the predicted drop is stated at, per scale, when the recipe names none: what an
efficient network reaches on Set14 (EFDN x2 33.4 dB, SPAN ch28 x4 28.4 dB).  The same output
noise costs more dB where the float error is smaller, so one figure for every scale under-states
the drop of x2 networks ~3×: at 28 dB all-int8 EFDN x2 was predicted to lose 0.11 dB and lost
0.27 (Set14) / 0.39 dB (Urban100) in ExecuTorch.  Measured at x4 on SPAN ch28 in ExecuTorch: full
W8A8 is predicted at 0.52 dB and loses 0.17 (BSD100) to 0.32 dB (Urban100); with a 0.05 dB
budget the prediction was 0.027 dB and the benchmarks lost 0.009 (BSD100) to 0.032 dB (Set5,
whose float PSNR, 31.7 dB, is above the reference)."""

CALIBRATION_SOURCES = ("div2k",)
"""Named sources; any other value is a folder of images."""


@dataclass(frozen=True, kw_only=True)
class Calibration:
    """Which images calibrate activation ranges: ``images`` deterministic ``crop`` crops (seeded)."""

    source: str = "div2k"
    images: int = 32
    crop: int = 128
    seed: int = 0
    validation_images: int = 12
    """Held-out source images (never calibration images) that fallback decisions are measured on."""
    crop_candidates: int = 32
    """Each crop is the most detailed of this many seeded positions in its image; 1 = random
    crops.  Measured on all-int8 ESPAN in simulation: 32 took the Set14 / Urban100 (first 25)
    drop from 0.30 / 0.31 to 0.23 / 0.24 dB and its worst Urban100 image from 3.4 to 2.2 dB."""
    threads: int | None = 1
    """PyTorch threads the whole build (:func:`edge_sr.quant.flow.build_int8`: calibration, refit,
    fallback, reconstruction) runs on.  Its float sums are split by thread, so the artifact
    follows this count: on two threads EFDN x2's LiteRT build calibrated to other ranges than on
    one and kept a different network.  1 gives the same artifact on any machine's core count (for
    a given CPU and library versions); more is faster and reproducible only on that many.  None:
    the process's count."""

    def __post_init__(self) -> None:
        if self.images < 1 or self.crop < 8:
            raise OptionError(f"calibration: expected images >= 1 and crop >= 8, found {self.images} and {self.crop}")
        if not 1 <= self.crop_candidates <= 1024:
            raise OptionError(f"calibration: expected crop_candidates in 1..1024, found {self.crop_candidates}")
        if self.validation_images < 1:
            raise OptionError(f"calibration: expected validation_images >= 1, found {self.validation_images}")
        if self.threads is not None and not 1 <= self.threads <= 1024:
            raise OptionError(f"calibration: expected threads in 1..1024 or None, found {self.threads}")


@dataclass(frozen=True, kw_only=True)
class Int8Recipe:
    """W8A8: weights int8 per-channel symmetric, activations int8 per-tensor (affine).

    ``keep_float`` names layers (module paths such as ``"upsampler.0"``) left in higher
    precision; ``fold_normalization`` folds SPAN's ``(x - mean) * 255`` into the first conv
    first (exact, border included) so the first activation range is not dominated by ±143.
    ``image_grid_io`` quantises the network's input and output on the 8-bit image grid (scale
    1/255, zero point −128, i.e. [0, 1]) instead of calibrated ranges: lossless for 8-bit input
    images, and the output grid is exactly the clamp-×255-round every consumer applies, so the
    output quantisation costs nothing (a calibrated output range re-rounds on a different grid).
    """

    weight_bits: int = 8
    weight_granularity: str = "per-channel"
    weight_symmetric: bool = True
    activation_bits: int = 8
    activation_granularity: str = "per-tensor"
    activation_symmetric: bool = False
    range_estimator: str = "mse"
    percentile: float = 99.99
    calibration: Calibration = field(default_factory=Calibration)
    keep_float: tuple[str, ...] = ()
    fold_normalization: bool = True
    equalize: bool = True
    """Rescale activation channels exactly so each tensor's channels share one range
    (:mod:`edge_sr.quant.equalize`)."""
    compose_pointwise: str = "auto"
    """Compose each 1×1 conv with the convs whose sum it reads (exact,
    :func:`edge_sr.quant.passes.compose_pointwise_convs`), so the tensor between them is never
    quantised: ``"always"``, ``"never"``, or ``"auto"``: calibrate and refit both networks and keep
    the one whose all-int8 network has the lower predicted drop bound on the held-out images
    (see ``compose_max_grey_shift_levels``).  Composition helps SPAN ch28, DSCLoRA and EFDN and
    hurts EFDN x2 and DSCF-Fused; ``auto`` costs a second calibration and refit where the network
    has something to compose."""
    compose_max_grey_shift_levels: float | None = VISIBLE_SHIFT_LEVELS
    """For ``compose_pointwise="auto"``: a network whose simulated mean output on flat greys sits
    more than this many 8-bit levels from the float network's loses to one within it, whatever
    their bounds.  The held-out bound cannot see a grey cast: all-int8 EFDN x2's two networks are
    within 0.002 dB on it, yet composed its greys are 8.2 / 9.3 levels off (LiteRT / ExecuTorch
    quantiser) against 4.2 / 5.2 apart, and it loses 0.07 / 0.10 dB more on Set14.  None: the
    bound alone."""
    float_weights: str = "fp16"
    """How the convs left in float (``keep_float``, the fallback's choice) hold their weights.
    ``"fp16"``: rounded to float16 values in the build, before calibration, so the fallback
    measures the network the artifact computes; targets that can store them as float16 do
    (LiteRT: FLOAT16 constants behind a DEQUANTIZE, which CPU runtimes expand once at load;
    ONNX: float16 initializers behind a Cast; CoreML computes in fp16 anyway), the rest store
    the same values in fp32 (ExecuTorch, whose XNNPACK float convs take fp32 weights) and say
    so.  A float conv's weights are most of a mixed artifact's bytes: SPAN ch28's 0.1-dB LiteRT
    artifact held 428 KB of them in a 496 KB file.  ``"fp32"``: as trained."""
    image_grid_io: bool = True
    weight_rounding: str = "refit"
    reconstruction_steps: int = 0
    """Steps of output reconstruction (:mod:`edge_sr.quant.reconstruct`) after the refit; 0 skips it."""
    reconstruction_learning_rate: float = 3e-4
    max_psnr_drop: float | None = 0.1
    """Float fallback budget (dB); None quantises every layer.  Compared with the drop predicted
    at ``reference_psnr_db`` from the output noise on the held-out validation images
    (:class:`edge_sr.quant.validation.DropPredictor`)."""
    reference_psnr_db: float | None = None
    """Float Y PSNR of the content the budget is stated for; higher is stricter.  None: the
    model's scale decides (:data:`REFERENCE_PSNR_DB_BY_SCALE`, Set14-level content)."""
    max_flat_shift_levels: float | None = VISIBLE_SHIFT_LEVELS
    """The fallback's second bound, with ``max_psnr_drop``: how far (8-bit levels) the simulated
    network's mean output on flat greys and flat saturated colours may sit from the float
    network's (:func:`edge_sr.quant.accuracy.flat_field`, :func:`~edge_sr.quant.accuracy.flat_colours`).
    Natural images never hold saturated colours, so a budget met on them says nothing about
    graphics, where all-int8 artifacts are 64–97 levels off.  None: natural images only.  No
    effect without a fallback (``max_psnr_drop=None`` quantises every layer)."""
    version: int = RECIPE_VERSION

    def __post_init__(self) -> None:
        if self.version != RECIPE_VERSION:
            raise OptionError(f"quantisation recipe version {self.version}: this edge-sr reads version {RECIPE_VERSION}")
        if (self.weight_bits, self.activation_bits) != (8, 8):
            raise OptionError(f"recipe: expected 8-bit weights and activations, found {self.weight_bits}/{self.activation_bits}")
        if self.weight_granularity not in ("per-channel", "per-tensor"):
            raise OptionError(f"recipe: weight_granularity {self.weight_granularity!r}: expected per-channel or per-tensor")
        if self.activation_granularity != "per-tensor":
            raise OptionError(f"recipe: activation_granularity {self.activation_granularity!r}: only per-tensor is supported")
        if self.range_estimator not in RANGE_ESTIMATORS:
            raise OptionError(f"recipe: range_estimator {self.range_estimator!r}: expected one of {', '.join(RANGE_ESTIMATORS)}")
        if not 50.0 < self.percentile <= 100.0:
            raise OptionError(f"recipe: percentile {self.percentile}: expected a value in (50, 100]")
        if self.compose_pointwise not in COMPOSE_POINTWISE:
            raise OptionError(f"recipe: compose_pointwise {self.compose_pointwise!r}: expected one of {', '.join(COMPOSE_POINTWISE)}")
        if self.float_weights not in FLOAT_WEIGHTS:
            raise OptionError(f"recipe: float_weights {self.float_weights!r}: expected one of {', '.join(FLOAT_WEIGHTS)}")
        if self.weight_rounding not in WEIGHT_ROUNDINGS:
            raise OptionError(f"recipe: weight_rounding {self.weight_rounding!r}: expected one of {', '.join(WEIGHT_ROUNDINGS)}")
        if not 0 <= self.reconstruction_steps <= 100_000:
            raise OptionError(f"recipe: reconstruction_steps {self.reconstruction_steps}: expected 0..100000")
        if not 0.0 < self.reconstruction_learning_rate <= 0.1:
            raise OptionError(f"recipe: reconstruction_learning_rate {self.reconstruction_learning_rate}: expected a value in (0, 0.1]")
        if self.max_psnr_drop is not None and not 0.0 <= self.max_psnr_drop <= 10.0:
            raise OptionError(f"recipe: max_psnr_drop {self.max_psnr_drop}: expected a value in [0, 10] dB or None")
        for name in ("max_flat_shift_levels", "compose_max_grey_shift_levels"):
            levels = getattr(self, name)
            if levels is not None and not 0.0 < levels <= 255.0:
                raise OptionError(f"recipe: {name} {levels}: expected a value in (0, 255] levels or None")
        if self.reference_psnr_db is not None and not 15.0 <= self.reference_psnr_db <= 60.0:
            raise OptionError(f"recipe: reference_psnr_db {self.reference_psnr_db}: expected a value in [15, 60] dB")
        if not isinstance(self.keep_float, tuple):
            object.__setattr__(self, "keep_float", tuple(self.keep_float))

    def reference_psnr_for(self, scale: int) -> float:
        """The reference PSNR (dB) drops are predicted at for a model of this ``scale``."""
        if self.reference_psnr_db is not None:
            return self.reference_psnr_db
        if scale not in REFERENCE_PSNR_DB_BY_SCALE:
            raise OptionError(
                f"recipe: no default reference_psnr_db for scale x{scale} (known: "
                f"{', '.join(f'x{s}' for s in REFERENCE_PSNR_DB_BY_SCALE)}); set reference_psnr_db"
            )
        return REFERENCE_PSNR_DB_BY_SCALE[scale]

    def to_dict(self) -> dict[str, Any]:
        return {"schema": RECIPE_SCHEMA, "kind": "int8", **asdict(self), "keep_float": list(self.keep_float)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Int8Recipe":
        if data.get("schema") != RECIPE_SCHEMA or data.get("kind") != "int8":
            raise OptionError(f"expected an {RECIPE_SCHEMA} int8 recipe, found schema {data.get('schema')!r} kind {data.get('kind')!r}")
        fields = {k: v for k, v in data.items() if k not in ("schema", "kind")}
        calibration = dict(fields.get("calibration", {}))
        version = fields.get("version")
        if isinstance(version, int) and 1 <= version < RECIPE_VERSION:
            for added, in_calibration, name, built_with in _ADDED_FIELDS:
                if version < added:
                    (calibration if in_calibration else fields).setdefault(name, built_with)
            if version == 5 and isinstance(fields.get("compose_pointwise"), bool):
                fields["compose_pointwise"] = "always" if fields["compose_pointwise"] else "never"
            fields["version"] = RECIPE_VERSION
        try:
            fields["calibration"] = Calibration(**calibration)
        except TypeError as exc:
            raise OptionError(f"quantisation recipe calibration: {exc}") from None
        fields["keep_float"] = tuple(fields.get("keep_float", ()))
        try:
            return cls(**fields)
        except TypeError as exc:
            raise OptionError(f"quantisation recipe: {exc}") from None

    @classmethod
    def from_json(cls, text: str) -> "Int8Recipe":
        return cls.from_dict(json.loads(text))
