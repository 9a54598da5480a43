"""Checkpoints that load without unpickling: tensors in safetensors, the rest in JSON.

A checkpoint is a folder `checkpoints/step_000300/` written under a temporary
name and renamed when complete, so the newest folder is always whole.
It holds the generator, discriminator and EMA generator weights, both
optimisers, the batch sampler, the RNG states, the LeCam anchors, the ADA
strength and its accumulators, and the step. A run on N processes also keeps
ranks 1..N-1's random streams (rank.R.*), so that a resume on N processes
continues exactly; any other number of processes (or an older ganaug) reads
the same checkpoint as a single process's.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pydantic
import torch
from torch import Tensor

from ganaug import __version__
from ganaug.data.batches import InMemoryBatches
from ganaug.errors import RunDirError, TrainingDiverged
from ganaug.gan.ada import AdaptiveStrength
from ganaug.gan.ema import EmaGenerator
from ganaug.gan.lecam import LeCam
from ganaug.gan.loss_scaling import LossScalers
from ganaug.gan.models import Discriminator, GanSpec, Generator, Trainable
from ganaug.io import atomic_dir, first_line, read_json
from ganaug.tensorfile import load_into, load_tensors, save_tensors

FORMAT = 3
"""3: the LeCam anchors (lecam.*) and the ADA state (ada.*); 2 (still read): the training step's own RNG stream
(rng.step); 1 (still read): torch's global CPU RNG (rng.cpu). Formats 1 and 2 predate LeCam and ADA (their runs
had neither), so they load with anchors 0 and p 0."""
READABLE = (1, 2, 3)
EMA_FILE = "ema_generator.safetensors"
BEST_INFO = "best.json"
RANK_PREFIX = "rank"
"""training_state's tensors of ranks 1..N-1 are named rank.R.rng.step, rank.R.batches.* (rank 0's unprefixed)."""
RESUME_ADVICE = "delete that checkpoint folder to resume from an older one"


class CheckpointState(pydantic.BaseModel):
    """state.json: what a checkpoint holds besides tensors."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)
    format: int
    ganaug: str
    step: int = pydantic.Field(ge=0)
    ema_updates: int = pydantic.Field(ge=0)
    optimizers: dict[str, dict]


@dataclass
class GanParts:
    """Everything a checkpoint must hold to continue training exactly, and the spec the models were built from."""

    generator: Generator
    discriminator: Discriminator
    ema: EmaGenerator
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    rng: torch.Generator
    """The training step's own random stream (noise, DiffAugment, penalties): torch's global RNG is never used."""
    spec: GanSpec
    """Where z_dim and the number of classes come from (not the modules, which a DDP wrapper would hide)."""
    lecam: LeCam = field(default_factory=LeCam)
    """The discriminator's LeCam term and its anchors (off by default)."""
    ada: AdaptiveStrength = field(default_factory=AdaptiveStrength)
    """The adaptive augmentation strength p and its interval's accumulators (off by default)."""
    scalers: LossScalers = field(default_factory=LossScalers)
    """fp16's loss scales for D's and G's updates (disabled otherwise)."""


def checkpoint_name(step: int) -> str:
    return f"step_{step:07d}"


def list_checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints, oldest first (temporary folders start with '.' and are ignored)."""
    return sorted(p for p in folder.glob("step_*") if (p / "state.json").is_file())


def stream_state(parts: GanParts, batches: InMemoryBatches) -> dict[str, Tensor]:
    """This process's random streams: the training step's and the batch sampler's (its own on each rank)."""
    return {"rng.step": parts.rng.get_state(), **{f"batches.{k}": v for k, v in batches.state_dict().items()}}


def save_checkpoint(folder: Path, step: int, parts: GanParts, batches: InMemoryBatches,
                    other_ranks: Sequence[dict[str, Tensor]] = ()) -> Path:
    """Write checkpoints/step_XXXXXXX/ whole or not at all; weights that are not finite are never written.
    other_ranks: the stream_state of ranks 1..N-1 when N processes train."""
    modules = {"generator": parts.generator, "discriminator": parts.discriminator, "ema generator": parts.ema.ready()}
    check_finite(modules, step)
    target = folder / checkpoint_name(step)
    training = stream_state(parts, batches)
    for rank, streams in enumerate(other_ranks, start=1):
        training.update({f"{RANK_PREFIX}.{rank}.{k}": v for k, v in streams.items()})
    for prefix, tensors in (("lecam", parts.lecam.state_dict()), ("ada", parts.ada.state_dict()),
                            ("scaler", parts.scalers.state_dict())):
        training.update({f"{prefix}.{k}": v for k, v in tensors.items()})
    optimizers = {}
    for name, opt in (("opt_g", parts.opt_g), ("opt_d", parts.opt_d)):
        tensors, meta = _split_optimizer_state(opt)
        training.update({f"{name}.{k}": v for k, v in tensors.items()})
        optimizers[name] = meta
    state = {"format": FORMAT, "ganaug": __version__, "step": step, "ema_updates": parts.ema.updates,
             "optimizers": optimizers}
    with atomic_dir(target) as tmp:
        save_tensors(tmp / "generator.safetensors", parts.generator.state_dict())
        save_tensors(tmp / "discriminator.safetensors", parts.discriminator.state_dict())
        save_tensors(tmp / EMA_FILE, parts.ema.module.state_dict())
        save_tensors(tmp / "training_state.safetensors", training)
        (tmp / "state.json").write_text(json.dumps(state, indent=1))
    return target


