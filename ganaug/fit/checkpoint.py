"""Checkpoints that load without unpickling: tensors in safetensors, the rest in JSON.

A checkpoint is a folder `checkpoints/step_000300/` written under a temporary
name and renamed when complete, so the newest folder is always whole.
It holds the generator, discriminator and EMA generator weights, both
optimisers, the batch sampler, the RNG states and the step.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from ganaug import __version__
from ganaug.data.batches import InMemoryBatches
from ganaug.errors import RunDirError
from ganaug.fit.step import GanParts
from ganaug.io import atomic_dir

FORMAT = 1
EMA_FILE = "ema_generator.safetensors"
BEST_INFO = "best.json"


def checkpoint_name(step: int) -> str:
    return f"step_{step:07d}"


def list_checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints, oldest first (temporary folders start with '.' and are ignored)."""
    return sorted(p for p in folder.glob("step_*") if (p / "state.json").is_file())


def save_checkpoint(folder: Path, step: int, parts: GanParts, batches: InMemoryBatches) -> Path:
    target = folder / checkpoint_name(step)
    training: dict[str, Tensor] = {"rng.cpu": torch.get_rng_state()}
    if torch.cuda.is_initialized():
        training.update({f"rng.cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    training.update({f"batches.{k}": v for k, v in batches.state_dict().items()})
    optimizers = {}
    for name, opt in (("opt_g", parts.opt_g), ("opt_d", parts.opt_d)):
        tensors, meta = _split_optimizer_state(opt)
        training.update({f"{name}.{k}": v for k, v in tensors.items()})
        optimizers[name] = meta
    state = {"format": FORMAT, "ganaug": __version__, "step": step, "ema_updates": parts.ema.updates,
             "optimizers": optimizers}
    with atomic_dir(target) as tmp:
        _save(parts.generator.state_dict(), tmp / "generator.safetensors")
        _save(parts.discriminator.state_dict(), tmp / "discriminator.safetensors")
        _save(parts.ema.module.state_dict(), tmp / EMA_FILE)
        _save(training, tmp / "training_state.safetensors")
        (tmp / "state.json").write_text(json.dumps(state, indent=1))
    return target


def save_best(folder: Path, step: int, parts: GanParts, metrics: dict) -> None:
    """The generator worth sampling from: EMA weights (and D, for scoring samples) plus the metrics that chose it."""
    with atomic_dir(folder) as tmp:
        _save(parts.ema.module.state_dict(), tmp / EMA_FILE)
        _save(parts.discriminator.state_dict(), tmp / "discriminator.safetensors")
        (tmp / BEST_INFO).write_text(json.dumps({"step": step, **metrics}, indent=1))


def load_checkpoint(path: Path, parts: GanParts, batches: InMemoryBatches) -> int:
    """Restore everything saved by save_checkpoint; returns the step."""
    try:
        state = json.loads((path / "state.json").read_text())
        device = next(parts.generator.parameters()).device
        parts.generator.load_state_dict(load_file(path / "generator.safetensors", device=str(device)))
        parts.discriminator.load_state_dict(load_file(path / "discriminator.safetensors", device=str(device)))
        parts.ema.module.load_state_dict(load_file(path / EMA_FILE, device=str(device)))
        training = load_file(path / "training_state.safetensors")
    except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as e:
        raise RunDirError(f"checkpoint {path} cannot be loaded ({str(e).splitlines()[0]}); delete it to resume from an older one") from None
    if state.get("format") != FORMAT:
        raise RunDirError(f"checkpoint {path} has format {state.get('format')}, this ganaug reads {FORMAT}")
    parts.ema.updates = state["ema_updates"]
    for name, opt in (("opt_g", parts.opt_g), ("opt_d", parts.opt_d)):
        tensors = {k[len(name) + 1 :]: v for k, v in training.items() if k.startswith(f"{name}.")}
        opt.load_state_dict(_join_optimizer_state(tensors, state["optimizers"][name]))
    batches.load_state_dict({k[len("batches.") :]: v for k, v in training.items() if k.startswith("batches.")})
    torch.set_rng_state(training["rng.cpu"])
    cuda_states = [training[k] for k in sorted(training) if k.startswith("rng.cuda.")]
    if cuda_states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda_states)
    return int(state["step"])


def prune_checkpoints(folder: Path, keep: int) -> None:
    for old in list_checkpoints(folder)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def _save(tensors: dict[str, Tensor], path: Path) -> None:
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(path))


def _split_optimizer_state(opt: torch.optim.Optimizer) -> tuple[dict[str, Tensor], dict]:
    """Optimizer state_dict -> (tensors keyed 'state.<param>.<name>', JSON-able rest)."""
    sd = opt.state_dict()
    tensors, other = {}, {}
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
