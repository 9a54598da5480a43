"""Memorisation: does the generator copy its training images?

A generated image that is a near-copy of a training image adds no new
information to a classifier. Distances only mean something relative to the
data, so each generated image's distance to its nearest training image is
divided by the typical distance between neighbouring training images (the
median leave-one-out nearest-neighbour distance). Held-out real images,
measured the same way, show what a ratio looks like for images that are not
copies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ganaug.metrics.record import JsonRecord

NEAR_COPY_RATIO = 0.5
"""A generated image closer to a training image than half the typical neighbour distance counts as a near-copy."""


def nearest_neighbours(queries: Tensor, reference: Tensor, *, exclude_self: bool = False,
                       chunk: int = 1024) -> tuple[Tensor, Tensor]:
    """Euclidean distance from each query row to its nearest reference row, and that row's index.

    exclude_self: queries *are* the reference (same order); each row's own zero distance is ignored.
    Works in chunks so memory stays at chunk x len(reference).
    """
    queries, reference = _flat(queries), _flat(reference)
    if exclude_self and queries.shape != reference.shape:
        raise ValueError("exclude_self needs the queries to be the reference itself")
    if len(reference) < (2 if exclude_self else 1):
        raise ValueError("nearest neighbours need a non-empty reference set (two rows to exclude self)")
    dists, index = [], []
    for start in range(0, len(queries), chunk):
        d = torch.cdist(queries[start:start + chunk], reference)
        if exclude_self:
            rows = torch.arange(d.shape[0])
            d[rows, rows + start] = float("inf")
        best = d.min(dim=1)
        dists.append(best.values)
        index.append(best.indices)
    return torch.cat(dists), torch.cat(index)


@dataclass(frozen=True)
class MemorisationSummary(JsonRecord):
    """What a report keeps of a `Memorisation`: medians and near-copy shares (held-out: None without held-out data)."""

    typical_train_distance: float
    generated_median_ratio: float
    heldout_median_ratio: float | None
    near_copy_threshold: float
    generated_near_copy_fraction: float
    heldout_near_copy_fraction: float | None


@dataclass(frozen=True)
class Memorisation:
    typical_distance: float
    """Median distance from a training image to its nearest other training image."""
    generated_ratio: np.ndarray
    """Per generated image: distance to its nearest training image / typical_distance."""
    nearest_train: np.ndarray
    """Per generated image: index (into the training images given) of that nearest image."""
    heldout_ratio: np.ndarray | None
    """The same ratio for held-out real images, the reference for 'not a copy'."""

    def near_copy_fraction(self, threshold: float = NEAR_COPY_RATIO) -> float:
        return float(np.mean(self.generated_ratio < threshold))

    def summary(self, threshold: float = NEAR_COPY_RATIO) -> MemorisationSummary:
        held = self.heldout_ratio
        return MemorisationSummary(
            typical_train_distance=self.typical_distance,
            generated_median_ratio=float(np.median(self.generated_ratio)),
            heldout_median_ratio=float(np.median(held)) if held is not None else None,
            near_copy_threshold=threshold,
            generated_near_copy_fraction=self.near_copy_fraction(threshold),
            heldout_near_copy_fraction=float(np.mean(held < threshold)) if held is not None else None,
        )


def measure_memorisation(generated: Tensor, train: Tensor, heldout: Tensor | None = None) -> Memorisation:
    """Nearest-training-image distances of generated (and held-out real) images, relative to the training set's own."""
    train_self, _ = nearest_neighbours(train, train, exclude_self=True)
    typical = float(train_self.median())
    if typical == 0:
        raise ValueError("the training images contain so many duplicates that the typical neighbour distance is 0")
    gen_d, gen_i = nearest_neighbours(generated, train)
    held = None if heldout is None else (nearest_neighbours(heldout, train)[0] / typical).numpy()
    return Memorisation(typical, (gen_d / typical).numpy(), gen_i.numpy(), held)


def _flat(images: Tensor) -> Tensor:
    """Any N x ... tensor (uint8 images included) as N x D float32, pixels scaled to [0, 1]."""
    x = images.reshape(len(images), -1)
    return x.float() / 255 if x.dtype == torch.uint8 else x.float()
