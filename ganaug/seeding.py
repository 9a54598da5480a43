"""Random streams that do not touch anyone else's.

Training a teacher, initialising a model or training a comparison cell draws
from torch's global RNG (weight init, dropout). Each such block runs from its
own seed inside `seeded`, which restores the caller's global state afterwards:
so a resumed GAN run draws exactly what an uninterrupted one would, whether or
not a teacher was trained in between.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the block from torch's global RNG seeded with `seed`; the caller's RNG state is restored after."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
