"""Making synthetic images the same kind of object as a real data set's raw images.

A torchvision MNIST yields PIL images in mode "L" before its transform, CIFAR10
PIL "RGB", other data sets tensors or arrays. Synthetic images are converted to
that kind, so the user's transform (classical augmentation included) applies to
real and synthetic images alike.
"""

from __future__ import annotations

import copy
from collections.abc import Sized
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset, Subset

from ganaug.errors import UsageError
from ganaug.stages.wrap.arguments import as_label


@dataclass(frozen=True)
class ImageKind:
    kind: str
    """pil | tensor | numpy"""
    channels: int
    height: int
    width: int
    mode: str = ""
    """PIL mode."""
    dtype: Any = None
    """Tensor or array dtype."""
    channels_first: bool = True


def describe(image: Any) -> ImageKind:
    if isinstance(image, Image.Image):
        channels = {"1": 1, "L": 1, "P": 3, "I": 1, "F": 1, "I;16": 1}.get(image.mode, len(image.getbands()))
        return ImageKind("pil", channels, image.height, image.width, mode=image.mode)
    if isinstance(image, Tensor) and image.ndim in (2, 3):
        c, h, w = (1, *image.shape) if image.ndim == 2 else image.shape
        return ImageKind("tensor", c, h, w, dtype=image.dtype, channels_first=image.ndim == 3)
    if isinstance(image, np.ndarray) and image.ndim in (2, 3):
        h, w, c = (*image.shape, 1) if image.ndim == 2 else image.shape
        return ImageKind("numpy", c, h, w, dtype=image.dtype, channels_first=image.ndim == 3)
    raise UsageError(f"the real data set yields images of type {type(image).__name__}; "
                     "ganaug can match PIL images, CxHxW tensors and HxWxC arrays (pass transform= for others)")


def convert(image: Tensor, kind: ImageKind) -> Any:
    """uint8 C x S x S -> an image of `kind` (same channels, size and, for tensors and arrays, dtype)."""
    if image.shape[0] != kind.channels and kind.channels in (1, 3):
        image = image.expand(3, -1, -1) if kind.channels == 3 else image.float().mean(0, keepdim=True).round().byte()
    if kind.kind == "pil":
        pixels = image.permute(1, 2, 0).numpy()
        pil = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
        return pil if pil.mode == kind.mode else pil.convert(kind.mode)
    if kind.kind == "tensor":
        out = image if kind.dtype == torch.uint8 else image.to(kind.dtype) / 255
        return out if kind.channels_first else out[0]
    pixels = image.permute(1, 2, 0).numpy()
    array = pixels if kind.dtype == np.uint8 else pixels.astype(kind.dtype) / 255
    return array if kind.channels_first else array[:, :, 0]


def raw_view(dataset: Dataset) -> Dataset:
    """The same data set with its transforms switched off (a shallow copy; the original is untouched)."""
    if isinstance(dataset, Subset):
        return Subset(raw_view(dataset.dataset), dataset.indices)
    view = copy.copy(dataset)
    for attr in ("transform", "target_transform", "transforms"):
        if hasattr(view, attr):
            setattr(view, attr, None)
    return view


def find_transform(dataset: Dataset) -> Any:
    """The transform a (possibly Subset-wrapped) torchvision-style data set applies to its images."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    return getattr(dataset, "transform", None)


def find_class_names(dataset: Dataset) -> list | None:
    """The `classes` of a (possibly Subset-wrapped) torchvision-style data set, where it has them."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    classes = getattr(dataset, "classes", None)
    try:
        return None if classes is None else list(classes)
    except TypeError:
        return None


def find_num_classes(dataset: Dataset) -> int | None:
    """The number of classes, from `classes` or (where every target is an integer >= 0) `targets`."""
    names = find_class_names(dataset)
    if names is not None:
        return len(names)
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    labels = _as_list(getattr(dataset, "targets", None))
    if not labels:
        return None
    values = [v for v in map(as_label, labels) if v is not None and v >= 0]
    if len(values) < len(labels):  # a label that is not a class index
        return None
    return max(values) + 1


def find_targets(dataset: Dataset) -> list | None:
    """Each item's label, from the `targets` of a (possibly Subset-wrapped) data set without reading an image.

    None where the data set has no `targets`, or they do not match its length or the Subsets' indices.
    """
    indices = None
    while isinstance(dataset, Subset):
        own = _as_list(dataset.indices)
        if own is None or any(as_label(i) is None for i in own):
            return None
        own = [as_label(i) for i in own]
        try:
            indices = own if indices is None else [own[i] for i in indices]
        except IndexError:
            return None
        dataset = dataset.dataset
    targets = _as_list(getattr(dataset, "targets", None))
    if targets is None:
        return None
    try:
        if not isinstance(dataset, Sized) or len(targets) != len(dataset):
            return None
    except TypeError:
        return None
    if indices is None:
        return targets
    if any(not -len(targets) <= i < len(targets) for i in indices):
        return None
    return [targets[i] for i in indices]


def _as_list(values: Any) -> list | None:
    """A list of the items of a list, range, tensor or array (None for anything else)."""
    if values is None or isinstance(values, (str, bytes, dict)):
        return None
    if isinstance(values, (Tensor, np.ndarray)):
        return values.tolist() if values.ndim >= 1 else None
    try:
        return list(values)
    except TypeError:
        return None
