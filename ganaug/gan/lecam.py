"""LeCam regularisation (Tseng et al. 2021, "Regularizing Generative Adversarial Networks under Limited Data").

R = E[relu(D(x) - a_fake)^2] + E[relu(a_real - D(G(z)))^2], added to the discriminator loss with a weight. The
anchors a_real and a_fake are exponential moving averages of D's mean score on real and generated images: the
term pulls a real image's score down only where it rises above the generated images' recent average (and a
generated image's up only below the real average), so D cannot drive the two apart without bound on a small
training set (the paper ties it to the LeCam divergence). The paper uses a weight of about 0.3 with the hinge
loss on BigGAN-type models.

The ReLU is the authors' code's (google/lecam-gan); the paper's formula has none, and then also penalises the
spread of D's scores around the other side's anchor. With the batch-norm DCGAN's unbounded scores that spread
dominated: the term was 171 at step 1 and weight 0.3 broke training (FID 4,698, results/generators).

The anchors are training state: they are saved with every checkpoint so that a resumed run continues exactly.
"""

from __future__ import annotations

import torch
from torch import Tensor


class LeCam:
    """The term, its weight, and its anchors (0-d tensors on the training device, updated in place)."""

    DECAY = 0.99
    """Of the anchors' moving averages, as in the paper."""

    def __init__(self, weight: float = 0.0, device: torch.device | str | None = None) -> None:
        self.weight = weight
        self.real = torch.zeros((), device=device)
        """a_real: the moving average of D's mean score on real images."""
        self.fake = torch.zeros((), device=device)
        """a_fake: the moving average of D's mean score on generated images."""

    @property
    def enabled(self) -> bool:
        return self.weight > 0

    def __call__(self, real: Tensor, fake: Tensor) -> Tensor:
        """The unweighted term for D's scores on a real and a generated batch.

        The anchors first take in this batch's mean scores (as the authors' code does), then anchor the term;
        they are constants to autograd. Stays on the device: no host sync.
        """
        with torch.no_grad():
            self.real.lerp_(real.detach().float().mean(), 1 - self.DECAY)
            self.fake.lerp_(fake.detach().float().mean(), 1 - self.DECAY)
            a_real, a_fake = self.real.clone(), self.fake.clone()
        return (real - a_fake).relu().square().mean() + (a_real - fake).relu().square().mean()

    def state_dict(self) -> dict[str, Tensor]:
        return {"real": self.real.clone(), "fake": self.fake.clone()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Copy saved anchors in place (a KeyError names a missing one)."""
        self.real.copy_(state["real"])
        self.fake.copy_(state["fake"])
