"""Building an INT8 network for one target: the fixed sequence every PT2E target goes through.

deploy module → fold SPAN's normalisation (exact, checked) → export + exact rewrites (checked)
→ (``compose_pointwise``) compose 1×1 convs with their producers (exact, checked) →
(``equalize``) equalise activations (exact, checked) → the target's quantiser, wrapped so the
recipe's range estimator and ``keep_float`` apply → calibrate on DIV2K crops →
(``weight_rounding="refit"``) sequential refit of weights and biases against the fake-quantised
inputs, then re-calibrate.  With ``compose_pointwise="auto"`` the network is taken that far both
composed and not, and the one whose all-int8 network has the lower held-out bound goes on, unless
only the other keeps flat greys within ``compose_max_grey_shift_levels`` →
(``reconstruction_steps``, when the all-int8 network meets the
budget) train weights through the fake-quantised network towards the float output →
(``max_psnr_drop``) sensitivity ranking and float fallback on a held-out validation set, each
candidate re-calibrated and refitted for its own quantisation points, and held to
``max_flat_shift_levels`` on flat greys and saturated colours → (``reconstruction_steps``) the
chosen candidate trained as above → convert to a quantize/dequantize graph.  A reconstruction is
kept only if the held-out set agrees (:func:`_reconstruct_checked`).

The returned :class:`Int8Build` carries the converted graph (the PyTorch reference the artifact
is verified against), the refitted float graph (for targets that quantise with their own tool),
and a JSON-ready report for the contract.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn

from edge_sr.machine import torch_threads
from edge_sr.quant import pt2e
from edge_sr.quant.accuracy import flat_colours, flat_field
from edge_sr.quant.equalize import EQUALIZE_FP32, equalize_activations
from edge_sr.quant.passes import QUANT_PREPARE_FP32, compose_pointwise_convs
from edge_sr.quant.prepare import FOLD_FP32, check_fold, fold_input_normalization
from edge_sr.quant.recipe import Int8Recipe
from edge_sr.quant.reconstruct import reconstruct
from edge_sr.quant.refit import refit
from edge_sr.quant.sensitivity import Simulation, analyze, fallback_search, simulate
from edge_sr.quant.validation import DropPredictor, NoiseFigures, ValidationPair
from edge_sr.tolerances import verify_equivalent


@dataclass
class Int8Build:
    """``converted``: q/dq graph (NCHW float32 RGB [0, 1] in, NCHW float32 out);
    ``float_graph``: the refitted float graph it was quantised from; ``keep_float``: layer labels."""

    converted: fx.GraphModule
    float_graph: fx.GraphModule
    quantizer: Any
    keep_float: list[str]
    report: dict[str, Any] = field(default_factory=dict)
    prepared: fx.GraphModule | None = None
    """The calibrated observer graph ``converted`` came from (for later sensitivity analysis)."""


def build_int8(
    module: nn.Module,
    *,
    recipe: Int8Recipe,
    quantizer_factory: Callable[[], Any],
    sample: torch.Tensor,
    dynamic_shapes,
    batches: Sequence[torch.Tensor],
    validation: list[ValidationPair],
    scale: int,
    graph_passes: Sequence[Callable[[fx.GraphModule], int]] = (),
    fold_quantize: bool = True,
    analyze_layers: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Int8Build:
    """Quantise ``module`` (deploy form) for one target; see the module docstring for the steps.

    Runs on the recipe's ``calibration.threads`` PyTorch threads, the caller's count restored after."""
    with torch_threads(recipe.calibration.threads) as threads:
        say = progress or (lambda _message: None)
        report: dict[str, Any] = {"recipe": recipe.to_dict(), "threads": threads, "steps": []}
        started, cpu_started = time.perf_counter(), time.process_time()
        if recipe.fold_normalization:
            folded, did_fold = fold_input_normalization(module)
            if did_fold:
                diff = check_fold(module, folded, sample)
                report["steps"].append({"step": "fold-normalization", "max_abs_diff": diff, "tolerance": FOLD_FP32.name})
                module = folded
        exported = pt2e.export_for_quantization(module, sample, dynamic_shapes=dynamic_shapes)
        report["steps"].append({"step": "split-concat-conv", "tolerance": "quant-prepare-fp32"})
        for graph_pass in graph_passes:
            count = graph_pass(exported)
            report["steps"].append({"step": graph_pass.__name__.replace("_", "-"), "rewritten": count})
        if graph_passes:
            diff = verify_equivalent(module, exported, sample, tolerance=QUANT_PREPARE_FP32, what="the target's graph rewrites")
            report["steps"][-1]["max_abs_diff"] = diff
        variants = {"plain": exported}
        compose_step: dict[str, Any] | None = None
        if recipe.compose_pointwise != "never":
            composed = copy.deepcopy(exported)
            count = compose_pointwise_convs(composed)
            diff = verify_equivalent(module, composed, sample, tolerance=QUANT_PREPARE_FP32, what="pointwise conv composition")
            compose_step = {
                "step": "compose-pointwise-convs", "mode": recipe.compose_pointwise, "rewritten": count,
                "max_abs_diff": diff, "tolerance": QUANT_PREPARE_FP32.name,
            }
            report["steps"].append(compose_step)
            if count and recipe.compose_pointwise == "always":
                variants = {"composed": composed}
            elif count:
                variants = {"composed": composed, "plain": exported}
        keep = set(recipe.keep_float)
        resolvable = {name: graph for name, graph in variants.items() if keep <= set(pt2e.layer_labels(graph).values())}
        if not resolvable:
            pt2e.check_keep_float(pt2e.layer_labels(next(iter(variants.values()))), keep)  # raises, naming the labels

        reference_psnr_db = recipe.reference_psnr_for(scale)
        predictor = DropPredictor.measure(module, validation, scale=scale, reference_psnr_db=reference_psnr_db)
        flat_limit = recipe.max_flat_shift_levels if recipe.max_psnr_drop is not None else None
        calibrated = {}
        for name, graph in resolvable.items():
            which = f" ({'1×1 convs composed' if name == 'composed' else '1×1 convs apart'})" if len(resolvable) > 1 else ""
            calibrated[name] = _calibrate(
                module, graph, recipe=recipe, target_quantizer=quantizer_factory(), batches=batches, sample=sample,
                predictor=predictor, flat_limit=flat_limit, progress=say, which=which,
            )
        # Composition lowers SPAN ch28's, DSCLoRA's and EFDN's drop and raises EFDN x2's and
        # DSCF-Fused's.  The held-out bound chooses right where the two differ by more than about
        # 0.01 dB.  It cannot see a grey cast, which is what separates EFDN x2's two networks, so a
        # network with one loses first; quant/README.md lists the choices and the runtime's verdicts.
        grey_limit = recipe.compose_max_grey_shift_levels if len(calibrated) > 1 else None
        greys = {} if grey_limit is None else {name: c.all_int8_greys for name, c in calibrated.items()}
        chosen_variant = choose_network(
            {name: c.all_int8.drop_bound_db for name, c in calibrated.items()}, greys, max_grey_shift_levels=grey_limit
        )
        if compose_step is not None:
            compose_step["chosen"] = chosen_variant
            compose_step["predicted_drop_bound_db"] = {name: round(c.all_int8.drop_bound_db, 4) for name, c in calibrated.items()}
            if greys:
                compose_step["max_grey_shift_levels"] = grey_limit
                compose_step["grey_shift_levels"] = {name: round(levels, 3) for name, levels in greys.items()}
            if len(resolvable) < len(variants):
                compose_step["skipped"] = {name: "keep_float names a layer it does not have" for name in variants if name not in resolvable}
        chosen = calibrated[chosen_variant]
        del calibrated
        report["steps"].extend(chosen.steps)
        float_graph, unrefitted, prepared, quantizer = chosen.float_graph, chosen.unrefitted, chosen.prepared, chosen.quantizer
        unrefitted_simulation, all_int8, all_int8_flat = chosen.unrefitted_simulation, chosen.all_int8, chosen.all_int8_flat
        labels = pt2e.layer_labels(float_graph)
        by_label = {label: node for node, label in labels.items()}
        over_budget = recipe.max_psnr_drop is not None and (
            all_int8.drop_bound_db > recipe.max_psnr_drop or (flat_limit is not None and all_int8_flat > flat_limit)
        )

        def reconstructed(network: str, prepared: fx.GraphModule, float_graph: fx.GraphModule, before: tuple[NoiseFigures, float | None]):
            say(f"reconstructing the output of the {network} network ({recipe.reconstruction_steps} steps)")
            *result, step = _reconstruct_checked(
                prepared, float_graph, before=before, reference=module, teacher=unrefitted,
                batches=batches, recipe=recipe, predictor=predictor, flat_limit=flat_limit, progress=say,
            )
            report["steps"].append({**step, "network": network})
            return *result, step["accepted"]

        reconstructed_all_int8 = False
        # Over budget, the all-int8 network is not what ships: its training would be thrown away, so
        # only the fallback's chosen candidate is trained (below).
        if recipe.reconstruction_steps and not over_budget:
            prepared, float_graph, (all_int8, all_int8_flat), reconstructed_all_int8 = reconstructed(
                "all-int8", prepared, float_graph, (all_int8, all_int8_flat)
            )
        report["validation"] = {
            "images": [pair.name for pair in validation],
            "protocol": "Y PSNR (MATLAB-rounded), border = scale; HR = held-out DIV2K LR images, LR = their bicubic downscale",
            "float_psnr_db": round(predictor.float_psnr_db, 4),
            "all_int8_psnr_db": round(all_int8.psnr_db, 4),
            "all_int8_drop_db": round(predictor.float_psnr_db - all_int8.psnr_db, 4),
            "all_int8_output_noise_psnr_db": round(all_int8.noise_psnr_db, 3),
            "reference_psnr_db": reference_psnr_db,
            "all_int8_predicted_drop_db": round(all_int8.drop_db, 4),
            "all_int8_predicted_drop_bound_db": round(all_int8.drop_bound_db, 4),
            "all_int8_reconstructed": reconstructed_all_int8,
        }
        if flat_limit is not None:
            report["validation"]["all_int8_flat_shift_levels"] = round(all_int8_flat, 3)
        ranking = None
        if analyze_layers or over_budget:
            say("ranking layers by sensitivity")
            # The fallback orders by the cost quantised alone, measured with the original weights:
            # in the refitted network later convs compensate for earlier layers' noise, which makes
            # those layers look free, while a candidate keeps its later convs float and unrefitted.
            # What each layer gains kept float alone is measured only when asked for (2× the work).
            ranked = unrefitted_simulation if over_budget else simulate(prepared)
            if analyze_layers and not over_budget:
                report["validation"].update(_clipping_share(ranked, predictor))
            _, ranking = analyze(ranked, predictor.drop, float_alone=analyze_layers)
            report["sensitivity"] = [row.as_dict() for row in ranking]
            report["sensitivity_weights"] = "original" if ranked is unrefitted_simulation else "as converted"
        if over_budget:
            say("searching the float fallback")
            kept_by_recipe = frozenset(keep)
            rebuilt: dict[frozenset[str], tuple[NoiseFigures, float | None, fx.GraphModule, Any, fx.GraphModule]] = {}

            def drop_bound_keeping(extra: frozenset[str]) -> float:
                nodes = {by_label[label] for label in kept_by_recipe | extra}
                # Each candidate is refitted from the original weights for its own quantisation
                # points: a refit for the all-int8 network compensates for upstream noise that a
                # candidate with float layers upstream no longer has, and so adds error there.
                graph = copy.deepcopy(unrefitted)
                candidate = pt2e.RecipeQuantizer(quantizer_factory(), recipe=recipe, keep=nodes)
                candidate_prepared = pt2e.prepare_and_calibrate(graph, candidate, batches)
                if recipe.weight_rounding == "refit":
                    candidate_prepared, _ = _refit_and_recalibrate(graph, candidate, candidate_prepared, batches)
                figures, flat = _measure(candidate_prepared, reference=module, predictor=predictor, flat_limit=flat_limit)
                rebuilt[extra] = (figures, flat, candidate_prepared, candidate, graph)
                return figures.drop_bound_db

            def flat_within_limit(extra: frozenset[str]) -> bool:
                flat = rebuilt[extra][1]
                return flat is None or flat <= flat_limit

            chosen, final = fallback_search(
                drop_bound_keeping, max_drop=recipe.max_psnr_drop, ranking=ranking, all_int8_drop=all_int8.drop_bound_db,
                also_required=flat_within_limit if flat_limit is not None else None,
            )
            if frozenset(chosen) not in rebuilt:
                drop_bound_keeping(frozenset(chosen))
            chosen_figures, chosen_flat, prepared, quantizer, float_graph = rebuilt[frozenset(chosen)]
            keep |= set(chosen)
            reconstructed_candidate = False
            if recipe.reconstruction_steps:
                prepared, float_graph, (chosen_figures, chosen_flat), reconstructed_candidate = reconstructed(
                    "fallback candidate", prepared, float_graph, (chosen_figures, chosen_flat)
                )
                final = chosen_figures.drop_bound_db
            report["fallback"] = {
                "max_psnr_drop_db": recipe.max_psnr_drop,
                "reference_psnr_db": reference_psnr_db,
                "max_flat_shift_levels": flat_limit,
                "kept_float": sorted(chosen),
                "predicted_drop_db": round(chosen_figures.drop_db, 4),
                "predicted_drop_bound_db": round(final, 4),
                "flat_shift_levels": None if chosen_flat is None else round(chosen_flat, 3),
                "met": final <= recipe.max_psnr_drop and (chosen_flat is None or chosen_flat <= flat_limit),
                "reconstructed": reconstructed_candidate,
                "rebuilds": len(rebuilt),
                "trials": [
                    {
                        "kept_float": len(kept_by_recipe | extra), "predicted_drop_db": round(trial[0].drop_db, 4),
                        "predicted_drop_bound_db": round(trial[0].drop_bound_db, 4),
                        **({} if trial[1] is None else {"flat_shift_levels": round(trial[1], 3)}),
                    }
                    for extra, trial in rebuilt.items()
                ],
            }
        float_weights = [pt2e.graph_tensor(prepared, target) for target in pt2e.float_weight_targets(prepared)]
        report["float_weights"] = {
            "recipe": recipe.float_weights, "tensors": len(float_weights),
            "parameters": sum(weights.numel() for weights in float_weights),
            # Fewer than ``tensors`` under "fp16": some weights lie beyond float16's range and stay float32.
            "float16_values": sum(torch.equal(weights, weights.half().to(weights.dtype)) for weights in float_weights),
        }
        report["unquantised_by_target"] = pt2e.unquantised_by_target(prepared, labels, {by_label[label] for label in keep})
        converted = pt2e.convert(prepared, fold_quantize=fold_quantize)
        report["seconds"] = round(time.perf_counter() - started, 2)
        # Wall time includes any time the process waited for the cores; CPU time (all threads) does not.
        report["cpu_seconds"] = round(time.process_time() - cpu_started, 2)
        return Int8Build(
            converted=converted, float_graph=float_graph, quantizer=quantizer,
            keep_float=sorted(keep), report=report, prepared=prepared,
        )


@dataclass
class _Calibrated:
    """One exported graph taken through equalisation, calibration and refit, with its all-int8
    network's simulated figures on the held-out images."""

    float_graph: fx.GraphModule
    """Equalised and (``weight_rounding="refit"``) refitted."""
    unrefitted: fx.GraphModule
    """Equalised, original weights: what the fallback's candidates are refitted from."""
    prepared: fx.GraphModule
    quantizer: Any
    unrefitted_simulation: Simulation
    all_int8: NoiseFigures
    all_int8_flat: float | None
    all_int8_greys: float
    """:func:`grey_shift_levels` of the all-int8 network."""
    steps: list[dict[str, Any]]


