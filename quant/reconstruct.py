"""Output reconstruction: fine-tune weights and biases through the fake-quantised network.

The refit (:mod:`edge_sr.quant.refit`) corrects each conv for the noise at its own input.  What
remains is many small activation-rounding errors compounding through the network: no single
layer dominates, so no per-layer fix removes them.  Here the whole fake-quantised network —
the exact scales and zero points the converter will use, weights through straight-through
fake-quantisers — is trained to reproduce the *float network's* output on the calibration crops.
The float network is the teacher; no HR images are involved, so this stays post-training
quantisation on unlabelled calibration data.

What is held fixed, so that the converted graph equals the trained simulation:
- activation scales and zero points (learning them, LSQ-style, measured no gain on SPAN);
- each weight row's largest-magnitude tap, and every other tap stays within its ±range, so each
  target's own min/max weight observer re-derives the same per-channel scale.

Tensor contract: calibration crops NCHW float32 RGB in [0, 1]; outputs NCHW float32 RGB.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import fx, nn

from edge_sr.quant.pt2e import attribute_owner, graph_tensor, op_name
from edge_sr.quant.sensitivity import OBSERVER_PREFIX, SwitchableFakeQuant, simulate

CROP = 64
BATCH = 8
TRAINED_OPS = ("conv2d", "conv_transpose2d", "linear")
WARMUP_FRACTION = 0.1
PROGRESS_REPORTS = 10
"""Training reports its progress this many times: 300 steps of SPAN ch28 take 8 min on one core,
1,200 take half an hour, and a silent half hour looks like a hang."""


@dataclass(frozen=True)
class ReconstructionReport:
    """Output PSNR (dB) of the fake-quantised network against the float one, on the fixed
    top-left ``CROP``² of every calibration crop, before and after training."""

    steps: int
    learning_rate: float
    trained_tensors: int
    output_psnr_before_db: float
    output_psnr_after_db: float
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return {
            "steps": self.steps,
            "learning_rate": self.learning_rate,
            "trained_tensors": self.trained_tensors,
            "output_psnr_vs_float_before_db": round(self.output_psnr_before_db, 3),
            "output_psnr_vs_float_after_db": round(self.output_psnr_after_db, 3),
            "seconds": round(self.seconds, 1),
        }


@dataclass
class _PinnedWeight:
    parameter: nn.Parameter
    free: torch.Tensor
    """1 where a tap may move, 0 on each row's largest tap."""
    limit: torch.Tensor
    """The row's largest representable magnitude (scale × quant_max), broadcastable to the weight."""

    def constrain(self) -> None:
        self.parameter.data.copy_(torch.maximum(torch.minimum(self.parameter.data, self.limit), -self.limit))


def _as_parameter(module: nn.Module, target: str) -> nn.Parameter:
    owner, name = attribute_owner(module, target)
    value = getattr(owner, name)
    if isinstance(value, nn.Parameter):
        return value
    parameter = nn.Parameter(value.detach().clone())
    delattr(owner, name)
    owner.register_parameter(name, parameter)
    return parameter


def _pin(parameter: nn.Parameter, quantiser: SwitchableFakeQuant) -> _PinnedWeight | None:
    """Pin the largest tap of each row (per-channel, axis 0) or of the tensor (per-tensor)."""
    if quantiser.zero_point.abs().max() != 0:
        return None  # asymmetric weights: not pinned, left untrained
    weight = parameter.detach()
    if quantiser.axis not in (None, 0) or weight.dim() < 2:
        return None
    rows = weight.reshape(weight.shape[0], -1) if quantiser.axis == 0 else weight.reshape(1, -1)
    free = torch.ones_like(rows)
    free[torch.arange(rows.shape[0]), rows.abs().argmax(dim=1)] = 0
    scale = quantiser.scale.flatten()
    limit = (scale * quantiser.quant_max).view(-1, *([1] * (weight.dim() - 1))) if quantiser.axis == 0 else scale[:1] * quantiser.quant_max
    return _PinnedWeight(parameter, free.view_as(weight), limit)


