"""An exponential moving average of the generator's weights, used for sampling.

Hand-written rather than torch's AveragedModel because that one reads its
update count on the host at every step (a device sync on GPU); this one
keeps the count in Python. The decay warms up as min(decay, (1 + t) / (10 + t))
so that short runs are not dominated by the random initial weights.
"""

from __future__ import annotations

import copy

import torch

from ganaug.gan.models import Generator


class EmaGenerator:
    def __init__(self, generator: Generator, decay: float) -> None:
        self.decay = decay
        self.updates = 0
        self.module: Generator = copy.deepcopy(generator).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, generator: Generator) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        ema_state = self.module.state_dict()
        for name, value in generator.state_dict().items():
            target = ema_state[name]
            if target.is_floating_point():
                target.lerp_(value.detach(), 1 - decay)
            else:
                target.copy_(value)
