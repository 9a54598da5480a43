"""Stage 2: from a trained run to a labelled synthetic set on disk."""

from ganaug.stages.augment.run import AugmentResult, augment

__all__ = ["AugmentResult", "augment"]
