"""Classical augmentation policies: a uint8 training batch in, the classifier's float input in [-1, 1] out.

CLASSICAL holds one entry per policy, as users would pick them: `classic` (a random affine map per image, done
on the whole batch with one `affine_grid` / `grid_sample` call), and torchvision's TrivialAugmentWide and
RandAugment with their defaults, applied image by image so that each image draws its own operations.

Every policy draws from the training loop's generator, so a cell's seed fixes its augmented batches. Mirror
flips happen only when asked (colour photos): neither torchvision policy flips, and a mirrored digit is no
digit.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
import torchvision.transforms.v2 as T
from torch import Tensor

from ganaug.data.pixels import to_unit_range
from ganaug.registry import Registry
from ganaug.seeding import seeded

Policy = Callable[[Tensor, torch.Generator, bool], Tensor]
"""policy(uint8 images N x C x S x S, generator, flip) -> float images in [-1, 1] on the same device."""

CLASSICAL: Registry[Policy] = Registry("classical augmentation")


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


@CLASSICAL.register("classic")
def classic(images: Tensor, generator: torch.Generator, flip: bool) -> Tensor:
    """Random affine: rotation up to 10 degrees, scale 0.9-1.1, shift up to 1/8 of the size (and flips)."""
    return random_affine(to_unit_range(images), generator, flip=flip)


def per_image(transform: Callable[[Tensor], Tensor]) -> Policy:
    """A torchvision transform as a policy: called once per image (on a batch it would draw one operation for
    all), from torch's RNG seeded by the generator inside `seeded`, so nothing else's random stream moves."""

    def policy(images: Tensor, generator: torch.Generator, flip: bool) -> Tensor:
        if flip:
            mirror = torch.rand(len(images), generator=generator) < 0.5
            images = torch.where(mirror.to(images.device)[:, None, None, None], images.flip(-1), images)
        with seeded(int(torch.randint(2**62, (), generator=generator))):
            out = torch.stack([transform(image) for image in images.cpu()])
        return to_unit_range(out.to(images.device))

    return policy


CLASSICAL.register("trivialaugment")(per_image(T.TrivialAugmentWide()))
CLASSICAL.register("randaugment")(per_image(T.RandAugment()))
