"""Targets for synthetic images: the labelling strategies, per-class quotas and what is known about each sample.

Neutral ground: `augment` writes sets with them, `wrap` and `compare` read sets
with them, and none of those needs the others to do it.
"""

from ganaug.labels.labellers import LABELLERS, Labeller, class_naming_labels, create_labeller, default_strategy
from ganaug.labels.quotas import Quotas, fill_smallest, plan_quotas
from ganaug.labels.sample_info import SampleInfo

__all__ = ["LABELLERS", "Labeller", "Quotas", "SampleInfo", "class_naming_labels", "create_labeller",
           "default_strategy", "fill_smallest", "plan_quotas"]