def _duration(seconds: float) -> str:
    """``42 s`` under two minutes, else ``7 min``."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _output_psnr(student: nn.Module, teacher: nn.Module, crops: Sequence[torch.Tensor]) -> float:
    """PSNR (dB) of ``student`` against ``teacher`` over all crops, one batch per forward: the
    exported graphs bound the batch dimension (64)."""
    squared, count = 0.0, 0
    with torch.no_grad():
        for batch in crops:
            difference = student(batch).clamp(0, 1) - teacher(batch).clamp(0, 1)
            squared += float(difference.square().sum())
            count += difference.numel()
    return 10 * math.log10(1.0 / max(squared / count, 1e-12))


def reconstruct(
    prepared: fx.GraphModule,
    *,
    teacher: nn.Module,
    float_graph: fx.GraphModule,
    batches: Sequence[torch.Tensor],
    steps: int,
    learning_rate: float,
    seed: int,
    progress: Callable[[str], None] | None = None,
) -> ReconstructionReport:
    """Train the weights and biases of ``prepared`` (a calibrated PT2E graph) in place, and write
    the same tensors into ``float_graph`` (the graph it was prepared from, same node names).

    ``progress`` gets ``PROGRESS_REPORTS`` lines: the step, the training crops' output PSNR
    against the float network since the last line (unclamped, on random sub-crops, so it wanders
    around the fixed-crop figures of the report), and the time left at the pace so far."""
    started = time.perf_counter()
    simulation = simulate(prepared).module
    # simulate() deep-copies ``prepared``, so attribute names are shared; float names by node.
    weights: dict[str, str] = {}  # prepared/simulation attribute → float-graph attribute
    float_nodes = {node.name: node for node in float_graph.graph.nodes}
    pinned: list[_PinnedWeight] = []
    trainable: list[nn.Parameter] = []
    for node in simulation.graph.nodes:
        if node.op != "call_function" or node.name not in float_nodes or op_name(node) not in TRAINED_OPS:
            continue
        float_node = float_nodes[node.name]
        for position, argument in enumerate(node.args[1:3], start=1):
            if not isinstance(argument, fx.Node):
                continue
            quantiser = None
            if argument.op == "call_module" and argument.target.startswith(OBSERVER_PREFIX):
                quantiser, argument = getattr(simulation, argument.target), argument.args[0]
            float_argument = float_node.args[position] if position < len(float_node.args) else None
            if argument.op != "get_attr" or not isinstance(float_argument, fx.Node) or float_argument.op != "get_attr":
                continue
            if quantiser is not None and not isinstance(quantiser, SwitchableFakeQuant):
                continue
            parameter = _as_parameter(simulation, argument.target)
            if quantiser is not None:
                pin = _pin(parameter, quantiser)
                if pin is None:
                    continue
                pinned.append(pin)
            weights[argument.target] = float_argument.target
            trainable.append(parameter)
    crops = torch.cat(list(batches))
    fixed = [batch[:, :, :CROP, :CROP] for batch in batches]
    before = _output_psnr(simulation, teacher, fixed)

    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(trainable, lr=learning_rate)
    warmup = max(1, round(WARMUP_FRACTION * steps))
    # Linear warm-up, then cosine decay to zero: Adam's first steps are the noisiest.
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(
        (step + 1) / warmup, 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, (step + 1 - warmup) / max(1, steps - warmup)))))
    ))
    height, width = crops.shape[2:]
    crop = min(CROP, height, width)
    for parameter in trainable:
        parameter.requires_grad_(True)
    report_every = max(1, math.ceil(steps / PROGRESS_REPORTS))
    training_started, interval_loss = time.perf_counter(), 0.0
    for step in range(1, steps + 1):
        index = torch.randint(0, crops.shape[0], (BATCH,), generator=generator)
        top = int(torch.randint(0, height - crop + 1, (1,), generator=generator))
        left = int(torch.randint(0, width - crop + 1, (1,), generator=generator))
        x = crops[index, :, top : top + crop, left : left + crop]
        if bool(torch.randint(0, 2, (1,), generator=generator)):
            x = x.flip(-1)
        with torch.no_grad():
            target = teacher(x)
        loss = F.mse_loss(simulation(x), target)
        optimizer.zero_grad(set_to_none=False)
        loss.backward()
        interval_loss += float(loss.detach())
        for pin in pinned:
            pin.parameter.grad.mul_(pin.free)
        optimizer.step()
        schedule.step()
        with torch.no_grad():
            for pin in pinned:
                pin.constrain()
        if progress is not None and (step % report_every == 0 or step == steps):
            interval = report_every if step % report_every == 0 else step % report_every
            elapsed = time.perf_counter() - training_started
            progress(
                f"step {step}/{steps}: {10 * math.log10(interval / max(interval_loss, 1e-12)):.1f} dB from float"
                f" on the training crops, {_duration(elapsed * (steps - step) / step)} left"
            )
            interval_loss = 0.0
    for parameter in trainable:
        parameter.requires_grad_(False)
    after = _output_psnr(simulation, teacher, fixed)

    if after > before:
        for target, float_target in weights.items():
            value = graph_tensor(simulation, target).detach()
            graph_tensor(prepared, target).data.copy_(value)
            graph_tensor(float_graph, float_target).data.copy_(value)
    return ReconstructionReport(
        steps=steps, learning_rate=learning_rate, trained_tensors=len(trainable),
        output_psnr_before_db=before, output_psnr_after_db=max(before, after),
        seconds=time.perf_counter() - started,
    )
