"""The one place a source's images become an ImagePool: read, checked, decoded, resized and converted once.

A source gives its images as they are (any sizes, grey or colour) in `SourceData`: torchvision-style data sets
whose items are `(PIL image or tensor, int label)`. `to_pool` treats every source alike, so resizing, centre
cropping and channel conversion to the recipe's size happen here and nowhere else, and a new source does not
repeat them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from tqdm.auto import tqdm

from ganaug.data.folder import decode
from ganaug.data.pool import ImagePool, auto_size, convert_channels, fit_to_size
from ganaug.errors import DataError, shown
from ganaug.io import first_line

if TYPE_CHECKING:  # config.py imports the sources registry, which imports this module
    from ganaug.config import DataConfig

T = TypeVar("T")


class Samples(Protocol):
    """A torchvision-style data set: `len()` and `[i] -> (PIL image or tensor, int label)`.

    It may also have `item_name(i)`, naming item i in messages and in run.json's unreadable list
    (the folder source names the file); items are otherwise named by their index.
    """

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Any: ...


@dataclass(frozen=True)
class SourceData:
    """What a source returns: its images before resizing, their class names, and where they came from."""

    train: Samples
    classes: Sequence[str] | None
    """The class names, label i naming classes[i]; None numbers them 0..the largest label."""
    name: str
    """How run.json describes the data: 'digits', 'torchvision:MNIST', 'folder:/data/x', 'import:m:f'."""
    test: Samples | None = None
    """The source's own test split (torchvision train=False), kept as the run's test split."""
    skipped: tuple[str, ...] = ()
    """Files the source left out because they are not images, for run.json."""


def to_pool(data: SourceData, config: DataConfig) -> ImagePool:
    """Every image read and decoded, then all resized and converted to the recipe's size and channels at once.

    An item the source fails to read stops with its name, or with data.on_error = "skip" is left out and listed.
    """
    parts = [("", data.train)] + ([("test ", data.test)] if data.test is not None else [])
    count = None if data.classes is None else len(data.classes)
    images: list[Tensor] = []
    labels: list[int] = []
    unreadable: list[str] = []
    part_ends = []
    for part, samples in parts:
        length = _length(samples, data.name)
        items = _items(data.name, part, samples, length, config.on_error, unreadable)
        for name, image, label in _progress(items, length, f"{data.name} {part}".strip()):
            images.append(_as_uint8(image, name))
            labels.append(_label(label, count, name))
        part_ends.append(len(images))
    if not images:
        raise DataError(f"{data.name} contains no images")
    classes = _class_names(data, labels)
    if any(image.shape[0] == 3 for image in images):  # colour anywhere: grey images become grey RGB
        images = [image.expand(3, -1, -1) for image in images]
    same_size = all(image.shape == images[0].shape for image in images)
    sides = [min(image.shape[-2:]) for image in images]
    resized = fit_to_size(torch.stack(images) if same_size else images, config.image_size or auto_size(sides))
    official_test = torch.arange(len(images)) >= part_ends[0] if data.test is not None else None
    return ImagePool(convert_channels(resized, config.channels), torch.tensor(labels, dtype=torch.int64), classes,
                     data.name, official_test, data.skipped, tuple(unreadable), median_side=int(np.median(sides)))


def _items(source: str, part: str, samples: Samples, length: int, on_error: str,
           unreadable: list[str]) -> Iterator[tuple[str, object, object]]:
    """(name, image, label) per item; an item that cannot be read raises, or is listed in `unreadable`."""
    naming = getattr(samples, "item_name", None)
    for i in range(length):
        name = str(naming(i)) if callable(naming) else f"{source} {part}item {i}"
        try:
            item = samples[i]
        except DataError as e:  # a source's own message, naming the file
            problem = str(e)
        except Exception as e:  # a user's Dataset: report its error, not our traceback
            problem = f"cannot read {name} ({type(e).__name__}: {first_line(e)})"
        else:
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise DataError(f"{name} is {shown(item)}, not an (image, label) pair; "
                                "a Dataset's items must be (image, label)")
            yield name, item[0], item[1]
            continue
        if on_error != "skip":
            raise DataError(f"{problem}, or set data.on_error = 'skip' to leave out images that cannot be read")
        unreadable.append(f"{name}: {problem}")


def _length(samples: Samples, source: str) -> int:
    try:
        length = len(samples)
    except Exception as e:
        raise DataError(f"{source}: len() of its data set failed ({type(e).__name__}: {first_line(e)})") from None
    if not isinstance(length, int) or length < 0:
        raise DataError(f"{source}: its data set's len() is {shown(length)}, not a count of images")
    return length


def _as_uint8(image: object, name: str) -> Tensor:
    """uint8 C x H x W (1 or 3 channels) from a PIL image, a uint8 tensor, or a float tensor in [0, 1]."""
    if isinstance(image, Image.Image):
        return decode(image, name)
    if not isinstance(image, Tensor):
        raise DataError(f"{name} is a {type(image).__name__}; ganaug reads PIL images and uint8 or float "
                        "tensors (C x H x W)")
    if image.dim() == 2:
        image = image.unsqueeze(0)
    if image.dim() != 3 or image.shape[0] not in (1, 3):
        raise DataError(f"{name} is a tensor of shape {tuple(image.shape)}; ganaug reads C x H x W images "
                        "with 1 or 3 channels")
    if image.dtype == torch.uint8:
        return image.contiguous()
    if image.is_floating_point() and bool(image.isfinite().all() & (image >= 0).all() & (image <= 1).all()):
        return image.float().mul(255).round().to(torch.uint8)
    raise DataError(f"{name} is a {str(image.dtype).replace('torch.', '')} tensor with values outside 0..1; "
                    "give uint8 images (0..255) or floats in [0, 1] (what ToTensor makes)")


def _label(label: object, count: int | None, name: str) -> int:
    if isinstance(label, Tensor) and label.dim() == 0 and not label.is_floating_point() and label.dtype != torch.bool:
        label = int(label)
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
        raise DataError(f"{name}'s label is {shown(label)} (a {type(label).__name__}), not an int class index")
    if label < 0 or (count is not None and label >= count):
        valid = f"0..{count - 1} (one per name in its classes)" if count else "0 or more"
        raise DataError(f"{name}'s label is {label}; labels must be class indices {valid}")
    return int(label)


def _class_names(data: SourceData, labels: list[int]) -> list[str]:
    classes = [str(c) for c in data.classes] if data.classes is not None else [str(c) for c in range(max(labels) + 1)]
    repeated = next((c for i, c in enumerate(classes) if c in classes[:i]), None)
    if repeated is not None:
        raise DataError(f"{data.name}: class name {repeated!r} repeats; give each class its own name")
    return classes


def _progress(items: Iterator[T], total: int, name: str) -> Iterable[T]:
    """A bar over images as they are read: an error raised while reading closes (and clears) it."""
    return tqdm(items, total=total, desc=f"reading {name}", unit="img", leave=False, mininterval=1.0)
