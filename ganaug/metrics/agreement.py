"""Label agreement: does a conditional generator make the class it was asked for?"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor

from ganaug.metrics.record import JsonRecord


@dataclass(frozen=True)
class Agreement(JsonRecord):
    """How often the teacher sees the class an image was generated for: label noise in conditional samples."""

    overall: float
    """Share of all images whose teacher class is the class they were generated for."""
    per_class: list[float]
    """The same share per class asked for; NaN for a class no image was generated for."""


def label_agreement(generated_for: Tensor, teacher_class: Tensor, num_classes: int) -> Agreement:
    """Share of images whose teacher class is the class they were generated for, overall and per class."""
    if generated_for.shape != teacher_class.shape or len(generated_for) == 0:
        raise ValueError("label agreement needs one generated-for and one teacher class per image")
    agree = (generated_for == teacher_class).float()
    per_class = [agree[generated_for == c].mean().item() if bool((generated_for == c).any()) else math.nan
                 for c in range(num_classes)]
    return Agreement(agree.mean().item(), per_class)
