"""AugmentedDataset: a real training set plus synthetic images, for any training loop.

Items are (image, target, is_synthetic). Targets are probability vectors of
length `num_outputs` for real and synthetic images alike (one-hot for real
ones), which `nn.CrossEntropyLoss` accepts directly; `is_synthetic` lets a loss
(AugmentedLoss) or a metric treat generated images differently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as TF

from ganaug.augment.labellers import create_labeller
from ganaug.augment.quotas import plan_quotas
from ganaug.errors import GanaugError
from ganaug.wrap.images import ImageKind, convert, describe, find_num_classes, find_transform, raw_view
from ganaug.wrap.synthetic import SyntheticDataset, SyntheticSource

AUTO = "auto"


class AugmentedDataset(Dataset):
    """`real` (a map-style data set of (image, int label)) followed by synthetic images.

    synthetic: a SyntheticDataset, an OnTheFlySynthetic, or the path of a set from `ganaug augment`.
    labels: the labelling strategy (default: the synthetic source's).
    ratio | count | per_class: how many synthetic images, as synthetic per real image, a number, or
        per-class quotas ({class: n} or n for each); sampled without replacement, reproducibly from `seed`.
        None of them: every image of a fixed set.
    transform: applied to synthetic images; "auto" uses the real data set's own `transform`, and
        synthetic images are first made the same kind of object as its raw images (e.g. PIL).
    resize: resize synthetic images to the real images' size (e.g. a 32 px GAN for 28 px MNIST);
        without it a size mismatch is an error.
    """

    def __init__(self, real: Dataset, synthetic: SyntheticSource | str | Path, *, labels: str | None = None,
                 ratio: float | None = None, count: int | None = None,
                 per_class: int | Mapping[int | str, int] | None = None, seed: int = 0,
                 transform: Callable | str | None = AUTO, resize: bool = False) -> None:
        self.real = real
        self.synthetic = SyntheticDataset(synthetic) if isinstance(synthetic, (str, Path)) else synthetic
        self.labeller = create_labeller(labels) if labels else self.synthetic.labeller
        self.labeller.check(conditional=self.synthetic.conditional, has_teacher=self.synthetic.has_teacher,
                            where=self.synthetic.describe())
        self.num_classes = self.synthetic.num_classes
        self.num_outputs = self.labeller.num_outputs(self.num_classes)
        """Outputs the classifier needs: K, or K + 1 for the `extra` strategy (only the first K count at test time)."""
        self._check_classes()
        self.kind = self._check_images(resize)
        self.transform = find_transform(real) if transform == AUTO else transform
        self.keys = self.synthetic.select(self._how_many(ratio, count, per_class), _quotas(per_class, self.synthetic),
                                          np.random.default_rng(seed))

    @property
    def real_count(self) -> int:
        return len(self.real)

    @property
    def synthetic_count(self) -> int:
        return len(self.keys)

    def __len__(self) -> int:
        return self.real_count + self.synthetic_count

    def __getitem__(self, index: int) -> tuple[Any, Tensor, bool]:
        if index < 0:
            index += len(self)
        if index < self.real_count:
            image, label = self.real[index]
            target = torch.zeros(self.num_outputs)
            target[int(label)] = 1.0
            return image, target, False
        raw, info = self.synthetic.fetch(self.keys[index - self.real_count])
        if raw.shape[-2:] != (self.kind.height, self.kind.width):
            raw = TF.resize(raw, [self.kind.height, self.kind.width], antialias=True)
        image = convert(raw, self.kind)
        if self.transform is not None:
            image = self.transform(image)
        return image, self.labeller.targets(info, self.num_classes)[0], True

    def _how_many(self, ratio: float | None, count: int | None, per_class: object) -> int | None:
        given = [name for name, value in (("ratio", ratio), ("count", count), ("per_class", per_class))
                 if value is not None]
        if len(given) > 1:
            raise GanaugError(f"give at most one of ratio, count and per_class (got {', '.join(given)})")
        if ratio is not None:
            if ratio < 0:
                raise GanaugError(f"ratio must be 0 or more synthetic images per real one, not {ratio}")
            return round(ratio * self.real_count)
        if count is not None and count < 0:
            raise GanaugError(f"count must be 0 or more, not {count}")
        return count

    def _check_classes(self) -> None:
        real_classes = find_num_classes(self.real)
        if real_classes is not None and real_classes != self.num_classes:
            raise GanaugError(f"the real data set has {real_classes} classes but {self.synthetic.describe()} has "
                              f"{self.num_classes}; train the GAN on this data set's training split")

    def _check_images(self, resize: bool) -> ImageKind:
        if len(self.real) == 0:
            raise GanaugError("the real data set is empty")
        kind = describe(raw_view(self.real)[0][0])
        size, channels = self.synthetic.image_size, self.synthetic.channels
        if (kind.height, kind.width) != (size, size) and not resize:
            raise GanaugError(f"synthetic images are {size}x{size} but the real data set's are "
                              f"{kind.height}x{kind.width} (before its transform); pass resize=True to resize "
                              "the synthetic ones, or train the GAN at the real size")
        if kind.channels != channels:
            raise GanaugError(f"synthetic images have {channels} channel(s) but the real data set's have "
                              f"{kind.channels}; train the GAN with data.channels = {kind.channels}")
        return kind


def _quotas(per_class: int | Mapping[int | str, int] | None, synthetic: SyntheticSource):
    return None if per_class is None else plan_quotas(per_class=per_class, class_names=synthetic.class_names)
