"""Measuring what a generator makes: how close to real data, how varied, how faithful to its class, and whether it copies.

All metrics work on features (see `features`), so they run offline on any data set.
"""

from ganaug.metrics.agreement import label_agreement
from ganaug.metrics.distribution import distribution_scores, frechet_distance, kernel_distance, manifold_scores
from ganaug.metrics.diversity import collapse_warnings, diversity_scores, lowest_diversity, mean_pairwise_distance
from ganaug.metrics.features import TeacherFeatures, embed, user_features
from ganaug.metrics.memorisation import Memorisation, measure_memorisation, nearest_neighbours

__all__ = ["Memorisation", "TeacherFeatures", "collapse_warnings", "distribution_scores", "diversity_scores", "embed",
           "frechet_distance", "kernel_distance", "label_agreement", "lowest_diversity", "manifold_scores",
           "mean_pairwise_distance", "measure_memorisation", "nearest_neighbours", "user_features"]
