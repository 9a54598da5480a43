"""The comparison grid: which (strategy, ratio, seed) cells to train, each named by a stable key.

Strategies are `baseline` (real data only), a classical augmentation policy (`classic`, `trivialaugment`, ...:
CLASSICAL), a class-imbalance fix (`oversample`, `reweight`), any labelling strategy (`uniform`, `extra`, ...),
a fix or a labelling strategy on top of a policy (`uniform+classic`, `oversample+trivialaugment`), and `cas`
(synthetic images only, the Classification Accuracy Score). Strategies without GAN images are the classical
ones, among which the best (on validation) is the baseline GAN strategies must beat.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass

from ganaug.classify.classic import CLASSICAL
from ganaug.classify.imbalance import REBALANCE
from ganaug.errors import UsageError, shown
from ganaug.labels import LABELLERS
from ganaug.limits import SEED_MAX

CAS = "cas"
REAL_ONLY = ("baseline", *REBALANCE)
"""Strategies that train on real images alone (with or without a classical policy)."""


@dataclass(frozen=True)
class Cell:
    strategy: str
    """baseline, oversample, reweight, cas, or a labelling strategy."""
    classic: str | None
    """The classical augmentation policy on top (a CLASSICAL name), or None."""
    ratio: float
    """Synthetic images per real image (0 for strategies without GAN images)."""
    seed: int

    @property
    def name(self) -> str:
        """As --strategies spells it: a policy alone is named by itself (`classic`), a combination `uniform+classic`."""
        if self.strategy == "baseline" and self.classic:
            return self.classic
        return self.strategy + (f"+{self.classic}" if self.classic else "")

    @property
    def key(self) -> str:
        return f"{self.name}|{self.ratio:g}|{self.seed}"

    @property
    def uses_gan(self) -> bool:
        return self.strategy not in REAL_ONLY

    @property
    def rebalance(self) -> str | None:
        return self.strategy if self.strategy in REBALANCE else None


def strategy_choices() -> str:
    """What --strategies accepts, read from the registries (for its help and its error messages)."""
    return (f"baseline; a classical augmentation policy ({', '.join(CLASSICAL.names())}); a class-imbalance fix "
            f"({', '.join(REBALANCE)}); a labelling strategy ({', '.join(LABELLERS.names())}); {CAS} (synthetic "
            "images only); or a fix or labelling strategy with +POLICY (e.g. uniform+classic, "
            "oversample+trivialaugment)")


def parse_strategies(text: str | Sequence[str]) -> list[tuple[str, str | None]]:
    """'baseline,classic,uniform,uniform+classic' -> [(strategy, classical policy or None), ...], checked."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if not names:
        raise UsageError("--strategies is empty; name at least one, e.g. baseline,classic,uniform")
    parsed: list[tuple[str, str | None]] = []
    for name in names:
        base, plus, policy = name.partition("+")
        if name == "baseline" or name == CAS:
            parsed.append((name, None))
        elif name in CLASSICAL:
            parsed.append(("baseline", name))
        elif (base in LABELLERS or base in REBALANCE) and (not plus or policy in CLASSICAL):
            parsed.append((base, policy or None))
        else:
            raise UsageError(f"unknown strategy {name!r} in --strategies; choose {strategy_choices()}")
    if len(set(parsed)) != len(parsed):
        raise UsageError(f"--strategies names a strategy twice: {','.join(names)}")
    return parsed


def is_classical(name: str) -> bool:
    """Whether the strategy of that name (as runs.csv has it) trains without GAN images."""
    [(strategy, _)] = parse_strategies([name])
    return strategy in REAL_ONLY


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


def build_grid(strategies: list[tuple[str, str | None]], ratios: list[float], seeds: int | Sequence[int]) -> list[Cell]:
    """Seed-major order, so an interrupted grid has every strategy at the same seeds so far.

    seeds: how many (seeds 0 to n-1), or which. Every cell of seed s trains from seed s: differences between
    strategies are paired.
    """
    cells = []
    for seed in parse_seeds(seeds):
        for strategy, classic in strategies:
            if strategy in REAL_ONLY:
                cells.append(Cell(strategy, classic, 0.0, seed))
            elif strategy == CAS:
                cells.append(Cell(CAS, None, 1.0, seed))
            else:
                cells.extend(Cell(strategy, classic, ratio, seed) for ratio in ratios)
    return cells