def _calibrate(
    module: nn.Module,
    float_graph: fx.GraphModule,
    *,
    recipe: Int8Recipe,
    target_quantizer: Any,
    batches: Sequence[torch.Tensor],
    sample: torch.Tensor,
    predictor: DropPredictor,
    flat_limit: float | None,
    progress: Callable[[str], None],
    which: str = "",
) -> _Calibrated:
    """Equalise (in place), calibrate and refit ``float_graph`` (exported from ``module``, whose
    fp32 output every exact step is checked against on ``sample``) with ``target_quantizer``
    wrapped for the recipe; ``which`` names the network in the progress lines when there are two."""
    steps: list[dict[str, Any]] = []
    if recipe.equalize:
        equalized = equalize_activations(float_graph, batches)
        diff = verify_equivalent(module, float_graph, sample, tolerance=EQUALIZE_FP32, what="activation equalisation")
        steps.append({"step": "equalize-activations", **equalized.as_dict(), "max_abs_diff": diff, "tolerance": EQUALIZE_FP32.name})
    labels = pt2e.layer_labels(float_graph)
    quantizer = pt2e.RecipeQuantizer(target_quantizer, recipe=recipe, keep=pt2e.check_keep_float(labels, recipe.keep_float))
    progress(f"calibrating{which}")
    prepared = pt2e.prepare_and_calibrate(float_graph, quantizer, batches)
    unrefitted = copy.deepcopy(float_graph)
    unrefitted_simulation = simulate(prepared)
    if recipe.weight_rounding == "refit":
        progress(f"refitting weights{which}")
        before = predictor.drop(unrefitted_simulation.module)
        prepared, refit_report = _refit_and_recalibrate(float_graph, quantizer, prepared, batches)
        steps.append({"step": "refit", "layers": refit_report.as_dict(), "predicted_drop_before_db": round(before, 4)})
    simulated = simulate(prepared).module
    all_int8, greys = predictor.figures(simulated), grey_shift_levels(module, simulated)
    all_int8_flat = None if flat_limit is None else max(greys, colour_shift_levels(module, simulated))
    return _Calibrated(
        float_graph=float_graph, unrefitted=unrefitted, prepared=prepared, quantizer=quantizer,
        unrefitted_simulation=unrefitted_simulation, all_int8=all_int8, all_int8_flat=all_int8_flat,
        all_int8_greys=greys, steps=steps,
    )


