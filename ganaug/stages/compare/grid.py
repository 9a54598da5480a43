"""The comparison grid: which (strategy, ratio, seed) cells to train, each named by a stable key.

Strategies are `baseline` (real data only), a classical augmentation policy (`classic`, `trivialaugment`, ...:
CLASSICAL), a class-imbalance fix (`oversample`, `reweight`), any labelling strategy (`uniform`, `extra`, ...),
a fix or a labelling strategy on top of a policy (`uniform+classic`, `oversample+trivialaugment`), and `cas`
(synthetic images only, the Classification Accuracy Score). Strategies without GAN images are the classical
ones, among which the best (on validation) is the baseline GAN strategies must beat.

A labelling strategy may name how its synthetic images are used, `LABELS@USE` (USES): mixed into the real ones as
a fixed draw (the default, unspelled), a fresh draw every epoch, a pre-training stage before fine-tuning on the
real images, only the images the teacher is confident about, or shared out to even the classes (long-tailed
data), or mixed in with both kinds oversampled: `soft@pretrain+classic`, `conditional@balance`,
`conditional@oversample+classic`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass

from ganaug.classify.classic import CLASSICAL
from ganaug.classify.imbalance import REBALANCE
from ganaug.errors import UsageError, shown
from ganaug.labels import LABELLERS, class_naming_labels
from ganaug.limits import SEED_MAX

CAS = "cas"
MIX = "mix"
USES = {
    MIX: "the real images plus ratio x as many synthetic ones, one fixed draw per cell (the default)",
    "fresh": "as many synthetic images as mix, but new ones every epoch, none seen before (what OnTheFlySynthetic "
             "gives in code)",
    "pretrain": "train on ratio x as many synthetic images alone, then fine-tune on the real images alone "
                "(labels that name a class: conditional, argmax, soft)",
    "confident": "as mix, drawn only from images whose teacher probability for their class is at least "
                 "CONFIDENT (what augment --min-confidence 0.9 writes)",
    "balance": "as mix, but the synthetic images go to the classes with the fewest real ones first, until the "
               "classes are even (labels.fill_smallest; what AugmentedDataset's per_class quotas give)",
    "oversample": "as mix, with the batches drawn as the oversample fix draws them, the real and the synthetic "
                  "images each inversely to their class's frequency and in their share of every batch (labels "
                  "that name a class: conditional, argmax, soft)",
}
"""How a labelling strategy's synthetic images are used, spelled LABELS@USE (mix unspelled)."""
CONFIDENT = 0.9
"""The teacher probability the `confident` use keeps images from (the filtered lead of results/compare)."""
REAL_ONLY = ("baseline", *REBALANCE)
"""Strategies that train on real images alone (with or without a classical policy)."""


@dataclass(frozen=True)
class Cell:
    strategy: str
    """baseline, oversample, reweight, cas, or a labelling strategy with its use (`soft`, `soft@fresh`)."""
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
    def labels(self) -> str:
        """The labelling strategy (or baseline, a fix, cas) without its use."""
        return self.strategy.partition("@")[0]

    @property
    def use(self) -> str:
        """How the synthetic images are used (USES); mix where the strategy names none."""
        return self.strategy.partition("@")[2] or MIX

    @property
    def rebalance(self) -> str | None:
        """The class-imbalance fix the training loop applies: the fix itself, or oversample for `@oversample`."""
        if self.strategy in REBALANCE:
            return self.strategy
        return "oversample" if self.use == "oversample" else None


def strategy_choices() -> str:
    """What --strategies accepts, read from the registries (for its help and its error messages)."""
    return (f"baseline; a classical augmentation policy ({', '.join(CLASSICAL.names())}); a class-imbalance fix "
            f"({', '.join(REBALANCE)}); a labelling strategy ({', '.join(LABELLERS.names())}), optionally "
            f"@USE for how its images are used ({', '.join(u for u in USES if u != MIX)}; default: mixed in); "
            f"{CAS} (synthetic images only); or a fix or labelling strategy with +POLICY (e.g. uniform+classic, "
            "soft@pretrain+classic, oversample+trivialaugment)")


def parse_strategies(text: str | Sequence[str]) -> list[tuple[str, str | None]]:
    """'baseline,classic,uniform,soft@fresh+classic' -> [(strategy, classical policy or None), ...], checked;
    a strategy keeps its @USE ('soft@fresh')."""
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
        elif _labels_with_use(base, name) and (not plus or policy in CLASSICAL):
            parsed.append((base, policy or None))
        else:
            raise UsageError(f"unknown strategy {name!r} in --strategies; choose {strategy_choices()}")
    if len(set(parsed)) != len(parsed):
        raise UsageError(f"--strategies names a strategy twice: {','.join(names)}")
    return parsed


def _labels_with_use(base: str, name: str) -> bool:
    """Whether `base` is LABELS@USE; a use that cannot work with its labels is an error naming why."""
    labels, at, use = base.partition("@")
    if not at or labels not in LABELLERS or use not in USES or use == MIX:
        return False
    labeller = LABELLERS.get(labels)
    if use in ("pretrain", "oversample") and not labeller.names_a_class:
        what = "pre-training" if use == "pretrain" else "oversampling by class"
        raise UsageError(f"{name!r} in --strategies: {what} needs labels that name a class, and {labels!r} "
                         f"labels do not; use {' or '.join(class_naming_labels())} with @{use}")
    return True


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
