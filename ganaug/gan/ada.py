"""Adaptive augmentation strength (ADA, Karras et al. 2020, "Training Generative Adversarial Networks with Limited
Data"), steering the DiffAugment policies.

With ADA on, each image gets the policies with probability p instead of always (one draw per image for the whole
chain, where the paper draws per transform, so that p = 1 is exactly DiffAugment as it was). p starts at 0 and
follows the paper's overfitting heuristic r_t = E[sign(D(x_real))] over the real batches D scored in the last
`interval` steps: r_t near 1 means D is sure of every training image (it is memorising them), so p rises while r_t
is above the target (0.6 in the paper) and falls while it is below. Each interval moves p by
sign(r_t - target) * images / (kimg * 1000), clamped to [0, 1], where images is the number of real images D scored
in the interval (batch_size x interval with one D step per step): p can go from 0 to 1 in `kimg` thousand images.

Everything stays on the device (the step counts are host integers the trainer already knows), so ADA adds no host
sync; p and the interval's accumulators are saved with every checkpoint so that a resumed run continues exactly.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganaug.distributed import all_sum, world_size


class AdaptiveStrength:
    """p, the last r_t, and the current interval's accumulators; `target` 0 turns ADA off."""

    def __init__(self, target: float = 0.0, interval: int = 4, kimg: float = 500.0,
                 device: torch.device | str | None = None) -> None:
        self.target, self.interval, self.kimg = target, interval, kimg
        self.p = torch.zeros((), device=device)
        """The augmentation probability, updated in place (DiffAugment holds this tensor)."""
        self.rt = torch.zeros((), device=device)
        """r_t of the last finished interval (0 before the first one ends)."""
        self.signs = torch.zeros((), device=device)
        """Sum of sign(D(x_real)) in the current interval."""
        self.images = 0
        """Real images D scored in the current interval."""
        self.steps = 0
        """Steps done in the current interval."""

    @property
    def enabled(self) -> bool:
        return self.target > 0

    @property
    def strength(self) -> Tensor | None:
        """What DiffAugment's `strength` takes: p, or None with ADA off (every image augmented, as without ADA)."""
        return self.p if self.enabled else None

    def observe(self, real_scores: Tensor) -> None:
        """Count D's scores on a (DiffAugmented) real batch towards this interval's r_t."""
        with torch.no_grad():
            self.signs.add_(real_scores.detach().float().sign().sum())
        self.images += real_scores.numel()

    def end_step(self) -> None:
        """Close one training step; the interval's last one moves p."""
        self.steps += 1
        if self.steps < self.interval:
            return
        with torch.no_grad():  # over every rank's real batches when training on several processes
            self.rt.copy_(all_sum(self.signs) / (self.images * world_size()))
            self.p.add_(torch.sign(self.rt - self.target) * (self.images / (self.kimg * 1000))).clamp_(0, 1)
            self.signs.zero_()
        self.images = self.steps = 0

    def state_dict(self) -> dict[str, Tensor]:
        return {"p": self.p.clone(), "rt": self.rt.clone(), "signs": self.signs.clone(),
                "images": torch.tensor(self.images), "steps": torch.tensor(self.steps)}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Copy a saved state in place, so the DiffAugment holding p sees it (a KeyError names a missing part)."""
        self.p.copy_(state["p"])
        self.rt.copy_(state["rt"])
        self.signs.copy_(state["signs"])
        self.images, self.steps = int(state["images"]), int(state["steps"])