def choose_network(bounds: dict[str, float], greys: dict[str, float], *, max_grey_shift_levels: float | None) -> str:
    """The network ``compose_pointwise="auto"`` keeps, from each one's all-int8 held-out drop bound
    (dB) and flat-grey shift (8-bit levels): one whose greys are within ``max_grey_shift_levels``
    before one whose greys are not, then the lower bound.  ``None``: the bound alone (``greys``
    may then be empty)."""
    return min(bounds, key=lambda name: (max_grey_shift_levels is not None and greys[name] > max_grey_shift_levels, bounds[name]))


def grey_shift_levels(reference: nn.Module, candidate: nn.Module) -> float:
    """The largest mean shift (8-bit levels, any channel) of ``candidate``'s output from
    ``reference``'s on the accuracy section's flat greys (both take NCHW float32 RGB [0, 1] of any
    size)."""
    return flat_field({"float": reference, "int8": candidate})["int8"]["max_abs"]


def colour_shift_levels(reference: nn.Module, candidate: nn.Module) -> float:
    """:func:`grey_shift_levels` on the accuracy section's flat saturated colours."""
    return flat_colours({"float": reference, "int8": candidate})["int8"]["max_abs"]


def flat_shift_levels(reference: nn.Module, candidate: nn.Module) -> float:
    """:func:`grey_shift_levels` over flat greys and flat saturated colours."""
    return max(grey_shift_levels(reference, candidate), colour_shift_levels(reference, candidate))


