"""A run's EMA generator, loaded for sampling: the one object later stages need from `fit`.

Every image is made from its own seed, so the per-sample table's `seed` (and
the class, for conditional runs) regenerates exactly that image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ganaug.data.pixels import to_uint8
from ganaug.device import autocast_dtype, resolve_device
from ganaug.errors import RunDirError
from ganaug.gan.derived_state import refresh_derived_state
from ganaug.gan.models import Generator, create_gan
from ganaug.runs.checkpoint import EMA_FILE, checkpoint_name, list_checkpoints
from ganaug.runs.run_dir import RunDir
from ganaug.runs.spec import gan_spec
from ganaug.tensorfile import load_into


@dataclass
class RunGenerator:
    module: Generator
    run: RunDir
    checkpoint: str
    """The checkpoint folder the weights came from, relative to the run (provenance)."""
    class_names: list[str]
    channels: int
    image_size: int
    z_dim: int
    conditional: bool
    source: str
    fingerprint: str
    """The training data's fingerprint, to match synthetic sets to the data they imitate."""
    autocast: torch.dtype | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def device(self) -> torch.device:
        return next(self.module.parameters()).device

    @classmethod
    def load(cls, run_dir: str | Path, checkpoint: str | int | None = None, device: str = "auto") -> RunGenerator:
        """checkpoint: a step number, a checkpoint folder, or "best" (lowest validation FID); None takes the newest."""
        run = RunDir.open(Path(run_dir))
        recipe = run.load_recipe()
        data = run.data_record(recipe)  # checked against split.json and config.toml, each read once
        folder = checkpoint_folder(run, checkpoint)
        torch_device = resolve_device(device)
        spec = gan_spec(recipe, data.channels, data.image_size, len(data.classes))
        generator, _ = create_gan(recipe.model.name, spec)
        load_into(generator, folder / EMA_FILE, advice="pick another --checkpoint")
        memory_format = torch.channels_last if recipe.train.channels_last else torch.contiguous_format
        generator.to(torch_device, memory_format=memory_format).eval().requires_grad_(False)
        # checkpoints written before 2026-12-02 hold averaged u, v and statistics; later ones change next to nothing
        refresh_derived_state(generator, spec.z_dim, spec.num_classes)
        return cls(generator, run, str(folder.relative_to(run.root)), list(data.classes), data.channels,
                   data.image_size, spec.z_dim, spec.num_classes > 0, data.source,
                   data.fingerprint, autocast_dtype(recipe.train.precision, torch_device))

    def noise(self, seeds: Tensor) -> Tensor:
        """One z per 64-bit seed (numpy's SeedSequence uses every bit; torch's CPU generator only 32)."""
        return torch.from_numpy(np.stack([
            np.random.default_rng(int(s)).standard_normal(self.z_dim, dtype=np.float32) for s in seeds.tolist()
        ]).reshape(len(seeds), self.z_dim))

    @torch.no_grad()
    def generate(self, seeds: Tensor, labels: Tensor | None = None) -> Tensor:
        """uint8 images, N x C x S x S, one per seed (labels: the classes, for conditional runs)."""
        if self.conditional and labels is None:
            raise ValueError("a conditional run's generator needs a class per image")
        device = self.device
        z = self.noise(seeds).to(device)
        y = labels.to(device) if self.conditional and labels is not None else None
        with torch.autocast(device.type, dtype=self.autocast, enabled=self.autocast is not None):
            images = self.module(z, y)
        return to_uint8(images).cpu().contiguous()


def checkpoint_folder(run: RunDir, checkpoint: str | int | None) -> Path:
    """The folder of `checkpoint` (a step, a folder, "best", or None for the newest), or one line saying why not."""
    found = list_checkpoints(run.checkpoints)
    if not found:
        raise RunDirError(f"{run.root} has no complete checkpoint yet; let ganaug fit run past log.checkpoint_every")
    if checkpoint is None:
        return found[-1]
    if checkpoint == "best":
        if run.best_step() is None:
            raise RunDirError(f"{run.root} has no best checkpoint; fit with eval.every > 0 to keep one, "
                              "or leave out --checkpoint for the newest")
        return run.best
    if isinstance(checkpoint, int) or str(checkpoint).isdigit():
        folder = run.checkpoints / checkpoint_name(int(checkpoint))
    else:
        folder = Path(checkpoint) if Path(checkpoint).is_absolute() else run.root / checkpoint
    if folder not in found and folder.resolve() not in [f.resolve() for f in found]:
        steps = ", ".join(str(int(f.name.split("_")[1])) for f in found)
        raise RunDirError(f"checkpoint {checkpoint!r} is not in {run.root}; it has steps {steps}")
    return folder
