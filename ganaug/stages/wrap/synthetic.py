"""Synthetic images as torchvision-style data sets: a set written by `ganaug augment`, or fresh from a run.

Both yield (image, target) with `transform` / `target_transform`, and both are
sources for AugmentedDataset, which asks them for `select` (which images to
use), `fetch` (one raw uint8 image and what is known about it) and `known_info`
(what is known about images before any is read, for `targets`).

`argmax-dynamic` targets are decided by the model inside AugmentedLoss; until
then they are rows of NaN, so that a plain `nn.CrossEntropyLoss` gives a NaN
loss at the first synthetic batch instead of silently training on zero loss.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ganaug.errors import UsageError
from ganaug.labels import LABELLERS, Labeller, Quotas, SampleInfo, create_labeller
from ganaug.runs.synthset import SynthSet
from ganaug.stages.wrap.arguments import check_callable, check_choice, check_index, check_path
from ganaug.stages.wrap.images import ImageKind, convert

PIL_KIND = {1: ImageKind("pil", 1, 0, 0, mode="L"), 3: ImageKind("pil", 3, 0, 0, mode="RGB")}
NO_CLASS = -1
"""A `targets` entry for an image given no single class, as torchvision's STL10 marks its unlabelled images."""


def synthetic_targets(labeller: Labeller, info: SampleInfo, num_classes: int) -> Tensor:
    """The labeller's targets, with dynamic placeholders made NaN: the labeller's all-zero rows would give a
    plain cross-entropy zero loss without a word, NaN rows make it NaN; AugmentedLoss fills them in."""
    targets = labeller.targets(info, num_classes)
    return torch.full_like(targets, torch.nan) if labeller.dynamic else targets


def class_targets(labeller: Labeller, info: SampleInfo, num_classes: int) -> Tensor:
    """One int per image, as torchvision's `targets`: the class the strategy gives it (conditional: the class it
    was generated for; argmax and soft: the teacher's top class); K, the extra output's index, for `extra`; and
    NO_CLASS (-1) where the strategy gives no one class (uniform, argmax-dynamic) or the teacher gives it only
    once the image is made (teacher labels on the fly)."""
    if labeller.extra_output:
        return torch.full((info.count,), num_classes)
    if labeller.needs_teacher and info.teacher_probs is None:
        return torch.full((info.count,), NO_CLASS)
    assigned = labeller.assigned_class(info)
    return torch.full((info.count,), NO_CLASS) if assigned is None else assigned


def draw_rows(available: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """n different rows of `available`, in the order drawn: AugmentedDataset keeps them sorted, and `compare`
    trains on them in this order (its recorded results depend on it), so both pick the same images for a seed."""
    return rng.choice(available, n, replace=False)


def draw_per_class(classes: np.ndarray, per_class: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """per_class[c] different rows of class c (`classes`: each row's), class by class in the order drawn; shared by
    AugmentedDataset's per-class quotas and compare's `balance` cells, so both pick the same images for a seed."""
    return np.concatenate([rng.choice(np.flatnonzero(classes == c), n, replace=False)
                           for c, n in enumerate(per_class)]).astype(np.int64)


def dataset_repr(name: str, lines: Iterable[str]) -> str:
    """torchvision's layout: the class name, then one indented line per fact (a multi-line value stays indented)."""
    return "\n".join([name, *("    " + line for text in lines for line in text.splitlines())])


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
    def classes(self) -> list[str]:
        """The class names, as torchvision data sets have them."""
        return list(self.class_names)

    @property
    def num_outputs(self) -> int:
        """Outputs the classifier needs for these targets: K, or K + 1 for `extra`."""
        return self.labeller.num_outputs(self.num_classes)

    def describe(self) -> str:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def select(self, n: int | None, quotas: Quotas | None, rng: np.random.Generator) -> Sequence[int]:
        """Keys of the images to use, reproducible from rng (n None: all the source offers)."""
        raise NotImplementedError

    def fetch(self, key: int) -> tuple[Tensor, SampleInfo]:
        """One uint8 C x S x S image and its SampleInfo (of length 1)."""
        raise NotImplementedError

    def known_info(self, keys: Sequence[int]) -> SampleInfo:
        """What is known about the images of `keys` (from `select`) before any is read or made."""
        raise NotImplementedError

    def __repr__(self) -> str:
        transforms = (("Transform", self.transform), ("Target transform", self.target_transform))
        return dataset_repr(type(self).__name__, [
            f"Number of datapoints: {len(self)}", f"Source: {self.describe()}",
            f"Classes: {self.num_classes}, labels {self.labeller.name!r}",
            *(f"{name}: {value!r}" for name, value in transforms if value is not None)])

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
    classes: the class names; targets: one int per image, read from the set's table (no image is loaded):
        the class the strategy gives it, K (the extra output) for `extra`, -1 for uniform and argmax-dynamic.
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

    @property
    def targets(self) -> list[int]:
        """Each image's class as an int, torchvision style (see class_targets); its item's target is the vector."""
        return class_targets(self.labeller, self._info, self.num_classes).tolist()

    def known_info(self, keys: Sequence[int]) -> SampleInfo:
        return self._info.take(torch.as_tensor(keys, dtype=torch.long))

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
            for cls, wanted in enumerate(quotas.per_class):
                if wanted > (available := int((classes == cls).sum())):
                    raise UsageError(f"{wanted} synthetic images of class {self.class_names[cls]!r} were asked for "
                                     f"but {self.describe()} has {available}; generate more with ganaug augment")
            return sorted(draw_per_class(classes, quotas.per_class, rng).tolist())
        n = len(self) if n is None else n
        if n > len(self):
            raise UsageError(f"{n} synthetic images were asked for but {self.describe()} has {len(self)}; "
                             "lower the ratio or count, or generate more with ganaug augment --count")
        return sorted(draw_rows(len(self), n, rng).tolist())

    def fetch(self, key: int) -> tuple[Tensor, SampleInfo]:
        return self.synthset.image(key), self._info.take(slice(key, key + 1))