def _measure(
    prepared: fx.GraphModule, *, reference: nn.Module, predictor: DropPredictor, flat_limit: float | None,
) -> tuple[NoiseFigures, float | None]:
    """A calibrated graph's simulated noise on the validation pairs, and its flat shift (levels)
    when the recipe bounds it."""
    simulated = simulate(prepared).module
    return predictor.figures(simulated), (flat_shift_levels(reference, simulated) if flat_limit is not None else None)


def _reconstruct_checked(
    prepared: fx.GraphModule,
    float_graph: fx.GraphModule,
    *,
    before: tuple[NoiseFigures, float | None],
    reference: nn.Module,
    teacher: nn.Module,
    batches: Sequence[torch.Tensor],
    recipe: Int8Recipe,
    predictor: DropPredictor,
    flat_limit: float | None,
    progress: Callable[[str], None],
) -> tuple[fx.GraphModule, fx.GraphModule, tuple[NoiseFigures, float | None], dict[str, Any]]:
    """Output reconstruction on copies of ``prepared`` / ``float_graph``, kept only when the
    held-out validation set agrees: reconstruction trains on the calibration crops, so it must
    not raise the predicted drop's bound on images it never saw, nor push flat areas past the
    recipe's limit.  Returns ``(prepared, float_graph, (figures, flat), step report)``."""
    trained, trained_float = copy.deepcopy(prepared), copy.deepcopy(float_graph)
    result = reconstruct(
        trained, teacher=teacher, float_graph=trained_float, batches=batches, steps=recipe.reconstruction_steps,
        learning_rate=recipe.reconstruction_learning_rate, seed=recipe.calibration.seed, progress=progress,
    )
    if recipe.float_weights == "fp16":
        # Training moved the float convs' weights off the float16 grid they were calibrated on.
        pt2e.round_float_weights(trained)
    figures, flat = _measure(trained, reference=reference, predictor=predictor, flat_limit=flat_limit)
    accepted = figures.drop_bound_db < before[0].drop_bound_db and (flat_limit is None or flat <= flat_limit)
    step = {
        "step": "reconstruct", **result.as_dict(),
        "predicted_drop_bound_before_db": round(before[0].drop_bound_db, 4),
        "predicted_drop_bound_after_db": round(figures.drop_bound_db, 4),
        **({} if flat is None else {"flat_shift_levels_before": round(before[1], 3), "flat_shift_levels_after": round(flat, 3)}),
        "accepted": accepted,
    }
    if accepted:
        return trained, trained_float, (figures, flat), step
    return prepared, float_graph, before, step


