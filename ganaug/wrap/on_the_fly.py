"""Synthetic images drawn fresh from a run's generator at every access: no disk, new images each epoch.

Images are generated a small batch at a time (one buffer per class) and handed
out one by one. Each process (the main one or a DataLoader worker) draws from
its own random stream, seeded from `seed` and torch's per-worker seed, so
workers never duplicate each other's images and each epoch sees new ones.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ganaug.augment.generator import RunGenerator
from ganaug.augment.labellers import SampleInfo, create_labeller, default_strategy
from ganaug.augment.quotas import Quotas
from ganaug.teacher import get_teacher
from ganaug.errors import GanaugError
from ganaug.wrap.synthetic import SyntheticSource

UNCONDITIONED = -1


class OnTheFlySynthetic(SyntheticSource):
    """`count` fresh images per pass from the run in `run_dir` (conditional runs cycle through the classes).

    teacher: load (or train) the run's teacher, for the argmax and soft strategies.
    device: where the generator runs; with DataLoader workers keep it "cpu".
    """

    def __init__(self, run_dir: str | Path, count: int, *, labels: str | None = None, checkpoint: str | int | None = None,
                 teacher: bool = False, seed: int = 0, device: str = "cpu", buffer: int = 64,
                 transform: Callable | None = None, target_transform: Callable | None = None) -> None:
        if count < 1:
            raise GanaugError(f"count must be at least 1, not {count}")
        self.generator = RunGenerator.load(run_dir, checkpoint, device)
        g = self.generator
        self.class_names, self.channels, self.image_size = g.class_names, g.channels, g.image_size
        self.conditional = g.conditional
        self.teacher = get_teacher(g.run, g.device, progress=False) if teacher else None
        self.has_teacher = self.teacher is not None
        self.labeller = create_labeller(labels or default_strategy(g.conditional))
        self.labeller.check(conditional=self.conditional, has_teacher=self.has_teacher, where=self.describe())
        self.count, self.seed, self.buffer = count, seed, buffer
        self.transform, self.target_transform = transform, target_transform
        self._buffers: dict[int, tuple[Tensor, SampleInfo]] = {}
        self._rng: np.random.Generator | None = None
        self._owner: tuple[int, int] | None = None

    def describe(self) -> str:
        return f"the run {str(self.generator.run.root)!r}" + ("" if self.has_teacher else " (no teacher loaded)")

    def __len__(self) -> int:
        return self.count

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_buffers": {}, "_rng": None, "_owner": None}

    def _key(self, index: int) -> int:
        return index % self.num_classes if self.conditional else UNCONDITIONED

    def select(self, n: int | None, quotas: Quotas | None, rng: np.random.Generator) -> list[int]:
        """Keys are classes: the class of each image to draw (UNCONDITIONED for unconditional runs)."""
        if quotas is not None and quotas.per_class is not None:
            if not self.conditional:
                raise GanaugError("per-class quotas on the fly need a conditional run; for an unconditional one, "
                                  "write a set with ganaug augment --per-class (the teacher picks the classes)")
            return [cls for cls, wanted in enumerate(quotas.per_class) for _ in range(wanted)]
        return [self._key(i) for i in range(self.count if n is None else n)]

    def fetch(self, key: int) -> tuple[Tensor, SampleInfo]:
        owner = (os.getpid(), torch.initial_seed())
        if self._owner != owner:  # a new process or DataLoader worker: its own stream, its own buffers
            self._rng, self._owner, self._buffers = np.random.default_rng([self.seed, owner[1] % 2**63]), owner, {}
        images, info = self._buffers.get(key, (torch.empty(0), SampleInfo(0)))
        if len(images) == 0:
            images, info = self._draw(key)
        self._buffers[key] = (images[1:], info.take(slice(1, None)))
        return images[0], info.take(slice(0, 1))

    def _draw(self, key: int) -> tuple[Tensor, SampleInfo]:
        seeds = torch.from_numpy(self._rng.integers(0, 2**62, self.buffer))
        classes = None if key == UNCONDITIONED else torch.full((self.buffer,), key)
        images = self.generator.generate(seeds, classes)
        probs = self.teacher.probabilities(images) if self.teacher else None
        return images, SampleInfo(len(images), classes, probs)

