"""`ganaug evaluate`: measure a run's generator against the run's own data, offline."""

from ganaug.stages.evaluate.run import Evaluation, evaluate

__all__ = ["Evaluation", "evaluate"]
