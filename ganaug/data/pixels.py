"""Pixel ranges in one place: images are kept as uint8 [0, 255] and networks see float [-1, 1]
(the GAN's tanh range)."""

from __future__ import annotations

import torch
from torch import Tensor


def to_unit_range(images: Tensor) -> Tensor:
    """uint8 [0, 255] -> a new float tensor in [-1, 1]."""
    return images.float().div_(127.5).sub_(1)


def to_uint8(images: Tensor) -> Tensor:
    """float [-1, 1] (a generator's output) -> uint8 [0, 255], rounded and clamped."""
    return images.float().add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8)
