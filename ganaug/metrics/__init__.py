"""Measuring what a generator makes: how close to real data, how varied, how faithful to its class, and whether it copies.

All metrics work on features (see `features`), so they run offline on any data set.
"""

from ganaug.metrics.agreement import label_agreement
from ganaug.metrics.distribution import distribution_scores, frechet_distance, kernel_distance, manifold_scores
from ganaug.metrics.features import TeacherFeatures, embed, user_features
from ganaug.metrics.memorisation import Memorisation, measure_memorisation, nearest_neighbours

__all__ = ["Memorisation", "TeacherFeatures", "distribution_scores", "embed", "frechet_distance", "kernel_distance",
           "label_agreement", "manifold_scores", "measure_memorisation", "nearest_neighbours", "user_features"]
