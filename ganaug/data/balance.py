"""Class-balanced weights and draws for imbalanced images: scikit-learn's "balanced" weight N / (K n_c) for class c
(n_c of the N images, K classes present). Used by the classifier's oversampling and class-weighted loss
(classify.imbalance), by fit's class-balanced batches (train.class_balance) and by the run's teacher on an
imbalanced split, which is why it lives with the data.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

NEARLY_BALANCED = 0.9
"""Classes count as balanced when the smallest has at least this fraction of the largest's images."""


def is_imbalanced(counts: Sequence[int]) -> bool:
    """Whether images per class (`counts`) differ enough for a class-balanced fix to matter (NEARLY_BALANCED)."""
    return bool(counts) and min(counts) < NEARLY_BALANCED * max(counts)


def class_weights(labels: Tensor) -> Tensor:
    """Per class, N / (K n_c) (0 for a class with no image): inverse to frequency, averaging 1 over the images,
    so a weighted loss keeps the unweighted loss's scale and the learning rate its meaning."""
    counts = torch.bincount(labels).double()
    present = counts > 0
    return torch.where(present, len(labels) / (present.sum() * counts.clamp_min(1)), 0).float()


def image_weights(labels: Tensor, groups: Tensor | None = None) -> Tensor:
    """Each image's class weight: drawing images in proportion to it draws every class equally often. With
    `groups` (a bool per image: synthetic or not) each group is balanced on its own and keeps its share of the
    draws, so the three real images of a small class are not crowded out by the hundreds generated for it."""
    if groups is None or groups.all() or not groups.any():
        return class_weights(labels)[labels]
    weights = torch.empty(len(labels))
    for group in (groups, ~groups):
        weights[group] = class_weights(labels[group])[labels[group]]
    return weights


def oversample(labels: Tensor, count: int, generator: torch.Generator, groups: Tensor | None = None) -> Tensor:
    """`count` indices of `labels`, drawn with replacement with probability proportional to the class weight:
    every class as often as any other, on average (within each of `groups`, which keep their share)."""
    return torch.multinomial(image_weights(labels, groups), count, replacement=True, generator=generator)