def save_best(folder: Path, step: int, parts: GanParts, metrics: dict) -> None:
    """The generator worth sampling from: EMA weights (and D, for scoring samples) plus the metrics that chose it."""
    check_finite({"ema generator": parts.ema.ready(), "discriminator": parts.discriminator}, step)
    with atomic_dir(folder) as tmp:
        save_tensors(tmp / EMA_FILE, parts.ema.module.state_dict())
        save_tensors(tmp / "discriminator.safetensors", parts.discriminator.state_dict())
        (tmp / BEST_INFO).write_text(json.dumps({"step": step, **metrics}, indent=1))


def check_finite(modules: Mapping[str, Trainable], step: int) -> None:
    """Raise TrainingDiverged if any weight or buffer is NaN or infinite (one host sync for all of them)."""
    tensors = [(f"{owner} {name}", t) for owner, module in modules.items()
               for name, t in module.state_dict().items() if t.is_floating_point()]
    if torch.stack([t.isfinite().all() for _, t in tensors]).all():
        return
    bad = next(name for name, t in tensors if not t.isfinite().all())
    raise TrainingDiverged(f"training diverged: {bad} is not finite at step {step}")


class Restored(NamedTuple):
    """What load_checkpoint restored: the step, and whether this process's random streams continue (False on a
    rank above 0 when another number of processes wrote the checkpoint: that rank must start new streams)."""

    step: int
    streams: bool


def load_checkpoint(path: Path, parts: GanParts, batches: InMemoryBatches, rank: int = 0,
                    world_size: int = 1) -> Restored:
    """Restore everything saved by save_checkpoint, and rank `rank`'s random streams where the checkpoint holds
    them. A damaged checkpoint is a RunDirError."""
    state = read_state(path)
    device = str(next(parts.generator.parameters()).device)
    advice = f"{RESUME_ADVICE} ({path})"
    load_into(parts.generator, path / "generator.safetensors", advice=advice, device=device)
    load_into(parts.discriminator, path / "discriminator.safetensors", advice=advice, device=device)
    load_into(parts.ema.module, path / EMA_FILE, advice=advice, device=device)
    training = load_tensors(path / "training_state.safetensors", advice=advice)
    streams = _own_streams(training, rank, world_size)
    try:
        parts.ema.updates = state.ema_updates
        for name, opt in (("opt_g", parts.opt_g), ("opt_d", parts.opt_d)):
            opt.load_state_dict(_join_optimizer_state(_prefixed(training, name), state.optimizers[name]))
            _check_optimizer(opt)
        if streams is not None:
            batches.load_state_dict(_prefixed(streams, "batches"))
            parts.rng.set_state(streams["rng.step" if state.format >= 2 else "rng.cpu"])
        if state.format >= 3:  # older checkpoints leave the fresh parts' anchors 0 and p 0 (FORMAT)
            parts.lecam.load_state_dict(_prefixed(training, "lecam"))
            parts.ada.load_state_dict(_prefixed(training, "ada"))
        parts.scalers.load_state_dict(_prefixed(training, "scaler"))  # absent before fp16 scales were saved
    except (KeyError, ValueError, RuntimeError, TypeError, IndexError) as e:
        raise RunDirError(f"checkpoint {path} is damaged ({first_line(e)}); {RESUME_ADVICE}") from None
    return Restored(state.step, streams is not None)


def _own_streams(training: dict[str, Tensor], rank: int, world_size: int) -> dict[str, Tensor] | None:
    """Rank 0's streams are the unprefixed ones; a rank above 0 has its own only in a checkpoint that a run on
    `world_size` processes wrote (None otherwise)."""
    if rank == 0:
        return training
    saved = {key.split(".")[1] for key in training if key.startswith(f"{RANK_PREFIX}.")}
    if saved != {str(r) for r in range(1, world_size)}:
        return None
    return _prefixed(training, f"{RANK_PREFIX}.{rank}")


def read_state(path: Path) -> CheckpointState:
    """A checkpoint's state.json, checked."""
    raw = read_json(path / "state.json")
    try:
        state = CheckpointState.model_validate(raw)
    except pydantic.ValidationError as e:
        item = e.errors()[0]
        where = ".".join(map(str, item["loc"])) or "state.json"
        raise RunDirError(f"checkpoint {path} is damaged (state.json: {where}: {item['msg']}); "
                          f"{RESUME_ADVICE}") from None
    if state.format not in READABLE:
        raise RunDirError(f"checkpoint {path} has format {state.format}; this ganaug reads formats "
                          f"{', '.join(map(str, READABLE))}: resume it with the ganaug that wrote it")
    return state


def prune_checkpoints(folder: Path, keep: int) -> None:
    for old in list_checkpoints(folder)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def _prefixed(tensors: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """The tensors saved under `prefix.`, without it."""
    return {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(f"{prefix}.")}


def _check_optimizer(opt: torch.optim.Optimizer) -> None:
    """Optimiser state must match its parameters' shapes, or the first step after resuming would fail."""
    for group in opt.param_groups:
        for param in group["params"]:
            for key, value in opt.state.get(param, {}).items():
                if isinstance(value, Tensor) and value.dim() > 0 and value.shape != param.shape:
                    raise ValueError(f"optimiser state {key!r} has shape {tuple(value.shape)}, "
                                     f"its parameter {tuple(param.shape)}")


def _split_optimizer_state(opt: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict]:
    """Optimizer state_dict -> (tensors keyed 'state.<param>.<name>', JSON-able rest)."""
    sd = opt.state_dict()
    tensors: dict[str, Tensor] = {}
    other: dict[str, dict] = {}
    for index, param_state in sd["state"].items():
        for key, value in param_state.items():
            if isinstance(value, Tensor):
                tensors[f"state.{index}.{key}"] = value
            else:
                other.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": sd["param_groups"], "state": other}


def _join_optimizer_state(tensors: dict[str, Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {int(i): dict(values) for i, values in meta["state"].items()}
    for key, value in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    return {"state": state, "param_groups": meta["param_groups"]}
