"""Quantisation recipes are frozen, validated and round-trip through JSON."""

from __future__ import annotations

import dataclasses

import pytest

from edge_sr.errors import OptionError
from edge_sr.quant.recipe import RECIPE_VERSION, Calibration, Int8Recipe


def test_recipe_round_trips_and_is_frozen():
    recipe = Int8Recipe(range_estimator="percentile", percentile=99.9, keep_float=["upsampler.0"], calibration=Calibration(images=16, crop=96, seed=7))
    assert recipe.keep_float == ("upsampler.0",)
    again = Int8Recipe.from_json(recipe.to_json())
    assert again == recipe and hash(again) == hash(recipe)
    with pytest.raises(dataclasses.FrozenInstanceError):
        recipe.percentile = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"range_estimator": "magic"}, "range_estimator"),
        ({"weight_bits": 4}, "8-bit"),
        ({"activation_granularity": "per-channel"}, "per-tensor"),
        ({"percentile": 10.0}, "percentile"),
        ({"version": RECIPE_VERSION + 1}, f"version {RECIPE_VERSION + 1}"),
        ({"max_flat_shift_levels": 0.0}, "max_flat_shift_levels 0.0"),
        ({"compose_max_grey_shift_levels": 300.0}, "compose_max_grey_shift_levels 300.0"),
        ({"calibration": {"crop_candidates": 0}}, "crop_candidates"),
        ({"calibration": {"bogus": 1}}, "bogus"),
        ({"reference_psnr_db": 5.0}, "reference_psnr_db 5.0"),
        ({"calibration": {"images": 0}}, "images >= 1"),
        ({"calibration": {"threads": 0}}, "threads in 1..1024 or None, found 0"),
        ({"compose_pointwise": "sometimes"}, "compose_pointwise 'sometimes'"),
        ({"compose_pointwise": True}, "compose_pointwise True: expected one of auto, always, never"),
        ({"float_weights": "bf16"}, "float_weights 'bf16': expected one of fp16, fp32"),
    ],
)
def test_invalid_recipes_are_refused(kwargs, message):
    data = Int8Recipe().to_dict()
    if "calibration" in kwargs:
        data["calibration"].update(kwargs.pop("calibration"))
    data.update(kwargs)
    with pytest.raises(OptionError, match=message):
        Int8Recipe.from_dict(data)
    with pytest.raises(OptionError, match="expected an"):
        Int8Recipe.from_dict({"schema": "something-else"})


def test_reference_psnr_follows_the_scale_unless_the_recipe_names_one():
    default = Int8Recipe()
    # The same output noise costs more dB on x2 content (float ~33.5 dB on Set14) than on x4 (~28).
    assert default.reference_psnr_for(4) == 28.0
    assert default.reference_psnr_for(2) == 33.5
    assert default.reference_psnr_for(2) > default.reference_psnr_for(3) > default.reference_psnr_for(4)
    assert Int8Recipe(reference_psnr_db=32.0).reference_psnr_for(2) == 32.0
    assert Int8Recipe.from_json(default.to_json()).reference_psnr_db is None
    with pytest.raises(OptionError, match="x8"):
        default.reference_psnr_for(8)


ADDED_IN_VERSION = {
    2: ("calibration.crop_candidates", 1),  # version-1 crops were random
    3: ("equalize", False),
    4: ("max_flat_shift_levels", None),  # their fallback looked at natural images only
    5: ("compose_pointwise", "never"),
    7: ("compose_max_grey_shift_levels", None),  # version-6 `auto` chose on the held-out bound alone
    8: ("calibration.threads", None),  # version-7 builds ran on the process's thread count
    9: ("float_weights", "fp32"),  # version-8 float layers kept their trained float32 weights
}
"""Each recipe field added after version 1, and what recipes written before it must read as: what
they were built with, never a later default."""
CHANGED_IN_VERSION = {
    6: ("compose_pointwise", True, "always"),  # a bool until version 6; False reads as "never"
}
"""Each field whose written form changed: ``(field, an old recipe's value, what it reads as)``."""


def _with_field(recipe: Int8Recipe, path: str, value) -> Int8Recipe:
    if path.startswith("calibration."):
        return dataclasses.replace(recipe, calibration=dataclasses.replace(recipe.calibration, **{path.split(".")[1]: value}))
    return dataclasses.replace(recipe, **{path: value})


@pytest.mark.parametrize("version", range(1, RECIPE_VERSION))
def test_older_recipes_read_as_they_were_built(version):
    data = Int8Recipe().to_dict()
    data["version"] = version
    expected = Int8Recipe()
    for added, (path, value) in ADDED_IN_VERSION.items():
        if added > version:
            container = data["calibration"] if path.startswith("calibration.") else data
            del container[path.split(".")[-1]]
            expected = _with_field(expected, path, value)
    for changed, (path, written, read) in CHANGED_IN_VERSION.items():
        if changed > version and path in data:
            data[path] = written
            expected = _with_field(expected, path, read)
    assert Int8Recipe.from_dict(data) == expected


def test_version_5_compose_flags_read_as_always_or_never():
    data = {**Int8Recipe().to_dict(), "version": 5}
    assert Int8Recipe.from_dict({**data, "compose_pointwise": True}).compose_pointwise == "always"
    assert Int8Recipe.from_dict({**data, "compose_pointwise": False}).compose_pointwise == "never"


def test_each_added_field_defaults_to_the_new_behaviour():
    assert max([*ADDED_IN_VERSION, *CHANGED_IN_VERSION]) == RECIPE_VERSION
    default = Int8Recipe()
    assert (
        default.calibration.crop_candidates, default.equalize, default.max_flat_shift_levels, default.compose_pointwise,
        default.compose_max_grey_shift_levels, default.calibration.threads, default.float_weights,
    ) == (32, True, 8.0, "auto", 8.0, 1, "fp16")
    for path, value in ADDED_IN_VERSION.values():
        old_behaviour = _with_field(default, path, value)
        assert old_behaviour != default and Int8Recipe.from_json(old_behaviour.to_json()) == old_behaviour
