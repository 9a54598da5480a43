"""Classical fixes for class imbalance in the real training images: oversampling and a class-weighted loss.

Both weight class c by N / (K n_c) (n_c of the N images, K classes present; scikit-learn's "balanced"), the
baselines a GAN's per-class quotas must beat on imbalanced data.
"""

from __future__ import annotations

import torch
from torch import Tensor

REBALANCE = ("oversample", "reweight")
"""oversample: draw images inversely to their class's frequency (the same number of batches per epoch);
reweight: multiply each image's loss by its class's weight."""


def class_weights(labels: Tensor) -> Tensor:
    """Per class, N / (K n_c) (0 for a class with no image): inverse to frequency, averaging 1 over the images,
    so a weighted loss keeps the unweighted loss's scale and the learning rate its meaning."""
    counts = torch.bincount(labels).double()
    present = counts > 0
    return torch.where(present, len(labels) / (present.sum() * counts.clamp_min(1)), 0).float()


def oversample(labels: Tensor, count: int, generator: torch.Generator) -> Tensor:
    """`count` indices of `labels`, drawn with replacement with probability proportional to the class weight:
    every class as often as any other, on average."""
    return torch.multinomial(class_weights(labels)[labels], count, replacement=True, generator=generator)
