"""The summary: mean, spread and 95% interval per strategy and ratio, and paired differences with a test.

Cells of the same seed share their seed across strategies, so differences are
paired by seed and tested with a paired t-test (scipy). With few seeds the
test is weak; "significant" means p < 0.05, and a difference that is not
significant is reported as such rather than as a win.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

ALPHA = 0.05


def summarise(runs: pd.DataFrame, metric: str = "test_accuracy") -> pd.DataFrame:
    rows = []
    references = {name: runs[runs["strategy"] == name].set_index("seed")[metric] for name in ("baseline", "classic")}
    for (strategy, ratio), group in runs.groupby(["strategy", "ratio"], sort=False):
        values = group.set_index("seed")[metric]
        row = {"strategy": strategy, "ratio": ratio, "seeds": len(values), "mean": values.mean(),
               "std": values.std(ddof=1) if len(values) > 1 else math.nan, **_interval(values)}
        for name, reference in references.items():
            row.update(paired_difference(values, reference, name) if strategy != name else {})
        rows.append(row)
    return pd.DataFrame(rows)


def _interval(values: pd.Series) -> dict:
    if len(values) < 2:
        return {"ci95_low": math.nan, "ci95_high": math.nan}
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    # An accuracy lies in [0, 1]; with few seeds the t interval can reach past it, so it is clipped.
    return {"ci95_low": max(values.mean() - half, 0.0), "ci95_high": min(values.mean() + half, 1.0)}


def paired_difference(values: pd.Series, reference: pd.Series, name: str) -> dict:
    """values - reference over the seeds (the index) both have: mean, paired t-test p and significance."""
    seeds = values.index.intersection(reference.index)
    if len(seeds) == 0:
        return {}
    diff = values[seeds] - reference[seeds]
    p = math.nan
    if len(seeds) > 1:
        if np.allclose(diff, diff.iloc[0], rtol=0, atol=1e-12):  # no spread: the t statistic is undefined
            p = 1.0 if abs(diff.iloc[0]) < 1e-12 else 0.0
        else:
            p = float(stats.ttest_rel(values[seeds], reference[seeds]).pvalue)
    return {f"vs_{name}": diff.mean(), f"p_vs_{name}": p,
            f"significant_vs_{name}": bool(p < ALPHA) if not math.isnan(p) else False}
