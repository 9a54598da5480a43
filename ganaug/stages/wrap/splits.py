"""A run's own train / val / test split as torchvision-style data sets.

split.json holds raw indices into the run's data as ganaug loads it (for a
torchvision source the test images come after the training set's, so its test
indices are offset by that size): not something to rebuild by hand. load_split
gives each part as a Dataset of exactly the images and labels the GAN and the
teacher saw, ready for AugmentedDataset and a DataLoader.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import Tensor
from torch.utils.data import Dataset

from ganaug.runs.run_dir import RunDir
from ganaug.stages.wrap.arguments import check_callable, check_choice, check_index, check_path
from ganaug.stages.wrap.images import convert
from ganaug.stages.wrap.synthetic import PIL_KIND

PARTS = ("train", "val", "test")


class RunSplit(Dataset):
    """One part of a run's split: items (PIL image in mode "L" or "RGB", int label), like torchvision's MNIST.

    classes: the class names; targets: each item's label; transform / target_transform: applied to each item.
    """

    def __init__(self, images: Tensor, labels: list[int], classes: list[str], *, transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        self.images, self.targets, self.classes = images, labels, classes
        self.transform, self.target_transform = transform, target_transform

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: index for index, name in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        index = check_index(index, len(self), "a RunSplit")
        image: Any = convert(self.images[index], PIL_KIND[self.images.shape[1]])
        target: Any = self.targets[index]
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target


def load_split(run_dir: str | Path, part: str, *, transform: Callable | None = None,
               target_transform: Callable | None = None) -> RunSplit:
    """`part` ("train", "val" or "test") of the run in `run_dir`, as a map-style data set.

    The data is loaded as the run loaded it and checked against the fingerprint in split.json, so the images
    are those the run was trained (train), tuned (val) or is to be scored (test) on. A wrong argument type is a
    WrongTypeError (a TypeError), an unusable value a UsageError (a ValueError); a missing or changed run or
    data set is a RunDirError.
    """
    run_dir = check_path("run_dir", run_dir, what="a run folder from ganaug fit")
    check_choice("part", part, PARTS, meaning="the part of the run's split")
    transform = check_callable("transform", transform)
    target_transform = check_callable("target_transform", target_transform)
    pool, split = RunDir.open(run_dir).load_data()
    indices = getattr(split, part)
    return RunSplit(pool.images[indices], pool.labels[indices].tolist(), list(pool.class_names),
                    transform=transform, target_transform=target_transform)
