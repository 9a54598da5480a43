"""Stage 3: synthetic images as PyTorch data sets, mixed into a real training set, and the loss that goes with them."""

from ganaug.wrap.augmented import AugmentedDataset
from ganaug.wrap.loss import AugmentedLoss
from ganaug.wrap.on_the_fly import OnTheFlySynthetic
from ganaug.wrap.synthetic import SyntheticDataset, SyntheticSource

__all__ = ["AugmentedDataset", "AugmentedLoss", "OnTheFlySynthetic", "SyntheticDataset", "SyntheticSource"]
