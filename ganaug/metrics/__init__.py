"""Measuring what a generator makes: how close to real data, how varied, how faithful to its class,
and whether it copies.

All metrics work on features (see `features`), so they run offline on any data set. Each figure with parts comes
as a dataclass (Agreement, DiversityReport, MemorisationSummary, Reliability) whose fields are its JSON keys.
"""

from ganaug.metrics.agreement import Agreement, label_agreement
from ganaug.metrics.distribution import distribution_scores, frechet_distance, kernel_distance, manifold_scores
from ganaug.metrics.diversity import DiversityReport, diversity_scores, mean_pairwise_distance
from ganaug.metrics.features import TeacherFeatures, embed, user_features
from ganaug.metrics.memorisation import Memorisation, MemorisationSummary, measure_memorisation, nearest_neighbours
from ganaug.metrics.reliability import Reliability

__all__ = ["Agreement", "DiversityReport", "Memorisation", "MemorisationSummary", "Reliability", "TeacherFeatures",
           "distribution_scores", "diversity_scores", "embed", "frechet_distance", "kernel_distance",
           "label_agreement", "manifold_scores", "mean_pairwise_distance", "measure_memorisation",
           "nearest_neighbours", "user_features"]
