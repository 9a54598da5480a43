"""Stage 2: from a trained run to labelled synthetic images (generator, teacher, labellers, the set on disk)."""

from ganaug.augment.generator import RunGenerator
from ganaug.augment.labellers import LABELLERS, Labeller, SampleInfo, create_labeller
from ganaug.augment.quotas import Quotas, plan_quotas
from ganaug.augment.run import AugmentResult, augment
from ganaug.augment.synthset import SynthSet
from ganaug.teacher import Teacher, get_teacher

__all__ = ["LABELLERS", "AugmentResult", "Labeller", "Quotas", "RunGenerator", "SampleInfo", "SynthSet", "Teacher",
           "augment", "create_labeller", "get_teacher", "plan_quotas"]
