"""Labellers: one small class per strategy, each turning what is known about synthetic images into targets.

Every strategy produces the same kind of target, a probability vector over the
classifier's outputs (K, or K + 1 for `extra`), which `nn.CrossEntropyLoss`
accepts as it is. Real images get one-hot vectors of the same length.

    extra           class K: the classifier gets K + 1 outputs; only the K real ones count at test time
    argmax          the class the teacher predicts
    argmax-dynamic  the class the classifier being trained predicts, at each forward pass: the targets
                    here are all-zero placeholders; the Dataset wrappers hand them out as NaN, so a plain
                    cross-entropy fails loudly instead of adding nothing, and `AugmentedLoss` fills them
    uniform         LSRO: 1/K on every real class
    conditional     the class the image was generated for
    soft            the teacher's probability vector
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from ganaug.errors import UsageError
from ganaug.labels.sample_info import SampleInfo
from ganaug.registry import Registry


def default_strategy(conditional: bool) -> str:
    """The class an image was generated for where there is one, else LSRO's uniform label."""
    return "conditional" if conditional else "uniform"


class Labeller:
    name: ClassVar[str]
    needs_teacher: ClassVar[bool] = False
    needs_conditional: ClassVar[bool] = False
    extra_output: ClassVar[bool] = False
    dynamic: ClassVar[bool] = False
    """Targets are decided by the classifier being trained, inside the loss."""
    names_a_class: ClassVar[bool] = True
    """The targets tell the real classes apart, so synthetic images alone can teach a classifier (pre-training);
    not so for extra, uniform and argmax-dynamic."""

    def num_outputs(self, num_classes: int) -> int:
        return num_classes + int(self.extra_output)

    def targets(self, info: SampleInfo, num_classes: int) -> Tensor:
        """N x num_outputs probability vectors (all-zero rows for dynamic labels)."""
        raise NotImplementedError

    def assigned_class(self, info: SampleInfo) -> Tensor | None:
        """The one class each image is given, where the strategy gives one among the real classes."""
        return None

    def confidence(self, info: SampleInfo) -> Tensor:
        """The teacher's probability for the assigned class (its top class where none is assigned)."""
        probs = _teacher(info, self.name)
        assigned = self.assigned_class(info)
        if assigned is None:
            return probs.max(1).values
        return probs.gather(1, assigned.unsqueeze(1)).squeeze(1)

    def check(self, *, conditional: bool, has_teacher: bool, where: str) -> None:
        """Fail with a clear message if `where` lacks what this strategy needs."""
        if self.needs_conditional and not conditional:
            raise UsageError(f"--labels {self.name} needs a conditional GAN, but {where} is unconditional; "
                              "use uniform, extra, argmax or soft, or train with model.conditional = true")
        if self.needs_teacher and not has_teacher:
            raise UsageError(f"--labels {self.name} needs teacher probabilities, which {where} lacks; "
                              f"generate it with ganaug augment --labels {self.name}")


LABELLERS: Registry[type[Labeller]] = Registry("labelling strategy")


def class_naming_labels() -> list[str]:
    """The labelling strategies whose targets name one class (what pre-training and oversampling by class need)."""
    return [name for name in LABELLERS.names() if LABELLERS.get(name).names_a_class]


def create_labeller(name: str) -> Labeller:
    return LABELLERS.get(name)()


def _register(cls: type[Labeller]) -> type[Labeller]:
    return LABELLERS.register(cls.name)(cls)


def _teacher(info: SampleInfo, name: str) -> Tensor:
    if info.teacher_probs is None:
        raise UsageError(f"--labels {name} needs teacher probabilities; generate the set with a teacher")
    return info.teacher_probs


@_register
class ExtraClass(Labeller):
    name = "extra"
    extra_output = True
    names_a_class = False

    def targets(self, info: SampleInfo, num_classes: int) -> Tensor:
        return F.one_hot(torch.full((info.count,), num_classes), num_classes + 1).float()


@_register
class TeacherArgmax(Labeller):
    name = "argmax"
    needs_teacher = True

    def targets(self, info: SampleInfo, num_classes: int) -> Tensor:
        return F.one_hot(self.assigned_class(info), num_classes).float()

    def assigned_class(self, info: SampleInfo) -> Tensor:
        return _teacher(info, self.name).argmax(1)


@_register
class DynamicArgmax(Labeller):
    name = "argmax-dynamic"
    dynamic = True
    names_a_class = False

    def targets(self, info: SampleInfo, num_classes: int) -> Tensor:
        return torch.zeros(info.count, num_classes)


@_register
class Uniform(Labeller):
    name = "uniform"
    names_a_class = False

    def targets(self, info: SampleInfo, num_classes: int) -> Tensor:
        return torch.full((info.count, num_classes), 1.0 / num_classes)


@_register
class GeneratedFor(Labeller):
    name = "conditional"
    needs_conditional = True

    def targets(self, info: SampleInfo, num_classes: int) -> Tensor:
        return F.one_hot(self.assigned_class(info), num_classes).float()

    def assigned_class(self, info: SampleInfo) -> Tensor:
        if info.generated_for is None:
            raise UsageError("--labels conditional needs the class each image was generated for (a conditional run)")
        return info.generated_for


@_register
class TeacherSoft(Labeller):
    name = "soft"
    needs_teacher = True

    def targets(self, info: SampleInfo, num_classes: int) -> Tensor:
        return _teacher(info, self.name).float().clone()

    def assigned_class(self, info: SampleInfo) -> Tensor:
        return _teacher(info, self.name).argmax(1)
