"""Measuring generated images against a run's real data: shared by `ganaug evaluate` and fit's evaluation hook.

The real side (validation features, training images, the teacher) is computed
once in a `Reference`; `measure` then scores any batch of generated images.
The real reference is the validation split (model selection data), never the
test split. Features come from the run's teacher (trained on the training split
only) unless the user supplies a feature module.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import torch
from torch import Tensor, nn

from ganaug.metrics import (
    Agreement,
    DiversityReport,
    Memorisation,
    MemorisationSummary,
    Reliability,
    TeacherFeatures,
    distribution_scores,
    diversity_scores,
    embed,
    frechet_distance,
    label_agreement,
    manifold_scores,
    measure_memorisation,
    user_features,
)
from ganaug.metrics.distribution import NEAREST_K
from ganaug.metrics.features import TEACHER
from ganaug.metrics.record import JsonRecord
from ganaug.metrics.reliability import MIN_PER_CLASS_FID, reliability
from ganaug.runs.run_dir import RunDir
from ganaug.runs.teacher import Teacher, get_teacher


@dataclass(frozen=True)
class Sanity(JsonRecord):
    """Reference FIDs at the sample size measured, so a reader can tell what "good" means on this data."""

    fid_validation_halves: float
    """Real vs real: two halves of the validation split, the floor."""
    fid_shuffled_pixels: float
    """Pixel-shuffled validation images: clearly bad."""
    training_images: int | None = None
    training_precision: float | None = None
    training_recall: float | None = None
    training_coverage: float | None = None
    """The GAN's own training images scored as if generated: what a generator that reproduced its training data
    would reach, so a recall of 0.73 reads against real data's, not against 1 (None in reports written before).
    k-NN figures move with the number of images scored, so compare at like sizes (training_images)."""

    def to_json(self) -> dict[str, Any]:
        """Reports written before the training references were measured read back as they were written."""
        return {name: value for name, value in super().to_json().items() if value is not None}


@dataclass(frozen=True)
class QualityReport:
    """What `measure` finds, as `ganaug evaluate` (metrics.json), fit (evaluations.jsonl rows) and compare
    (synthetic_quality.json) report it.

    On disk the keys are the field names, in this order; a section that is None is left out: label agreement and
    per-class FID on unconditional runs, and diversity in reports written before it was measured (those have no
    reliability notes or warnings either, and read back with none).
    """

    generated: int
    features: str
    real_reference: str
    fid: float
    kid: float
    kid_std: float
    precision: float
    recall: float
    density: float
    coverage: float
    memorisation: MemorisationSummary
    diversity: DiversityReport | None = None
    label_agreement: Agreement | None = None
    per_class_fid: list[float | None] | None = None
    """Per class asked for; None where a class has under MIN_PER_CLASS_FID images a side."""
    reliability: Reliability = field(default_factory=Reliability)
    warnings: list[str] = field(default_factory=list)
    """Lines a reader must see, such as a collapsed class."""

    def to_json(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: value.to_json() if isinstance(value, JsonRecord) else value
                for name, value in values.items() if value is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QualityReport:
        """The report in `data`; its other keys (an evaluation's sanity, compare's synthetic set) are the caller's."""
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        sections = {name: kind.from_json(values[name]) for name, kind in _SECTIONS.items() if name in values}
        return cls(**values | sections)


_SECTIONS: dict[str, type[JsonRecord]] = {"memorisation": MemorisationSummary, "diversity": DiversityReport,
                                          "label_agreement": Agreement, "reliability": Reliability}
"""The fields of QualityReport that are records of their own, for from_json."""


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

    def sanity(self, seed: int = 0) -> Sanity:
        """Reference FIDs at this sample size, real vs real (the floor) and pixel-shuffled real (clearly bad), and the
        training images' precision, recall and coverage."""
        order = torch.randperm(len(self.val), generator=torch.Generator().manual_seed(seed))
        half = len(self.val) // 2
        flat = self.val.flatten(1)
        rng = torch.Generator().manual_seed(seed)
        shuffled = torch.stack([row[torch.randperm(len(row), generator=rng)] for row in flat]).reshape(self.val.shape)
        training = manifold_scores(self.val_features, embed(self.extractor, self.train)) \
            if len(self.train) >= NEAREST_K + 2 else {}  # too few for k-NN manifolds: no reference, not an error
        return Sanity(frechet_distance(self.val_features[order[:half]], self.val_features[order[half:]]),
                      frechet_distance(self.val_features, embed(self.extractor, shuffled)),
                      len(self.train) if training else None, training.get("precision"), training.get("recall"),
                      training.get("coverage"))


def measure(reference: Reference, images: Tensor, labels: Tensor | None, *,
            seed: int = 0) -> tuple[QualityReport, Memorisation]:
    """All metrics of uint8 generated images (labels: the classes asked for, on conditional runs), and the
    memorisation distances behind the report's summary (for pictures of the closest pairs)."""
    generated = embed(reference.extractor, images)
    scores = distribution_scores(reference.val_features, generated, seed=seed)
    memorisation = measure_memorisation(images, reference.train, reference.val)
    diversity = diversity_scores(reference.val_features, reference.val_labels, generated, labels,
                                 reference.teacher.info["classes"])
    agreement, per_class_fid, per_class = _per_class(reference, images, generated, labels) if labels is not None \
        else (None, None, None)
    report = QualityReport(generated=len(images), features=reference.features,
                           real_reference=f"validation split ({len(reference.val)} images)", **scores,
                           memorisation=memorisation.summary(), diversity=diversity, label_agreement=agreement,
                           per_class_fid=per_class_fid,
                           reliability=reliability(len(reference.val), len(images), generated.shape[1], per_class),
                           warnings=diversity.warnings())
    return report, memorisation


def _per_class(reference: Reference, images: Tensor, generated: Tensor,
               labels: Tensor) -> tuple[Agreement, list[float | None], list[tuple[int, int]]]:
    """Label agreement, per-class FID, and each class's (real, generated) counts for the reliability notes."""
    num_classes = reference.teacher.num_classes
    teacher_class = reference.teacher.probabilities(images).argmax(1)
    pairs = [(reference.val_features[reference.val_labels == c], generated[labels == c]) for c in range(num_classes)]
    fids = [frechet_distance(real, fake) if min(len(real), len(fake)) >= MIN_PER_CLASS_FID else None
            for real, fake in pairs]
    return label_agreement(labels, teacher_class, num_classes), fids, [(len(real), len(fake)) for real, fake in pairs]
