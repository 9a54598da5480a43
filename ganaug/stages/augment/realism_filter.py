"""`augment --drop-worst F`: leave out the least realistic fraction F of generated images.

Realism is scored in the teacher's feature space against the run's training
split (metrics.realism_scores). A fixed threshold is set first, the F-quantile
of the scores of a calibration batch drawn from seeds augment never uses for
output, and then applied to every batch, so quotas and --min-confidence still
work as a stream and the kept fraction is about 1 - F.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganaug.metrics import TeacherFeatures, embed
from ganaug.metrics.realism import realism_scores
from ganaug.runs.generator import RunGenerator
from ganaug.runs.teacher import Teacher

CALIBRATION_IMAGES = 2000
CALIBRATION_OFFSET = 2**31
"""Calibration seeds are seed * 2**32 + 2**31 + i: never one of augment's output seeds seed * 2**32 + i."""


class RealismFilter:
    def __init__(self, generator: RunGenerator, teacher: Teacher, fraction: float, seed: int) -> None:
        pool, split = generator.run.load_data()
        self.extractor = TeacherFeatures(teacher.model)
        self.real = embed(self.extractor, pool.images[torch.tensor(split.train)])
        self.fraction = fraction
        seeds = seed * 2**32 + CALIBRATION_OFFSET + torch.arange(CALIBRATION_IMAGES)
        classes = torch.arange(CALIBRATION_IMAGES) % generator.num_classes if generator.conditional else None
        scores = torch.cat([
            self.scores(generator.generate(seeds[i:i + 500], None if classes is None else classes[i:i + 500]))
            for i in range(0, CALIBRATION_IMAGES, 500)
        ])
        self.threshold = float(torch.quantile(scores.double(), fraction))

    def scores(self, images: Tensor) -> Tensor:
        return realism_scores(self.real, embed(self.extractor, images))

    def keep(self, scores: Tensor) -> Tensor:
        return scores >= self.threshold
