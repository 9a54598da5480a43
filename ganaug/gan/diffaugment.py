"""DiffAugment (Zhao et al. 2020): differentiable augmentation applied to real
and generated images alike, in both the discriminator and generator steps, so
D cannot overfit a small training set while G still learns the clean
distribution. Ranges follow the paper's reference implementation; images are
in [-1, 1]. With ADA (ganaug.gan.ada) the policies reach only a fraction p of
the images, p adapted to how much D overfits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor


def _rand(x: Tensor, generator: torch.Generator | None) -> Tensor:
    return torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype, generator=generator)


def color(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Brightness + U(-0.5, 0.5), saturation x U(0, 2), contrast x U(0.5, 1.5)."""
    x = x + (_rand(x, generator) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(x, generator) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x, generator) + 0.5) + mean


def translation(x: Tensor, generator: torch.Generator | None = None, ratio: float = 0.125) -> Tensor:
    """Shift by up to ratio of the size in each direction, filling with zeros."""
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (n, 1, 1), device=x.device, generator=generator)
    dx = torch.randint(-sx, sx + 1, (n, 1, 1), device=x.device, generator=generator)
    ys = torch.arange(h, device=x.device).view(1, h, 1) + dy  # source row for each output row
    xs = torch.arange(w, device=x.device).view(1, 1, w) + dx
    padded = F.pad(x, (1, 1, 1, 1))  # zero border: out-of-range sources read from it
    ys = (ys + 1).clamp(0, h + 1).expand(n, h, w)
    xs = (xs + 1).clamp(0, w + 1).expand(n, h, w)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, ys, xs].permute(0, 3, 1, 2)


def cutout(x: Tensor, generator: torch.Generator | None = None, ratio: float = 0.5) -> Tensor:
    """Zero a square of ratio x the size at a random centre (it may hang over the edge)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device, generator=generator)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device, generator=generator)
    top, left = cy - ch // 2, cx - cw // 2
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


POLICIES: dict[str, Callable[[Tensor, torch.Generator | None], Tensor]] = {
    "color": color, "translation": translation, "cutout": cutout,
}


class DiffAugment:
    """Applies the named policies in order; with no policies it is the identity.

    generator: the random stream to draw from (the training step's own, so that nothing touches torch's
    global RNG and a resumed run draws exactly what an uninterrupted one would).
    strength: ADA's probability p (ganaug.gan.ada), a 0-d tensor its controller updates in place: each image then
    gets the policies with probability p (else it passes unchanged), drawn after the policies' own draws, so p = 1
    augments a batch exactly as no strength does and p = 0 leaves it as it is. None (the default): every image.
    """

    def __init__(self, policies: Sequence[str] = (), generator: torch.Generator | None = None,
                 strength: Tensor | None = None) -> None:
        unknown = [p for p in policies if p not in POLICIES]
        if unknown:
            raise ValueError(f"unknown DiffAugment policy {unknown[0]!r}; use any of {', '.join(POLICIES)}")
        self.policies = list(policies)
        self.generator = generator
        self.strength = strength

    def __call__(self, x: Tensor) -> Tensor:
        augmented = x
        for name in self.policies:
            augmented = POLICIES[name](augmented, self.generator)
        if self.strength is None:
            return augmented
        chosen = torch.rand(x.shape[0], 1, 1, 1, device=x.device, generator=self.generator) < self.strength
        return torch.where(chosen, augmented, x)  # compared on the device: no host sync

    def __bool__(self) -> bool:
        return bool(self.policies)
