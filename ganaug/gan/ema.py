"""An exponential moving average of the generator's weights, used for sampling.

Hand-written rather than torch's AveragedModel because that one reads its
update count on the host at every step (a device sync on GPU); this one
keeps the count in Python. The decay warms up as min(decay, (1 + t) / (10 + t))
so that short runs are not dominated by the random initial weights.
Buffers derived from the weights (spectral norm's u and v, batch-norm
statistics) are not averaged: `ready()` re-estimates them on the averaged
weights before anything is drawn or saved (ganaug.gan.derived_state).
"""

from __future__ import annotations

import copy

import torch

from ganaug.gan.derived_state import batch_norm_buffers, power_iteration_buffers, refresh_derived_state
from ganaug.gan.models import Generator


class EmaGenerator:
    def __init__(self, generator: Generator, decay: float, z_dim: int, num_classes: int) -> None:
        self.decay = decay
        self.updates = 0
        self.z_dim, self.num_classes = z_dim, num_classes
        self.module: Generator = copy.deepcopy(generator).eval().requires_grad_(False)
        self._remeasured = set(batch_norm_buffers(self.module))
        self._warm_start = set(power_iteration_buffers(self.module))
        self._stale = True

    @torch.no_grad()
    def update(self, generator: Generator) -> None:
        self.updates += 1
        self._stale = True
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        ema_state = self.module.state_dict()
        for name, value in generator.state_dict().items():
            if name in self._remeasured:
                continue
            target = ema_state[name]
            if target.is_floating_point() and name not in self._warm_start:
                target.lerp_(value.detach(), 1 - decay)
            else:  # counters, and u and v: the live generator's are the power iteration's starting point
                target.copy_(value)

    def ready(self) -> Generator:
        """The averaged generator with its derived buffers re-estimated, once per update: the module to draw
        images from and to save."""
        if self._stale:
            refresh_derived_state(self.module, self.z_dim, self.num_classes)
            self._stale = False
        return self.module
