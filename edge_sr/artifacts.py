"""Opening artifacts for benchmarks and reports, and converting the ones a run needs.

An artifact is opened from its contract (``<artifact>.contract.json``): the contract names the
target, so the right runtime opens it; the shape policy says which inputs it takes; the
complexity section gives its MACs per LR pixel.  :func:`provision` converts a model for a
target x precision in the shapes a benchmark needs: one dynamic-shape artifact where the
target's path has dynamic shapes, else one fixed-shape artifact per size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch

from edge_sr.bench import TARGET_RUNTIME, Subject
from edge_sr.descriptor import ModelDescriptor
from edge_sr.errors import EdgeSRError, OptionError, VerificationError
from edge_sr.tiling import Run

CONVERTED_MAX_SIZE = 1024
"""Largest side of the dynamic-shape artifacts converted for benchmarks (ExecuTorch bounds it)."""


def _spec_from_contract(data: dict[str, Any]):
    from edge_sr.converters.spec import ExportSpec, ShapePolicy

    recorded = data["converter"]["spec"]
    shape = recorded["shape"]
    policy = ShapePolicy(
        kind=shape["kind"], sizes=tuple(tuple(s) for s in shape.get("sizes", [])),
        **({"min_size": shape["min_size"], "max_size": shape["max_size"]} if shape["kind"] == "dynamic" else {}),
    )
    return ExportSpec(precision=recorded["precision"], shape=policy, layout=recorded["layout"], image_io=recorded["image_io"])


def open_artifact(path: str | Path) -> Subject:
    """A bench subject for an artifact with its contract beside it."""
    from edge_sr.converters import get_converter
    from edge_sr.converters.contract import Contract, contract_path
    from edge_sr.converters.pipeline import native_output_silenced

    path = Path(path)
    contract_file = contract_path(path)
    if not path.exists():
        raise EdgeSRError(f"{path}: no such artifact")
    if not contract_file.is_file():
        raise EdgeSRError(f"{path}: expected its model contract {contract_file.name} beside it, found none (convert with edge-sr convert)")
    data = Contract.read(contract_file).data
    converter = get_converter(data["target"])
    spec = _spec_from_contract(data)
    if spec.image_io:
        raise OptionError(f"{path}: image-I/O artifacts are benchmarked on the device (CoreML), not here")

    def open_runner(threads: int) -> Run:
        with native_output_silenced():
            runner = converter.runner(path, spec, threads=threads)
        if runner is None:
            raise EdgeSRError(f"{path}: {converter.runtime_name} cannot run on this machine")
        return runner

    complexity = data.get("complexity") or {}
    fixed = tuple(spec.shape.sizes[0]) if spec.shape.kind == "fixed" else None
    model = data["model"]
    return Subject(
        model=model.get("zoo_name") or Path(model["source"]).stem,
        runtime=TARGET_RUNTIME.get(data["target"], data["target"]),
        precision=data["precision"], form="deploy", scale=int(data["scale"]), open=open_runner,
        artifact=path, bytes=int(data["artifact"]["bytes"]), fixed_size=fixed,
        max_size=spec.shape.max_size if spec.shape.kind == "dynamic" else None,
        macs_per_pixel=complexity.get("macs_per_lr_pixel"),
        notes=(f"shape {spec.shape.kind}",),
    )


def pytorch_subjects(descriptor: ModelDescriptor, *, include_train: bool = True) -> list[Subject]:
    """PyTorch eager: the checkpoint as loaded (train form, when it has branches) and collapsed."""
    from edge_sr.collapse import collapse
    from edge_sr.complexity import count_conv_macs

    deploy = collapse(descriptor) if descriptor.form != "deploy" else descriptor
    macs_per_pixel = count_conv_macs(deploy.module, height=64, width=64) / 64**2
    forms = [("pytorch-train", descriptor)] if include_train and descriptor.form == "train" else []
    forms.append(("pytorch", deploy))
    name = descriptor.zoo_name or Path(descriptor.source).stem

    def opener(module: torch.nn.Module) -> Callable[[int], Run]:
        def open_runner(threads: int) -> Run:
            torch.set_num_threads(threads)
            return module

        return open_runner

    return [
        Subject(model=name, runtime=runtime, precision="fp32", form=d.form, scale=d.scale, open=opener(d.module),
                macs_per_pixel=macs_per_pixel, notes=(f"torch {torch.__version__} eager, {d.form} form",))
        for runtime, d in forms
    ]


def provision(
    deploy: ModelDescriptor,
    *,
    target: str,
    precision: str,
    sizes: list[tuple[int, int]],
    output_dir: Path,
    int8_builds: dict | None = None,
    recipe=None,
    progress: Callable[[str], None] | None = None,
    notes: list[str] | None = None,
) -> list[Path]:
    """Convert ``deploy`` for ``target`` x ``precision``: one dynamic-shape artifact if the
    target's path allows (and the runtime runs it), else one fixed-shape artifact per size (one
    in all for a runtime that is not on this machine).  Returns the artifact paths; ``notes``
    receives what the caller should report (a dynamic-shape conversion that fell back)."""
    from edge_sr.converters import get_converter
    from edge_sr.converters.pipeline import convert_model
    from edge_sr.converters.spec import ExportSpec, ShapePolicy

    from edge_sr.converters.pipeline import ConversionError

    converter = get_converter(target)
    name = deploy.zoo_name or Path(deploy.source).stem
    kinds = converter.int8_shape_kinds if precision == "int8" else converter.shape_kinds

    def convert(suffix: str, shape) -> Path:
        spec = ExportSpec(precision=precision, shape=shape, recipe=recipe if precision == "int8" else None)
        return convert_model(
            deploy, target=target, spec=spec, output_dir=output_dir, stem=f"{name}.{precision}{suffix}",
            progress=progress, int8_builds=int8_builds,
        ).artifact

    if "dynamic" in kinds:
        try:
            return [convert("", ShapePolicy.dynamic(max_size=max(CONVERTED_MAX_SIZE, *(max(s) for s in sizes))))]
        except (ConversionError, VerificationError) as error:
            # Some networks convert with dynamic shapes but the runtime cannot re-plan them (EFDN's
            # pooled attention in LiteRT's XNNPACK delegate): fall back to fixed shapes, say so.
            note = f"dynamic shapes failed ({error}); one fixed-shape artifact per size instead"
            if notes is not None:
                notes.append(note)
            if progress:
                progress(note)
    if not converter.runs_here():
        # Spec-verified only (the runtime is not on this machine): one size shows the conversion works.
        return [convert(f".{sizes[0][0]}x{sizes[0][1]}", ShapePolicy.fixed(*sizes[0]))]
    return [convert(f".{h}x{w}", ShapePolicy.fixed(h, w)) for h, w in sizes]
