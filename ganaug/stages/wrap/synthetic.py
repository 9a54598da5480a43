"""Synthetic images as torchvision-style data sets: a set written by `ganaug augment`, or fresh from a run.

Both yield (image, target) with `transform` / `target_transform`, and both are
sources for AugmentedDataset, which asks them for `select` (which images to
use) and `fetch` (one raw uint8 image and what is known about it).

`argmax-dynamic` targets are decided by the model inside AugmentedLoss; until
then they are rows of NaN, so that a plain `nn.CrossEntropyLoss` gives a NaN
loss at the first synthetic batch instead of silently training on zero loss.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ganaug.labels import LABELLERS, Labeller, Quotas, SampleInfo, create_labeller
from ganaug.runs.synthset import SynthSet
from ganaug.errors import UsageError
from ganaug.stages.wrap.arguments import check_callable, check_choice, check_index, check_path
from ganaug.stages.wrap.images import ImageKind, convert

PIL_KIND = {1: ImageKind("pil", 1, 0, 0, mode="L"), 3: ImageKind("pil", 3, 0, 0, mode="RGB")}


def synthetic_targets(labeller: Labeller, info: SampleInfo, num_classes: int) -> Tensor:
    """The labeller's targets, with dynamic placeholders made NaN: the labeller's all-zero rows would give a
    plain cross-entropy zero loss without a word, NaN rows make it NaN; AugmentedLoss fills them in."""
    targets = labeller.targets(info, num_classes)
    return torch.full_like(targets, torch.nan) if labeller.dynamic else targets


class SyntheticSource(Dataset):
    """What AugmentedDataset needs from synthetic images; subclasses say where they come from."""

    labeller: Labeller
    class_names: list[str]
    channels: int
    image_size: int
    conditional: bool
    has_teacher: bool
    transform: Callable | None = None
    target_transform: Callable | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_outputs(self) -> int:
        """Outputs the classifier needs for these targets: K, or K + 1 for `extra`."""
        return self.labeller.num_outputs(self.num_classes)

    def describe(self) -> str:
        raise NotImplementedError

    def select(self, n: int | None, quotas: Quotas | None, rng: np.random.Generator) -> list[int]:
        """Keys of the images to use, reproducible from rng (n None: all the source offers)."""
        raise NotImplementedError

    def fetch(self, key: int) -> tuple[Tensor, SampleInfo]:
        """One uint8 C x S x S image and its SampleInfo (of length 1)."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[Any, Tensor]:
        image, info = self.fetch(self._key(check_index(index, len(self), f"a {type(self).__name__}")))
        target = synthetic_targets(self.labeller, info, self.num_classes)[0]
        image = convert(image, PIL_KIND[self.channels])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def _key(self, index: int) -> int:
        return index


class SyntheticDataset(SyntheticSource):
    """A synthetic set written by `ganaug augment`: PIL images and probability-vector targets.

    labels: the labelling strategy (default: the one the set was made for).
    A wrong argument type is a WrongTypeError (a TypeError), an unusable value a UsageError (a ValueError).
    """

    def __init__(self, root: str | Path, *, labels: str | None = None, transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        root = check_path("root", root, what="a synthetic set from ganaug augment")
        check_choice("labels", labels, LABELLERS.names(), optional=True, meaning="a labelling strategy")
        transform = check_callable("transform", transform)
        target_transform = check_callable("target_transform", target_transform)
        self.synthset = SynthSet(root)
        s = self.synthset
        self.class_names, self.channels, self.image_size = s.class_names, s.channels, s.image_size
        self.conditional, self.has_teacher = s.conditional, s.has_teacher
        self.labeller = create_labeller(labels or s.manifest["labels"])
        self.labeller.check(conditional=self.conditional, has_teacher=self.has_teacher, where=self.describe())
        self.transform, self.target_transform = transform, target_transform
        self._info = self.synthset.sample_info()

    def describe(self) -> str:
        return f"the synthetic set {str(self.synthset.root)!r}"

    def __len__(self) -> int:
        return len(self.synthset)

    def classes_of_rows(self) -> Tensor:
        """Each image's class: the class it was generated for, else the teacher's choice."""
        classes = self._info.classes()
        if classes is not None:
            return classes
        raise UsageError(f"per-class quotas need to know each image's class, but {self.describe()} is from an "
                         "unconditional run without a teacher; make it with ganaug augment --per-class")

    def select(self, n: int | None, quotas: Quotas | None, rng: np.random.Generator) -> list[int]:
        if quotas is not None and quotas.per_class is not None:
            classes = self.classes_of_rows().numpy()
            chosen = []
            for cls, wanted in enumerate(quotas.per_class):
                rows = np.flatnonzero(classes == cls)
                if wanted > len(rows):
                    raise UsageError(f"{wanted} synthetic images of class {self.class_names[cls]!r} were asked for "
                                     f"but {self.describe()} has {len(rows)}; generate more with ganaug augment")
                chosen.extend(rng.choice(rows, wanted, replace=False).tolist())
            return sorted(chosen)
        n = len(self) if n is None else n
        if n > len(self):
            raise UsageError(f"{n} synthetic images were asked for but {self.describe()} has {len(self)}; "
                             "lower the ratio or count, or generate more with ganaug augment --count")
        return sorted(rng.choice(len(self), n, replace=False).tolist())

    def fetch(self, key: int) -> tuple[Tensor, SampleInfo]:
        return self.synthset.image(key), self._info.take(slice(key, key + 1))

