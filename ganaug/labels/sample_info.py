"""What is known about synthetic images: the class each was generated for, and the teacher's probabilities.

Labellers turn it into targets; the synthetic set on disk stores it per sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class SampleInfo:
    """What is known about a batch of synthetic images."""

    count: int
    generated_for: Tensor | None = None
    """int64, N: the class each image was generated for (conditional runs)."""
    teacher_probs: Tensor | None = None
    """float, N x K: the teacher's class probabilities."""

    def take(self, index: slice | Tensor) -> SampleInfo:
        """The rows a slice, a bool mask or a tensor of indices selects."""
        if isinstance(index, slice):
            count = len(range(self.count)[index])
        else:
            count = int(index.sum()) if index.dtype == torch.bool else len(index)
        return SampleInfo(count, *(None if t is None else t[index] for t in (self.generated_for, self.teacher_probs)))

    def classes(self) -> Tensor | None:
        """Each image's class where one is known: the class it was generated for, else the teacher's choice."""
        if self.generated_for is not None:
            return self.generated_for
        return None if self.teacher_probs is None else self.teacher_probs.argmax(1)
