"""Synthetic images drawn fresh from a run's generator at every access: no disk, new images each epoch.

Images are generated a small batch at a time (one buffer per class) and handed
out one by one. Each process (the main one or a DataLoader worker) draws from
its own random stream, seeded from `seed` and torch's per-worker seed, so
workers never duplicate each other's images and each epoch sees new ones.
"""

from __future__ import annotations

import bisect
import itertools
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ganaug.errors import UsageError
from ganaug.labels import LABELLERS, Quotas, SampleInfo, create_labeller, default_strategy
from ganaug.runs.generator import RunGenerator
from ganaug.runs.teacher import get_teacher
from ganaug.stages.wrap.arguments import (
    MAX_IMAGES,
    check_bool,
    check_callable,
    check_choice,
    check_index,
    check_number,
    check_path,
)
from ganaug.stages.wrap.synthetic import SyntheticSource

UNCONDITIONED = -1
DEVICES = ("auto", "cpu", "cuda")
MAX_BUFFER = 2**16


class OnTheFlySynthetic(SyntheticSource):
    """`count` fresh images per pass from the run in `run_dir` (conditional runs cycle through the classes).

    teacher: load (or train) the run's teacher, for the argmax and soft strategies.
    device: where the generator runs ("cpu", "cuda" or "auto"); with DataLoader workers keep it "cpu".
    A wrong argument type is a WrongTypeError (a TypeError), an unusable value a UsageError (a ValueError).
    """

    def __init__(self, run_dir: str | Path, count: int, *, labels: str | None = None,
                 checkpoint: str | int | None = None, teacher: bool = False, seed: int = 0, device: str = "cpu",
                 buffer: int = 64,
                 transform: Callable | None = None, target_transform: Callable | None = None) -> None:
        run_dir = check_path("run_dir", run_dir, what="a run folder from ganaug fit")
        count = check_number("count", count, minimum=1, maximum=MAX_IMAGES, integer=True,
                             meaning="images per pass")
        check_choice("labels", labels, LABELLERS.names(), optional=True, meaning="a labelling strategy")
        if checkpoint is not None and not isinstance(checkpoint, (str, os.PathLike)):
            checkpoint = check_number("checkpoint", checkpoint, minimum=0, integer=True, meaning="a step number",
                                      hint='or pass a checkpoint folder, "best", or None for the newest')
        teacher = check_bool("teacher", teacher)
        seed = check_number("seed", seed, minimum=0, integer=True, meaning="the seed of the random streams")
        check_choice("device", device, DEVICES, meaning="where the generator runs")
        buffer = check_number("buffer", buffer, minimum=1, maximum=MAX_BUFFER, integer=True,
                              meaning="images generated at a time")
        transform = check_callable("transform", transform)
        target_transform = check_callable("target_transform", target_transform)
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

    def select(self, n: int | None, quotas: Quotas | None, rng: np.random.Generator) -> DrawPlan:
        """Keys are classes: the class of each image to draw (UNCONDITIONED for unconditional runs)."""
        if quotas is not None and quotas.per_class is not None:
            if not self.conditional:
                raise UsageError("per-class quotas on the fly need a conditional run; for an unconditional one, "
                                 "write a set with ganaug augment --per-class (the teacher picks the classes)")
            return DrawPlan(sum(quotas.per_class), per_class=quotas.per_class)
        return DrawPlan(self.count if n is None else n, self.num_classes if self.conditional else None)

    def known_info(self, keys: Sequence[int]) -> SampleInfo:
        """Before an image is made only its class is known, and only in a conditional run (keys are classes)."""
        return SampleInfo(len(keys), torch.as_tensor(list(keys), dtype=torch.long) if self.conditional else None)

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
        assert self._rng is not None, "fetch gives each process its stream before drawing"
        seeds = torch.from_numpy(self._rng.integers(0, 2**62, self.buffer))
        classes = None if key == UNCONDITIONED else torch.full((self.buffer,), key)
        images = self.generator.generate(seeds, classes)
        probs = self.teacher.probabilities(images) if self.teacher else None
        return images, SampleInfo(len(images), classes, probs)


class DrawPlan(Sequence[int]):
    """The class each on-the-fly image is drawn for, worked out per index instead of stored in a list, which
    could not hold a large count: per_class[c] images of class c in turn, or else the classes in a cycle
    (UNCONDITIONED for every image where num_classes is None)."""

    def __init__(self, length: int, num_classes: int | None = None, per_class: Sequence[int] | None = None) -> None:
        self.length, self.num_classes = length, num_classes
        self.starts = None if per_class is None else list(itertools.accumulate(per_class, initial=0))

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.length))]
        index = check_index(index, self.length, "a DrawPlan")
        if self.starts is not None:
            return bisect.bisect_right(self.starts, index) - 1
        return index % self.num_classes if self.num_classes else UNCONDITIONED

    def __eq__(self, other: object) -> bool:  # defining it leaves DrawPlan unhashable (__hash__ None), like a list
        if isinstance(other, DrawPlan):
            return (self.length, self.num_classes, self.starts) == (other.length, other.num_classes, other.starts)
        return isinstance(other, Sequence) and len(other) == self.length and list(self) == list(other)

    def __repr__(self) -> str:
        return f"DrawPlan({self.length} images)"
