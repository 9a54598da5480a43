"""The summary: mean, spread and 95% interval per strategy and ratio, and paired differences with a test.

Cells of the same seed share their seed across strategies, so differences are
paired by seed and tested with a paired t-test (scipy). With few seeds the
test is weak; "significant" means p < 0.05, and a difference that is not
significant is reported as such rather than as a win.

Every strategy with GAN images is also judged against the best classical
strategy of the grid (no GAN images: baseline, classical policies, imbalance
fixes and their combinations), chosen on mean validation accuracy so that the
test split plays no part in choosing what it judges. Those comparisons are
many, so their p-values are Holm-Bonferroni corrected over the GAN rows; the
comparisons with baseline and classic are not. CAS (synthetic images alone) is
a measure of the synthetic set, never a strategy to pick, so it is judged
against baseline only and stays out of that family.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ganaug.stages.compare.grid import CAS, is_classical

ALPHA = 0.05
REFERENCES = ("baseline", "classic")
BEST = "best_classical"


def summarise(runs: pd.DataFrame, metric: str = "test_accuracy") -> pd.DataFrame:
    rows = []
    references = {name: runs[runs["strategy"] == name].set_index("seed")[metric] for name in REFERENCES}
    best = best_classical(runs)
    for (strategy, ratio), group in runs.groupby(["strategy", "ratio"], sort=False):
        values = group.set_index("seed")[metric]
        row = {"strategy": strategy, "ratio": ratio, "seeds": len(values), "mean": values.mean(),
               "std": values.std(ddof=1) if len(values) > 1 else math.nan, **_interval(values)}
        for name, reference in references.items():
            row.update(paired_difference(values, reference, name) if strategy != name else {})
        if best is not None and not is_classical(strategy) and strategy != CAS:
            reference = runs[runs["strategy"] == best].set_index("seed")[metric]
            row.update({BEST: best, **paired_difference(values, reference, BEST)})
        rows.append(row)
    summary = pd.DataFrame(rows)
    if f"p_vs_{BEST}" in summary:  # significance against the best classical strategy: after Holm's correction
        summary[f"p_holm_vs_{BEST}"] = holm(summary[f"p_vs_{BEST}"].tolist())
        summary[f"significant_vs_{BEST}"] = summary[f"p_holm_vs_{BEST}"] < ALPHA
    return summary


def best_classical(runs: pd.DataFrame) -> str | None:
    """The strategy without GAN images with the highest mean validation accuracy over its seeds (ties: the first
    in the grid), or None if the grid has none. Never chosen on test, where it is then compared."""
    classical = runs[[is_classical(name) for name in runs["strategy"]]]
    if classical.empty or "val_accuracy" not in classical:
        return None
    return str(classical.groupby("strategy", sort=False)["val_accuracy"].mean().idxmax())


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the given order: the i-th smallest of m is multiplied by m - i + 1
    (i from 1), then made non-decreasing and capped at 1. NaN (a single seed: no test) stays NaN, not counted."""
    p = np.asarray(p_values, dtype=float)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    adjusted = np.full(len(p), math.nan)
    adjusted[order] = np.minimum(np.maximum.accumulate((len(order) - np.arange(len(order))) * p[order]), 1.0)
    return adjusted.tolist()


def _interval(values: pd.Series) -> dict:
    if len(values) < 2:
        return {"ci95_low": math.nan, "ci95_high": math.nan}
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    # An accuracy lies in [0, 1]; with few seeds the t interval can reach past it, so it is clipped.
    return {"ci95_low": max(values.mean() - half, 0.0), "ci95_high": min(values.mean() + half, 1.0)}


def paired_difference(values: pd.Series, reference: pd.Series, name: str) -> dict:
    """values - reference over the seeds (the index) both have: mean, its 95% t-interval, the paired t-test's p
    and significance (uncorrected)."""
    seeds = values.index.intersection(reference.index)
    if len(seeds) == 0:
        return {}
    diff = values[seeds] - reference[seeds]
    p, low, high = math.nan, math.nan, math.nan
    if len(seeds) > 1:
        if np.allclose(diff, diff.iloc[0], rtol=0, atol=1e-12):  # no spread: the t statistic is undefined
            p = 1.0 if abs(diff.iloc[0]) < 1e-12 else 0.0
        else:
            p = float(stats.ttest_rel(values[seeds], reference[seeds]).pvalue)
        half = stats.t.ppf(0.975, len(seeds) - 1) * diff.std(ddof=1) / math.sqrt(len(seeds))
        low, high = diff.mean() - half, diff.mean() + half
    return {f"vs_{name}": diff.mean(), f"vs_{name}_ci95_low": low, f"vs_{name}_ci95_high": high,
            f"p_vs_{name}": p, f"significant_vs_{name}": bool(p < ALPHA) if not math.isnan(p) else False}
