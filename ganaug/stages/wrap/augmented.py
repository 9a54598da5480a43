"""AugmentedDataset: a real training set plus synthetic images, for any training loop.

Items are (image, target, is_synthetic). Targets are probability vectors of
length `num_outputs` for real and synthetic images alike (one-hot for real
ones), which `nn.CrossEntropyLoss` accepts directly; `is_synthetic` lets a loss
(AugmentedLoss) or a metric treat generated images differently. The one
exception is `argmax-dynamic`: its synthetic targets are NaN until AugmentedLoss
fills them with the model's prediction, so a plain cross-entropy fails loudly.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as TF

from ganaug.data.balance import image_weights
from ganaug.errors import DataError, GanaugError, UsageError
from ganaug.labels import LABELLERS, class_naming_labels, create_labeller, plan_quotas
from ganaug.stages.wrap.arguments import (
    MAX_IMAGES,
    as_label,
    check_bool,
    check_callable,
    check_choice,
    check_index,
    check_map_style,
    check_number,
    check_per_class,
    given,
    resolve_per_class,
    shown,
    wrong_type,
)
from ganaug.stages.wrap.images import (
    ImageKind,
    convert,
    describe,
    find_class_names,
    find_num_classes,
    find_targets,
    find_transform,
    raw_view,
)
from ganaug.stages.wrap.synthetic import (
    SyntheticDataset,
    SyntheticSource,
    class_targets,
    dataset_repr,
    synthetic_targets,
)

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

    classes: the synthetic source's class names (the run's). targets: one int per item, as torchvision data sets
    have them, worked out without reading an image: real items' labels, then each synthetic item's class under
    the strategy (conditional: the class it was generated for; argmax and soft: the teacher's top class), K (the
    extra output) for `extra`, and -1 where there is no one class (uniform, argmax-dynamic, or teacher labels on
    the fly, known only once an image is made). The target an item yields is the probability vector.

    Every argument is checked here: a wrong type is a WrongTypeError (a TypeError), an unusable value a
    UsageError (a ValueError), and so is a real label that is not a class index 0..K-1 of the synthetic source:
    labels are read from `targets` where the data set (under any Subsets) has them, else by reading each item
    once with its transforms switched off.
    """

    def __init__(self, real: Dataset, synthetic: SyntheticSource | str | Path, *, labels: str | None = None,
                 ratio: float | None = None, count: int | None = None,
                 per_class: int | Mapping[int | str, int] | None = None, seed: int = 0,
                 transform: Callable | str | None = AUTO, resize: bool = False) -> None:
        # Arguments that need nothing loaded first, so that a mistake costs no time.
        self.real = check_map_style("real", real)
        if not isinstance(synthetic, (SyntheticSource, str, os.PathLike)):
            raise wrong_type("synthetic", synthetic, "a SyntheticDataset, an OnTheFlySynthetic or the path of a "
                             "synthetic set (a str or pathlib.Path)", "make a set with ganaug augment")
        check_choice("labels", labels, LABELLERS.names(), optional=True, meaning="a labelling strategy")
        amounts = [name for name, value in (("ratio", ratio), ("count", count), ("per_class", per_class))
                   if value is not None]
        if len(amounts) > 1:
            raise UsageError(f"give at most one of ratio, count and per_class (got {', '.join(amounts)})")
        if ratio is not None:
            ratio = check_number("ratio", ratio, minimum=0, meaning="synthetic images per real image")
        if count is not None:
            count = check_number("count", count, minimum=0, maximum=MAX_IMAGES, integer=True,
                                 meaning="synthetic images")
        if per_class is not None:
            per_class = check_per_class("per_class", per_class)
        seed = check_number("seed", seed, minimum=0, integer=True, meaning="the seed that picks the images")
        transform = check_callable("transform", transform, keywords=(AUTO,))
        resize = check_bool("resize", resize)

        self.synthetic = synthetic if isinstance(synthetic, SyntheticSource) else SyntheticDataset(synthetic)
        self.labeller = create_labeller(labels) if labels else self.synthetic.labeller
        self.labeller.check(conditional=self.synthetic.conditional, has_teacher=self.synthetic.has_teacher,
                            where=self.synthetic.describe())
        self.num_classes = self.synthetic.num_classes
        self.num_outputs = self.labeller.num_outputs(self.num_classes)
        """Outputs the classifier needs: K, or K + 1 for the `extra` strategy (only the first K count at test time)."""
        self.kind = self._check_images(resize)
        self._check_classes()
        self.transform = find_transform(real) if isinstance(transform, str) else transform
        quotas = None
        if per_class is not None:
            by_index = resolve_per_class("per_class", per_class, self.synthetic.class_names,
                                         self.synthetic.describe())
            quotas = plan_quotas(per_class=by_index, class_names=self.synthetic.class_names)
        how_many = count
        if ratio is not None:
            wanted = ratio * self.real_count
            if wanted > MAX_IMAGES:
                raise UsageError(f"ratio={ratio:g} asks for {wanted:.3g} synthetic images for "
                                 f"{self.real_count} real ones; pass a smaller ratio")
            how_many = round(wanted)
        self.keys = self.synthetic.select(how_many, quotas, np.random.default_rng(seed))

    @property
    def real_count(self) -> int:
        return len(self.real)

    @property
    def synthetic_count(self) -> int:
        return len(self.keys)

    def __len__(self) -> int:
        return self.real_count + self.synthetic_count

    @property
    def classes(self) -> list[str]:
        return self.synthetic.classes

    @property
    def targets(self) -> list[int]:
        synthetic = class_targets(self.labeller, self.synthetic.known_info(self.keys), self.num_classes)
        return self.real_targets + synthetic.tolist()

    def oversampling_weights(self) -> Tensor:
        """One weight per item for torch's WeightedRandomSampler: the real and the synthetic items are each drawn
        inversely to their class's frequency and keep their share of the draws, so a long-tailed class's few
        real images are not crowded out by the synthetic ones made for it (compare's `LABELS@oversample`, which
        beat oversampling the real images alone: results/beat_classical/mnist5k-lt100-oversample-split1)."""
        if not self.labeller.names_a_class:
            naming = " or ".join(repr(name) for name in class_naming_labels())
            raise UsageError(f"oversampling by class needs labels that name a class, and {self.labeller.name!r} "
                             f"labels do not; use labels={naming}")
        targets = torch.tensor(self.targets)
        if (targets < 0).any():
            raise UsageError(f"oversampling by class needs each synthetic image's class before it is made, and "
                             f"{self.synthetic.describe()} knows it only afterwards (teacher labels on the fly); "
                             "use labels='conditional' or a set written by ganaug augment")
        synthetic = torch.zeros(len(self), dtype=torch.bool)
        synthetic[self.real_count:] = True
        return image_weights(targets, synthetic)

    def __repr__(self) -> str:
        return dataset_repr(type(self).__name__, [
            f"Number of datapoints: {len(self)}",
            f"Real: {self.real_count}, synthetic: {self.synthetic_count} "
            f"(ratio {self.synthetic_count / self.real_count:.3g}, labels {self.labeller.name!r})",
            f"Synthetic source: {self.synthetic.describe()}",
            *([f"Synthetic transform: {self.transform!r}"] if self.transform is not None else [])])

    def __getitem__(self, index: int) -> tuple[Any, Tensor, bool]:
        index = check_index(index, len(self), "an AugmentedDataset")
        if index < self.real_count:
            image, label = self._pair(index, self.real[index])
            target = torch.zeros(self.num_outputs)
            target[self._check_label(index, label)] = 1.0
            return image, target, False
        raw, info = self.synthetic.fetch(self.keys[index - self.real_count])
        if raw.shape[-2:] != (self.kind.height, self.kind.width):
            raw = TF.resize(raw, [self.kind.height, self.kind.width], antialias=True)
        image = convert(raw, self.kind)
        if self.transform is not None:
            image = self.transform(image)
        return image, synthetic_targets(self.labeller, info, self.num_classes)[0], True

    def _check_classes(self) -> None:
        """The real data set's classes against the synthetic source's: their number, then every label."""
        names = find_class_names(self.real)
        if names is not None:
            self._same_number_of_classes(len(names))
        targets = find_targets(self.real)
        if targets is not None:
            self.real_targets = [self._check_label(index, label) for index, label in enumerate(targets)]
        else:  # no targets to read: each label through raw_view, which skips the (costly) transforms
            view = raw_view(self.real)
            self.real_targets = [self._check_label(index, self._real_item(view, index)[1])
                                 for index in range(self.real_count)]
        if names is None:
            real_classes = find_num_classes(self.real)
            if real_classes is not None:
                self._same_number_of_classes(real_classes)

    def _same_number_of_classes(self, real_classes: int) -> None:
        if real_classes != self.num_classes:
            raise UsageError(f"the real data set has {real_classes} classes but {self.synthetic.describe()} has "
                             f"{self.num_classes}; train the GAN on this data set's training split")

    def _check_label(self, index: int, label: Any) -> int:
        value = as_label(label)
        if value is None or not 0 <= value < self.num_classes:
            what = "is not an integer" if value is None else "is outside the classes"
            raise UsageError(f"real item {index} has the label {shown(label)}, which {what}; labels must be "
                             f"integers 0 to {self.num_classes - 1}, the {self.num_classes} classes of "
                             f"{self.synthetic.describe()} (map them to class indices first)")
        return value

    @classmethod
    def _real_item(cls, dataset: Dataset, index: int) -> tuple[Any, Any]:
        """Item `index` of the real data set, read while checking it: a failure is one line, its cause chained."""
        try:
            item = dataset[index]
        except GanaugError:
            raise
        except Exception as e:  # noqa: BLE001 - the user's data set failing to read is a bad argument
            text = str(e).strip().splitlines()
            raise DataError(f"reading real item {index} failed ({type(e).__name__}: "
                            f"{text[0] if text else 'no message'}); check the real data set") from e
        return cls._pair(index, item)

    @staticmethod
    def _pair(index: int, item: Any) -> tuple[Any, Any]:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise UsageError(f"real item {index} is {given(item)}; the real data set must yield (image, label) pairs")
        return item[0], item[1]

    def _check_images(self, resize: bool) -> ImageKind:
        if self.real_count == 0:
            raise UsageError("real, the real data set, is empty; pass a data set with at least one (image, label) item")
        kind = describe(self._real_item(raw_view(self.real), 0)[0])
        size, channels = self.synthetic.image_size, self.synthetic.channels
        if (kind.height, kind.width) != (size, size) and not resize:
            raise UsageError(f"synthetic images are {size}x{size} but the real data set's are "
                             f"{kind.height}x{kind.width} (before its transform); pass resize=True to resize "
                             "the synthetic ones, or train the GAN at the real size")
        self._check_channels(kind.channels, channels)
        return kind

    @staticmethod
    def _check_channels(real: int, synthetic: int) -> None:
        """Grey synthetic images go into an RGB set by replicating their channel, which is exact (torchvision's
        ImageFolder loads even grey files as RGB, so refusing would make people retrain for nothing); colour
        cannot become grey without losing information, so that, like any other mismatch, is refused."""
        if real == synthetic:
            return
        if (real, synthetic) == (3, 1):
            warnings.warn("the synthetic images are grey and the real data set's are RGB: each synthetic image's "
                          "channel is replicated to RGB (exact; no retraining needed)", UserWarning, stacklevel=4)
            return
        why = ("turning colour into grey would lose information" if (real, synthetic) == (1, 3)
               else "ganaug converts only grey to RGB")
        raise UsageError(f"synthetic images have {synthetic} channel(s) but the real data set's have {real}, and "
                         f"{why}; train the GAN with data.channels = {real}")