def _clipping_share(simulation: Simulation, predictor: DropPredictor) -> dict[str, float]:
    """How much of the all-int8 network's predicted drop is activation clipping: the same
    network with every activation range unbounded (same step sizes) loses only its rounding.
    The same comparison on the benchmarks, SPAN ch28 (ExecuTorch's quantiser, 300 reconstruction
    steps, simulated): Urban100 0.163 dB clipped, 0.141 unclipped; Set14 0.137 and 0.131.  A
    large share says wider ranges (or ``minmax``) may help; a small one says only finer steps would."""
    simulation.set_activation_clipping(False)
    unclipped = predictor.figures(simulation.module)
    simulation.set_activation_clipping(True)
    return {
        "all_int8_unclipped_predicted_drop_db": round(unclipped.drop_db, 4),
        "all_int8_unclipped_drop_db": round(predictor.float_psnr_db - unclipped.psnr_db, 4),
    }


def _refit_and_recalibrate(graph: fx.GraphModule, quantizer, prepared: fx.GraphModule, batches: Sequence[torch.Tensor]):
    """Refit ``graph``'s convs (in place) against ``prepared``'s quantisation points, then
    calibrate again: the refitted weights move the activation ranges.  Returns ``(prepared, report)``."""
    # The whole crops, not a corner: measured on all-int8 SPAN ch28 / ESPAN (simulation), refitting
    # on the top-left 64² of each 128² crop lost 0.235 / 0.240 dB on Urban100's first 25 images,
    # on the whole crop 0.206 / 0.227, for 1.6× the refit time.
    report = refit(graph, simulate(prepared), batches)
    return pt2e.prepare_and_calibrate(graph, quantizer, batches), report


