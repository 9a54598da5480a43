"""Classical fixes for class imbalance in the real training images: oversampling and a class-weighted loss.

Both weight class c by N / (K n_c) (ganaug.data.balance), the baselines a GAN's per-class quotas must beat on
imbalanced data.
"""

from __future__ import annotations

REBALANCE = ("oversample", "reweight")
"""oversample: draw images inversely to their class's frequency (the same number of batches per epoch);
reweight: multiply each image's loss by its class's weight."""
