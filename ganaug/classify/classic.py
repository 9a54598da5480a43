"""Classical augmentation on batches of image tensors: a random affine map per image.

Done on the batch with one `affine_grid` / `grid_sample` call, not per image in
Python, so it costs little next to the classifier's own forward pass.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def random_affine(x: Tensor, generator: torch.Generator, *, degrees: float = 10.0, translate: float = 0.125,
                  scale: tuple[float, float] = (0.9, 1.1), flip: bool = False) -> Tensor:
    """Rotate, scale and shift each image independently (zero padding; -1 is black in [-1, 1] images).

    flip: also mirror half the images left-right (natural photos, not digits or text).
    """
    n = x.shape[0]

    def uniform(low: float, high: float) -> Tensor:
        return torch.rand(n, generator=generator).mul(high - low).add(low)

    angle = uniform(-degrees, degrees) * (math.pi / 180)
    zoom = uniform(*scale)
    mirror = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0) if flip else torch.ones(n)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([
        torch.stack([cos * mirror, -sin, uniform(-2 * translate, 2 * translate)], 1),
        torch.stack([sin * mirror, cos, uniform(-2 * translate, 2 * translate)], 1),
    ], 1).to(x.device, x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1
