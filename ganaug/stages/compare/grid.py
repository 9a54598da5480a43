"""The comparison grid: which (strategy, ratio, seed) cells to train, each named by a stable key.

Strategies are `baseline` (real data only), `classic` (real data with classical
augmentation), any labelling strategy (`uniform`, `extra`, ...), a labelling
strategy on top of classical augmentation (`uniform+classic`), and `cas`
(synthetic images only, the Classification Accuracy Score).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass

from ganaug.errors import UsageError, shown
from ganaug.labels import LABELLERS
from ganaug.limits import SEED_MAX

PLAIN = ("baseline", "classic")
CAS = "cas"


@dataclass(frozen=True)
class Cell:
    strategy: str
    """baseline, cas, or a labelling strategy."""
    classic: bool
    ratio: float
    """Synthetic images per real image (0 for baseline and classic)."""
    seed: int

    @property
    def name(self) -> str:
        if self.strategy == "baseline" and self.classic:
            return "classic"
        return self.strategy + ("+classic" if self.classic else "")

    @property
    def key(self) -> str:
        return f"{self.name}|{self.ratio:g}|{self.seed}"

    @property
    def uses_gan(self) -> bool:
        return self.strategy != "baseline"


def parse_strategies(text: str | Sequence[str]) -> list[tuple[str, bool]]:
    """'baseline,classic,uniform,uniform+classic' -> [(strategy, classic), ...], checked."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if not names:
        raise UsageError("--strategies is empty; name at least one, e.g. baseline,classic,uniform")
    parsed = []
    for name in names:
        base, plus, rest = name.partition("+")
        if name in PLAIN:
            parsed.append(("baseline", name == "classic"))
        elif base in LABELLERS and (not plus or rest == "classic"):
            parsed.append((base, bool(plus)))
        elif name == CAS:
            parsed.append((CAS, False))
        else:
            choices = ", ".join([*PLAIN, *LABELLERS.names(), CAS])
            raise UsageError(f"unknown strategy {name!r} in --strategies; choose from {choices}, "
                              "or a labelling strategy with +classic (e.g. uniform+classic)")
    if len(set(parsed)) != len(parsed):
        raise UsageError(f"--strategies names a strategy twice: {','.join(names)}")
    return parsed


MAX_RATIO = 1000
"""Synthetic images per real one; beyond this a grid would generate more than any comparison can train on."""
MAX_SEEDS = 1000


def parse_ratios(text: str | Sequence[float]) -> list[float]:
    try:
        ratios = [float(r) for r in (text.split(",") if isinstance(text, str) else text)]
    except (ValueError, TypeError):
        raise UsageError(f"--ratios must be numbers separated by commas, e.g. 0.5,1,2 (got {text!r})") from None
    if not ratios or not all(math.isfinite(r) and 0 < r <= MAX_RATIO for r in ratios):
        raise UsageError(f"--ratios must be finite synthetic-per-real ratios above 0 and at most {MAX_RATIO}, "
                         f"e.g. 0.5,1,2 (got {text!r})")
    return sorted(set(ratios))


def parse_seeds(seeds: int | Sequence[int]) -> list[int]:
    """A number n of seeds (0 to n-1, as --seeds gives them) or the seeds themselves, checked."""
    if isinstance(seeds, int):
        if not 1 <= seeds <= MAX_SEEDS:
            raise UsageError(f"--seeds must be from 1 to {MAX_SEEDS}, not {seeds}")
        return list(range(seeds))
    try:
        chosen = [operator.index(seed) for seed in seeds]
    except TypeError:
        chosen = []
    if not 1 <= len(chosen) <= MAX_SEEDS or len(set(chosen)) != len(chosen) or not all(
            0 <= seed <= SEED_MAX for seed in chosen):
        raise UsageError(f"seeds must be 1 to {MAX_SEEDS} different integers from 0 to {SEED_MAX}, not "
                         f"{shown(seeds)}")
    return chosen


def build_grid(strategies: list[tuple[str, bool]], ratios: list[float], seeds: int | Sequence[int]) -> list[Cell]:
    """Seed-major order, so an interrupted grid has every strategy at the same seeds so far.

    seeds: how many (seeds 0 to n-1), or which. Every cell of seed s trains from seed s: differences between
    strategies are paired.
    """
    cells = []
    for seed in parse_seeds(seeds):
        for strategy, classic in strategies:
            if strategy == "baseline":
                cells.append(Cell(strategy, classic, 0.0, seed))
            elif strategy == CAS:
                cells.append(Cell(CAS, False, 1.0, seed))
            else:
                cells.extend(Cell(strategy, classic, ratio, seed) for ratio in ratios)
    return cells
