"""Stage 3: synthetic images as PyTorch data sets, mixed into a real training set, and the loss that goes with them;
a run's own split as data sets, and a sampler that compares training sets at equal optimiser steps."""

from ganaug.wrap.augmented import AugmentedDataset
from ganaug.wrap.loss import AugmentedLoss
from ganaug.wrap.on_the_fly import OnTheFlySynthetic
from ganaug.wrap.sampler import FixedStepsSampler
from ganaug.wrap.splits import RunSplit, load_split
from ganaug.wrap.synthetic import SyntheticDataset, SyntheticSource

__all__ = ["AugmentedDataset", "AugmentedLoss", "FixedStepsSampler", "OnTheFlySynthetic", "RunSplit",
           "SyntheticDataset", "SyntheticSource", "load_split"]
