"""Mode collapse: are the generated images of a class as varied as the real images of that class?

A collapsed generator makes (nearly) the same image again and again. The
distribution metrics can miss it: precision stays high (that one image looks
real), and FID and coverage estimated from a few dozen real images barely move.
Within-class diversity measures it directly: the mean distance between two
generated images of a class, divided by the mean distance between two real
images of the same class, in the same feature space as the other metrics.
1 means as varied as real data; a generator that repeats one image scores
near 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ganaug.metrics.record import JsonRecord

COLLAPSE_RATIO = 0.4
"""A class whose diversity ratio is below this is flagged as collapsed.

Measured in the teacher's features on digits (tests/test_collapse.py has the first two):
- one image repeated with +-2 grey levels of noise, the reported failure: 0.02-0.07 per class;
- real training images, what a perfect generator makes: 0.88-1.06 per class;
- the default `digits` recipe (unconditional DCGAN, 1,000 images) while it trains: 0.19 at step 100,
  0.48 at step 200 (FID 117, recall 0.09), 0.63 at step 300 (FID 35, recall 0.53: a working generator);
- k distinct real images per class, repeated: about 1 - 1/k on average (0.26-0.98 for k = 2).
0.4 sits well above collapse and far enough below a working generator that a class measured on only
MIN_DIVERSITY_IMAGES real images (whose spread moves by about +-17%) is not flagged by chance. A partial
collapse onto several distinct images passes here and shows up as low recall and coverage instead.
"""
NEAR_DUPLICATE_RATIO = 0.1
"""Two generated images of a class closer than this fraction of the class's mean real pairwise distance are
near-duplicates: no pair of real digits of one class is that close (0 of 78,394 in the teacher's features),
while one image repeated with +-2 grey levels of noise puts nearly all of its pairs below it."""
MAX_IMAGES = 1000
"""At most this many images per class and side (a seeded random subset) enter the pairwise distances, so time
and memory stay bounded whatever --count is; half a million pairs pin the mean down far beyond its two decimals."""
ALL = "all images"
"""The one group an unconditional run is measured as."""


def mean_pairwise_distance(features: Tensor) -> float:
    """Mean Euclidean distance over distinct pairs: no zero self-distances, so few images do not shrink it."""
    if len(features) < 2:
        raise ValueError(f"a mean pairwise distance needs at least 2 images, not {len(features)}")
    return float(torch.pdist(features.double()).mean())


@dataclass(frozen=True)
class DiversityReport(JsonRecord):
    """How varied the generated images are against real ones, per class: what a low FID can hide."""

    per_class: dict[str, float | None]
    """Class name (ALL without labels) -> generated/real diversity; None where a class has under 2 images a side."""
    overall: float | None
    """The same ratio over all images, classes mixed."""
    threshold: float
    """COLLAPSE_RATIO when measured."""
    collapsed: list[str]
    """The classes whose ratio is below the threshold."""
    near_duplicate_pairs: int
    generated_pairs: int
    """Generated pairs of one class compared, and how many of them are near-duplicates (NEAR_DUPLICATE_RATIO)."""

    def warnings(self) -> list[str]:
        """One line per collapsed class, for a reader who would otherwise trust a good FID."""
        lines = []
        for name in self.collapsed:
            where = "" if name == ALL else f" in class '{name}'"
            lines.append(f"warning: mode collapse{where}: generated images are {self.per_class[name]:.2f}x "
                         "as varied as real ones")
        return lines

    def lowest(self) -> tuple[str | None, float | None]:
        """The class with the lowest ratio and that ratio; (None, None) where no class had images enough to measure."""
        measured = {name: ratio for name, ratio in self.per_class.items() if ratio is not None}
        if not measured:
            return None, None
        name = min(measured, key=lambda n: measured[n])
        return name, measured[name]


def diversity_scores(real: Tensor, real_labels: Tensor | None, fake: Tensor, fake_labels: Tensor | None,
                     class_names: list[str]) -> DiversityReport:
    """Generated/real diversity per class (one group, ALL, without labels), overall, and the collapsed classes."""
    if fake_labels is None:
        groups = {ALL: (real, fake)}
    else:
        groups = {name: (real[real_labels == c], fake[fake_labels == c]) for c, name in enumerate(class_names)}
    per_class: dict[str, float | None] = {}
    duplicates, pairs = 0, 0
    for name, (real_group, fake_group) in groups.items():
        ratio, near, compared = _group_diversity(_subset(real_group), _subset(fake_group))
        per_class[name] = ratio
        duplicates, pairs = duplicates + near, pairs + compared
    overall, _, _ = _group_diversity(_subset(real), _subset(fake))
    collapsed = [name for name, ratio in per_class.items() if ratio is not None and ratio < COLLAPSE_RATIO]
    return DiversityReport(per_class, overall, COLLAPSE_RATIO, collapsed, duplicates, pairs)


def _group_diversity(real: Tensor, fake: Tensor) -> tuple[float | None, int, int]:
    """(ratio, near-duplicate generated pairs, generated pairs); no ratio where either side has under 2 images."""
    if min(len(real), len(fake)) < 2:
        return None, 0, 0
    real_spread = mean_pairwise_distance(real)
    if real_spread == 0:  # identical real images: nothing to be as varied as
        return None, 0, 0
    fake_distances = torch.pdist(fake.double())
    near = int((fake_distances < NEAR_DUPLICATE_RATIO * real_spread).sum())
    return float(fake_distances.mean()) / real_spread, near, len(fake_distances)


def _subset(features: Tensor) -> Tensor:
    if len(features) <= MAX_IMAGES:
        return features
    return features[torch.randperm(len(features), generator=torch.Generator().manual_seed(0))[:MAX_IMAGES]]