def calibration_inputs(recipe: Int8Recipe, *, scale: int) -> tuple[list[torch.Tensor], list[ValidationPair], dict[str, Any]]:
    """Calibration crops (NCHW float32 RGB [0, 1]) and the held-out validation pairs for a recipe."""
    from edge_sr.datasets import IMAGE_SUFFIXES
    from edge_sr.div2k import calibration_batches, find_root, lr_images
    from edge_sr.errors import DatasetError
    from edge_sr.quant.validation import validation_pairs

    calibration = recipe.calibration
    if calibration.source == "div2k":
        images = lr_images()
        where = f"DIV2K test LR x4 under {find_root()}"
    else:
        folder = Path(calibration.source)
        if not folder.is_dir():
            raise DatasetError(f"{folder}: expected a folder of calibration images (or 'div2k'), found no such directory")
        images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise DatasetError(f"{folder}: expected calibration images ({', '.join(IMAGE_SUFFIXES)}), found none")
        where = str(folder)
    # Batches of 8 crops: one forward per batch is what makes calibration and refit affordable.
    batches = list(calibration_batches(
        images, count=calibration.images, crop=calibration.crop, seed=calibration.seed, batch_size=8,
        candidates=calibration.crop_candidates,
    ))
    validation = validation_pairs(
        images, scale=scale, calibration_count=min(calibration.images, len(images) - 1), count=calibration.validation_images
    )
    facts = {
        "source": where,
        "crops": calibration.images,
        "crop_size": calibration.crop,
        "crop_candidates": calibration.crop_candidates,
        "seed": calibration.seed,
        "images_used": [p.name for p in images[: min(calibration.images, len(images))]],
    }
    return batches, validation, facts
