"""Quantisation recipes are frozen, validated and round-trip through JSON."""

from __future__ import annotations

import dataclasses

import pytest

from edge_sr.errors import OptionError
from edge_sr.quant.recipe import Calibration, Int8Recipe


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
        ({"version": 5}, "version 5"),
        ({"max_flat_shift_levels": 0.0}, "max_flat_shift_levels 0.0"),
        ({"calibration": {"crop_candidates": 0}}, "crop_candidates"),
        ({"calibration": {"bogus": 1}}, "bogus"),
        ({"reference_psnr_db": 5.0}, "reference_psnr_db 5.0"),
        ({"calibration": {"images": 0}}, "images >= 1"),
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


def test_version_1_recipes_still_read_with_their_random_crops():
    data = Int8Recipe().to_dict()
    data["version"] = 1
    del data["calibration"]["crop_candidates"], data["equalize"], data["max_flat_shift_levels"]
    old = Int8Recipe.from_dict(data)
    assert old.version == 4 and old.calibration.crop_candidates == 1 and not old.equalize
    assert Int8Recipe().calibration.crop_candidates == 32


def test_version_2_recipes_read_without_equalisation():
    data = Int8Recipe().to_dict()
    data["version"] = 2
    del data["equalize"], data["max_flat_shift_levels"]
    old = Int8Recipe.from_dict(data)
    assert old.version == 4 and not old.equalize and old.calibration == Int8Recipe().calibration
    assert Int8Recipe().equalize
    assert Int8Recipe.from_json(Int8Recipe(equalize=False).to_json()) == Int8Recipe(equalize=False)


def test_version_3_recipes_read_without_the_flat_shift_bound():
    data = Int8Recipe().to_dict()
    data["version"] = 3
    del data["max_flat_shift_levels"]
    old = Int8Recipe.from_dict(data)
    # Their fallback looked at natural images only; reading them must not add a bound they never had.
    assert old.version == 4 and old.max_flat_shift_levels is None
    assert Int8Recipe().max_flat_shift_levels == 8.0
    assert Int8Recipe.from_json(Int8Recipe(max_flat_shift_levels=None).to_json()).max_flat_shift_levels is None
