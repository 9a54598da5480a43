"""Stage 3: synthetic images as PyTorch data sets, mixed into a real training set, and the loss that goes with them;
a run's own split as data sets, and a sampler that compares training sets at equal optimiser steps."""

from ganaug.stages.wrap.augmented import AugmentedDataset
from ganaug.stages.wrap.loss import AugmentedLoss
from ganaug.stages.wrap.on_the_fly import OnTheFlySynthetic
from ganaug.stages.wrap.sampler import FixedStepsSampler
from ganaug.stages.wrap.splits import RunSplit, load_split
from ganaug.stages.wrap.synthetic import SyntheticDataset, SyntheticSource

__all__ = ["AugmentedDataset", "AugmentedLoss", "FixedStepsSampler", "OnTheFlySynthetic", "RunSplit",
           "SyntheticDataset", "SyntheticSource", "load_split"]
