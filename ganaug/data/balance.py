"""Class-balanced weights and draws for imbalanced images: scikit-learn's "balanced" weight N / (K n_c) for class c
(n_c of the N images, K classes present). Used by the classifier's oversampling and class-weighted loss
(classify.imbalance) and by fit's class-balanced batches (train.class_balance), which is why it lives with the data.
"""

from __future__ import annotations

import torch
from torch import Tensor


def class_weights(labels: Tensor) -> Tensor:
    """Per class, N / (K n_c) (0 for a class with no image): inverse to frequency, averaging 1 over the images,
    so a weighted loss keeps the unweighted loss's scale and the learning rate its meaning."""
    counts = torch.bincount(labels).double()
    present = counts > 0
    return torch.where(present, len(labels) / (present.sum() * counts.clamp_min(1)), 0).float()


def image_weights(labels: Tensor) -> Tensor:
    """Each image's class weight: drawing images in proportion to it draws every class equally often."""
    return class_weights(labels)[labels]


def oversample(labels: Tensor, count: int, generator: torch.Generator) -> Tensor:
    """`count` indices of `labels`, drawn with replacement with probability proportional to the class weight:
    every class as often as any other, on average."""
    return torch.multinomial(image_weights(labels), count, replacement=True, generator=generator)
