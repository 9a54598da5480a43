"""Random mini-batches drawn from tensors already in memory (on the training device).

Each epoch is a fresh permutation; batches run across epoch boundaries, so any
batch size works with any data size and no image is skipped. Class-balanced
batches instead draw images with replacement, inversely to their class's
frequency (data.balance), so every class is as likely as any other. The full
state (generator, permutation, position) is saved with checkpoints, so a resumed
run draws exactly the batches an uninterrupted run would have.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganaug.data.balance import image_weights
from ganaug.data.pixels import to_unit_range


class InMemoryBatches:
    def __init__(self, images: Tensor, labels: Tensor, batch_size: int, seed: int, channels_last: bool = False,
                 class_balanced: bool = False) -> None:
        self.images, self.labels = images, labels
        self.batch_size = batch_size
        self.weights = image_weights(labels.cpu()) if class_balanced else None
        """Each image's chance of being drawn (class-balanced batches), or None: every image once per epoch."""
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.generator = torch.Generator()
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Start a new stream of batches: a fresh permutation from `seed` (another process's own stream)."""
        self.generator.manual_seed(seed)
        self.order = torch.randperm(len(self.images), generator=self.generator)
        self.position = 0

    def next_indices(self) -> Tensor:
        if self.weights is not None:
            drawn = torch.multinomial(self.weights, self.batch_size, replacement=True, generator=self.generator)
            return drawn.to(self.images.device, non_blocking=True)
        taken: list[Tensor] = []
        need = self.batch_size
        while need:
            if self.position == len(self.order):
                self.order = torch.randperm(len(self.images), generator=self.generator)
                self.position = 0
            chunk = self.order[self.position : self.position + need]
            self.position += len(chunk)
            need -= len(chunk)
            taken.append(chunk)
        return torch.cat(taken).to(self.images.device, non_blocking=True)

    def next(self) -> tuple[Tensor, Tensor]:
        """A batch of images in [-1, 1] (float) and their labels."""
        idx = self.next_indices()
        images = to_unit_range(self.images[idx])
        return images.contiguous(memory_format=self.memory_format), self.labels[idx]

    def state_dict(self) -> dict[str, Tensor]:
        return {
            "generator": self.generator.get_state(),
            "order": self.order.clone(),
            "position": torch.tensor(self.position),
        }

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Restore a saved position; a state that does not fit these images is a ValueError."""
        order, position = state["order"], int(state["position"])
        n = len(self.images)
        if order.dtype != torch.int64 or order.shape != (n,) or not torch.equal(order.sort().values, torch.arange(n)):
            raise ValueError(f"the saved batch order is not a permutation of the {n} training images")
        if not 0 <= position <= n:
            raise ValueError(f"the saved batch position {position} is outside 0..{n}")
        self.generator.set_state(state["generator"])
        self.order, self.position = order.clone(), position
