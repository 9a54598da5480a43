"""Measuring generated images against a run's real data: shared by `ganaug evaluate` and fit's evaluation hook.

The real side (validation features, training images, the teacher) is computed
once in a `Reference`; `measure` then scores any batch of generated images.
The real reference is the validation split (model selection data), never the
test split. Features come from the run's teacher (trained on the training split
only) unless the user supplies a feature module.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ganaug.metrics.reliability import MIN_PER_CLASS_FID, reliability
from ganaug.runs.run_dir import RunDir
from ganaug.metrics import (Memorisation, TeacherFeatures, collapse_warnings, distribution_scores, diversity_scores,
                            embed, frechet_distance, label_agreement, measure_memorisation, user_features)
from ganaug.metrics.features import TEACHER
from ganaug.runs.teacher import Teacher, get_teacher


@dataclass
class Reference:
    train: Tensor
    """uint8 training images: what a generated image must not copy."""
    val: Tensor
    val_labels: Tensor
    val_features: Tensor
    extractor: nn.Module
    teacher: Teacher
    features: str

    @classmethod
    def for_run(cls, run: RunDir, device: torch.device, *, features: str = TEACHER,
                progress: bool = True) -> Reference:
        extractor = None if features == TEACHER else user_features(features).to(device)  # fail before training
        pool, split = run.load_data()
        teacher = get_teacher(run, device, progress=progress)
        extractor = extractor or TeacherFeatures(teacher.model)
        val = pool.images[torch.tensor(split.val)]
        return cls(pool.images[torch.tensor(split.train)], val, pool.labels[torch.tensor(split.val)],
                   embed(extractor, val), extractor, teacher, features)

    def sanity(self, seed: int = 0) -> dict:
        """Reference FIDs at this sample size: real vs real (the floor) and pixel-shuffled real (clearly bad)."""
        order = torch.randperm(len(self.val), generator=torch.Generator().manual_seed(seed))
        half = len(self.val) // 2
        flat = self.val.flatten(1)
        rng = torch.Generator().manual_seed(seed)
        shuffled = torch.stack([row[torch.randperm(len(row), generator=rng)] for row in flat]).reshape(self.val.shape)
        return {"fid_validation_halves": frechet_distance(self.val_features[order[:half]],
                                                          self.val_features[order[half:]]),
                "fid_shuffled_pixels": frechet_distance(self.val_features, embed(self.extractor, shuffled))}


def measure(reference: Reference, images: Tensor, labels: Tensor | None, *,
            seed: int = 0) -> tuple[dict, Memorisation]:
    """All metrics of uint8 generated images (labels: the classes asked for, on conditional runs).

    Besides the figures: `diversity` (mode collapse per class), `reliability` (notes on figures computed from
    too few images) and `warnings` (lines a reader must see, such as a collapsed class).
    """
    generated = embed(reference.extractor, images)
    metrics: dict = {"generated": len(images), "features": reference.features,
                     "real_reference": f"validation split ({len(reference.val)} images)",
                     **distribution_scores(reference.val_features, generated, seed=seed)}
    memorisation = measure_memorisation(images, reference.train, reference.val)
    metrics["memorisation"] = memorisation.summary()
    metrics["diversity"] = diversity_scores(reference.val_features, reference.val_labels, generated, labels,
                                            reference.teacher.info["classes"])
    per_class = None
    if labels is not None:
        per_class_scores, per_class = _per_class(reference, images, generated, labels)
        metrics |= per_class_scores
    metrics["reliability"] = reliability(len(reference.val), len(images), generated.shape[1], per_class)
    metrics["warnings"] = collapse_warnings(metrics["diversity"])
    return metrics, memorisation


def _per_class(reference: Reference, images: Tensor, generated: Tensor,
               labels: Tensor) -> tuple[dict, list[tuple[int, int]]]:
    """Label agreement and per-class FID, and each class's (real, generated) counts for the reliability notes."""
    num_classes = reference.teacher.num_classes
    teacher_class = reference.teacher.probabilities(images).argmax(1)
    pairs = [(reference.val_features[reference.val_labels == c], generated[labels == c]) for c in range(num_classes)]
    fids = [frechet_distance(real, fake) if min(len(real), len(fake)) >= MIN_PER_CLASS_FID else None
            for real, fake in pairs]
    return ({"label_agreement": label_agreement(labels, teacher_class, num_classes), "per_class_fid": fids},
            [(len(real), len(fake)) for real, fake in pairs])
