"""ImagePool: a whole data source decoded once into memory at the model's size.

Small and medium data sets (the low-data regime this tool is for) fit easily as
uint8 tensors, so training indexes a tensor instead of decoding files per step.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as TF


@dataclass(frozen=True)
class ImagePool:
    images: Tensor
    """uint8, N x C x S x S."""
    labels: Tensor
    """int64, N."""
    class_names: list[str]
    source: str
    official_test: Tensor | None = None
    """bool, N: True for images from the source's own test split, if it has one."""
    skipped: tuple[str, ...] = ()
    """Files a folder source left out because they are not images (by extension), relative to its root."""
    unreadable: tuple[str, ...] = ()
    """Image files left out because they could not be read (data.on_error = "skip"), with the reason."""
    median_side: int = 0
    """The median shorter side of the source's images before resizing (what an automatic image_size follows)."""

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    def fingerprint(self) -> str:
        """Identifies the exact pixels and labels, so later commands can check they see the same data."""
        digest = hashlib.sha256()
        digest.update(self.images.contiguous().numpy().tobytes())
        digest.update(self.labels.numpy().tobytes())
        return digest.hexdigest()[:16]


def auto_size(sides: Sequence[int]) -> int:
    """The power of two nearest (in log scale) the median of the images' shorter sides, within 16..256."""
    median = float(np.median(sides))
    return int(min(max(2 ** round(math.log2(max(median, 1))), 16), 256))


def fit_to_size(images: Tensor | Sequence[Tensor], size: int, channels: int = 0) -> Tensor:
    """Resize (shorter side, antialiased) and centre-crop uint8 CxHxW images to size x size.

    channels: 1 or 3 converts; 0 keeps them as they are.
    """
    if isinstance(images, Tensor):
        chunks = [_resize_batch(images[i : i + 4096], size) for i in range(0, len(images), 4096)]
    else:
        chunks = [_resize_batch(image.unsqueeze(0), size) for image in images]
    out = torch.cat(chunks) if chunks else torch.zeros(0, max(channels, 1), size, size, dtype=torch.uint8)
    return convert_channels(out, channels)


def convert_channels(images: Tensor, channels: int) -> Tensor:
    if channels == 0 or images.shape[1] == channels:
        return images
    if channels == 1:
        return TF.rgb_to_grayscale(images[:, :3])
    return images[:, :1].expand(-1, 3, -1, -1).contiguous()


def _resize_batch(batch: Tensor, size: int) -> Tensor:
    if batch.shape[-2:] != (size, size):
        batch = TF.resize(batch, size, antialias=True)
        batch = TF.center_crop(batch, [size, size])
    return batch.contiguous()
