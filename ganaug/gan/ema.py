"""An exponential moving average of the generator's weights, used for sampling.

Hand-written rather than torch's AveragedModel because that one reads its
update count on the host at every step (a device sync on GPU); this one
keeps the count in Python. The decay warms up as min(decay, (1 + t) / (10 + t))
so that short runs are not dominated by the random initial weights.
Batch-norm running statistics are not averaged: `ready()` re-measures them on
the averaged weights before it draws anything (ganaug.gan.standing_stats).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ganaug.gan.models import Generator
from ganaug.gan.standing_stats import remeasure_batch_norm


class EmaGenerator:
    def __init__(self, generator: Generator, decay: float, z_dim: int, num_classes: int) -> None:
        self.decay = decay
        self.updates = 0
        self.z_dim, self.num_classes = z_dim, num_classes
        self.module: Generator = copy.deepcopy(generator).eval().requires_grad_(False)
        self._measured = set(_batch_norm_statistics(self.module))
        self._stale = True

    @torch.no_grad()
    def update(self, generator: Generator) -> None:
        self.updates += 1
        self._stale = True
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        ema_state = self.module.state_dict()
        for name, value in generator.state_dict().items():
            if name in self._measured:
                continue
            target = ema_state[name]
            if target.is_floating_point():
                target.lerp_(value.detach(), 1 - decay)
            else:
                target.copy_(value)

    def ready(self) -> Generator:
        """The averaged generator with batch-norm statistics of its own, re-measured once per update: the
        module to draw images from and to save."""
        if self._stale:
            remeasure_batch_norm(self.module, self.z_dim, self.num_classes)
            self._stale = False
        return self.module


def _batch_norm_statistics(module: Generator) -> list[str]:
    """state_dict names of the batch-norm buffers that re-measuring sets (running mean, variance, count)."""
    return [f"{prefix}.{buffer}" if prefix else buffer
            for prefix, m in module.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
            for buffer in ("running_mean", "running_var", "num_batches_tracked")]
