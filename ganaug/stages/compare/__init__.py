"""Stage 4: train a downstream classifier per labelling strategy, ratio and seed, and report what helps."""

from ganaug.stages.compare.cell import ClassifierSettings
from ganaug.stages.compare.grid import Cell, build_grid, parse_strategies
from ganaug.stages.compare.run import CompareResult, compare

__all__ = ["Cell", "ClassifierSettings", "CompareResult", "build_grid", "compare", "parse_strategies"]
