"""GAN losses, one small class each, registered by name.

Each takes the discriminator's raw scores (logits / critic values). Losses that
need more than scores hook in through `penalty` (gradient penalty) or
`after_discriminator_step` (weight clipping), so the training step has no
per-loss branches.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ganaug.gan.models import Discriminator
from ganaug.registry import Registry

LOSSES: Registry[type[GanLoss]] = Registry("loss")


class GanLoss:
    def __init__(self, gp_weight: float = 10.0, clip: float = 0.01) -> None:
        self.gp_weight = gp_weight
        self.clip = clip

    def discriminator(self, real: Tensor, fake: Tensor) -> Tensor:
        raise NotImplementedError

    def generator(self, fake: Tensor) -> Tensor:
        raise NotImplementedError

    def penalty(self, critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                generator: torch.Generator | None = None) -> Tensor | None:
        """An extra discriminator loss term (generator: the random stream to draw from)."""
        return None

    def after_discriminator_step(self, discriminator: Discriminator) -> None:
        pass


@LOSSES.register("vanilla")
class NonSaturating(GanLoss):
    """Goodfellow et al.: D minimises BCE; G maximises log D(G(z)) (non-saturating)."""

    def discriminator(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.softplus(-real).mean() + F.softplus(fake).mean()

    def generator(self, fake: Tensor) -> Tensor:
        return F.softplus(-fake).mean()


@LOSSES.register("lsgan")
class LeastSquares(GanLoss):
    """Mao et al., the 0/1 variant: real -> 1, fake -> 0, G pushes fakes to 1."""

    def discriminator(self, real: Tensor, fake: Tensor) -> Tensor:
        return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()

    def generator(self, fake: Tensor) -> Tensor:
        return 0.5 * ((fake - 1) ** 2).mean()


class _Critic(GanLoss):
    """Wasserstein scores: the critic estimates W1 between real and generated."""

    def discriminator(self, real: Tensor, fake: Tensor) -> Tensor:
        return fake.mean() - real.mean()

    def generator(self, fake: Tensor) -> Tensor:
        return -fake.mean()


@LOSSES.register("wgan")
class WassersteinClip(_Critic):
    """Arjovsky et al.: Lipschitz by clipping the critic's weights to [-clip, clip]."""

    @torch.no_grad()
    def after_discriminator_step(self, discriminator: Discriminator) -> None:
        for p in discriminator.parameters():
            p.clamp_(-self.clip, self.clip)


@LOSSES.register("wgan-gp")
class WassersteinGP(_Critic):
    """Gulrajani et al.: gp_weight * (||grad D(x_hat)|| - 1)^2 on random interpolates."""

    def penalty(self, critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor,
                generator: torch.Generator | None = None) -> Tensor:
        eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype, generator=generator)
        x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
        (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
        norm = grad.float().flatten(1).norm(dim=1)
        return self.gp_weight * ((norm - 1) ** 2).mean()


@LOSSES.register("hinge")
class Hinge(GanLoss):
    """Lim & Ye / Miyato et al.: hinge for D, -D(G(z)) for G."""

    def discriminator(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()

    def generator(self, fake: Tensor) -> Tensor:
        return -fake.mean()


def create_loss(name: str, gp_weight: float = 10.0, clip: float = 0.01) -> GanLoss:
    return LOSSES.get(name)(gp_weight=gp_weight, clip=clip)
