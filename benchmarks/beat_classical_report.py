"""The issue-16 target table: does the best GAN strategy beat the best classical one, by the margin asked?

For every comparison folder under --results (from benchmarks/beat_classical.sh), and for each metric its target
names: the best classical strategy and the best strategy with GAN images are both chosen on mean validation
accuracy, over the seeds every strategy of the grid finished; the GAN row's paired difference on test (mean over
seeds, 95% t-interval) and its p-value, Holm-corrected over all the GAN rows of the grid (the choice was made among
them), decide the verdict. Writes --out (Markdown) and, beside it, targets.png: every GAN row's paired difference
to the best classical strategy with its 95% interval, per setting, the target's margin marked. A grid stopped
before its end also gets its summary.md/csv and accuracy.png here.

    python benchmarks/beat_classical_report.py [--results results/beat_classical] [--out .../targets.md]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from ganaug.io import read_json, write_text
from ganaug.pictures import png_figure
from ganaug.runs.quality import QualityReport
from ganaug.stages.compare.grid import CAS, build_grid, is_classical, parse_ratios, parse_strategies
from ganaug.stages.compare.report import plot_accuracy, write_summary
from ganaug.stages.compare.run import QUALITY_FILE, summary_table
from ganaug.stages.compare.stats import BEST, summarise


class Target(NamedTuple):  # not a dataclass: the smoke test loads this file as a module outside sys.modules
    metric: str
    margin: float
    """In points: the difference must be at least this (with `not_below`, only not significantly below 0)."""
    alpha: float
    not_below: bool = False
    verdict_seeds: int | None = None
    """A stopping rule fixed before the grid ran: the verdict is taken on its first this many seeds, and seeds run
    later are an update (the grid's own summary.md has them all), not a new verdict."""

    def describe(self) -> str:
        if self.not_below:
            return f"{self.metric}: never significantly below (p < {self.alpha})"
        return f"{self.metric}: >= +{self.margin:g} points, p < {self.alpha}"


TARGETS = {
    "mnist5k-10": Target("test_accuracy", 2.0, 0.01),
    "mnist5k-10-split1": Target("test_accuracy", 2.0, 0.01),
    "mnist5k-10-resnet-pretrain": Target("test_accuracy", 2.0, 0.01),
    "mnist5k-50": Target("test_accuracy", 0.5, 0.05),
    "mnist5k-50-dcgan4k-pretrain": Target("test_accuracy", 0.5, 0.05),
    "mnist5k-50-resnet-pretrain": Target("test_accuracy", 0.5, 0.05),
    "mnist5k-50-resnet-ms-pretrain": Target("test_accuracy", 0.5, 0.05),
    "mnist5k-50-resnet-ms-split1": Target("test_accuracy", 0.5, 0.05),
    "mnist5k-100": Target("test_accuracy", 0.0, 0.05, not_below=True),
    "mnist5k-100-confident-split1": Target("test_accuracy", 0.0, 0.05, not_below=True),
    "mnist5k-lt100": Target("macro_f1", 3.0, 0.05),
    "mnist5k-lt100-balanced": Target("macro_f1", 3.0, 0.05),
    "mnist5k-50-resnet-pretrain-split1": Target("test_accuracy", 0.5, 0.05),
    "mnist5k-lt100-resnet-balanced": Target("macro_f1", 3.0, 0.05),
    "mnist5k-lt100-fullbalance": Target("macro_f1", 3.0, 0.05),
    "mnist5k-lt100-oversample": Target("macro_f1", 3.0, 0.05),
    "mnist5k-lt100-oversample-split1": Target("macro_f1", 3.0, 0.05),
    "mnist5k-lt100-oversample-ratios": Target("macro_f1", 3.0, 0.05),
    "mnist5k-50-resnet-ms-split2": Target("test_accuracy", 0.5, 0.05, verdict_seeds=6),
}
"""Issue 16's targets, by the setting names of benchmarks/beat_classical.sh; other folders get a test-accuracy
row without a verdict."""
CAS_TARGETS = {name: 5.0 for name in ("mnist5k-50", "mnist5k-50-dcgan4k", "mnist5k-50-resnet", "mnist5k-50-resnet-ms",
                                         "mnist5k-50-resnet-ms-split1")}
"""CAS (a classifier trained on the GAN's images alone, as many as the real ones) may be at most this many points
below real data alone (baseline), by setting (the 50-per-class grids with a cas row: four generators, two
splits); grids with cas rows elsewhere get a row without a verdict. A grid of baseline and cas alone is in this
table only."""


def verdict(row: pd.Series, target: Target) -> str:
    diff, p = row[f"vs_{BEST}"] * 100, row[f"p_holm_vs_{BEST}"]
    if target.not_below:
        return "met" if not (diff < 0 and p < target.alpha) else "missed (significantly below)"
    if diff >= target.margin and p < target.alpha:
        return "met"
    reasons = [f"difference {diff:+.2f} < +{target.margin:g}"] if diff < target.margin else []
    reasons += [f"corrected p = {p:.2g} >= {target.alpha}"] if not p < target.alpha else []
    return "missed (" + "; ".join(reasons) + ")"


def grid_rows(folder: Path) -> tuple[pd.DataFrame, int]:
    """The rows of runs.csv that belong to the grid compare.json names (a folder may keep cells of an earlier grid,
    which the summary leaves out too), of the seeds every row of the grid has finished: a grid stopped part-way is
    judged on the seeds it completed, so that every choice and every difference is paired. Also: how many seeds
    the grid asks for."""
    runs, settings = pd.read_csv(folder / "runs.csv"), read_json(folder / "compare.json")
    cells = build_grid(parse_strategies(settings["strategies"]), parse_ratios(settings["ratios"]), settings["seeds"])
    runs = runs[runs["key"].isin({cell.key for cell in cells})]
    rows_per_seed = len(cells) // len({cell.seed for cell in cells})
    complete = [seed for seed, group in runs.groupby("seed") if len(group) == rows_per_seed]
    return runs[runs["seed"].isin(complete)], len({cell.seed for cell in cells})


def verdict_rows(runs: pd.DataFrame, target: Target | None) -> pd.DataFrame:
    """The rows the verdict is taken on: all of them, or the first `target.verdict_seeds` seeds."""
    if target is None or target.verdict_seeds is None:
        return runs
    return runs[runs["seed"].isin(sorted(runs["seed"].unique())[:target.verdict_seeds])]


def summarise_stopped(folder: Path, runs: pd.DataFrame, seeds: int) -> None:
    """compare writes a grid's summary when its last cell is done; for a grid stopped before that, the same
    summary.md/csv and accuracy.png of its complete seeds, titled as such."""
    if runs.empty or runs["seed"].nunique() == seeds:
        return
    summary = summary_table(runs)
    title = (f"{folder.name}, stopped: the {runs['seed'].nunique()} of {seeds} seeds every strategy finished "
             f"(seeds {', '.join(str(s) for s in sorted(runs['seed'].unique()))})")
    quality = folder / QUALITY_FILE
    write_summary(summary, runs, folder, title,
                  QualityReport.from_json(read_json(quality)) if quality.is_file() else None)
    plot_accuracy(summary, folder / "accuracy.png", title)


def split_rows(runs: pd.DataFrame, target: Target | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The summary rows with GAN images (CAS aside) and the classical ones, in the target's metric, with the mean
    validation accuracy that chooses among them."""
    summary = summarise(runs, target.metric if target else "test_accuracy")
    summary["val_accuracy"] = summarise(runs, "val_accuracy")["mean"]
    return (summary[[not is_classical(s) and s != CAS for s in summary["strategy"]]],
            summary[[is_classical(s) for s in summary["strategy"]]])


def table_row(name: str, runs: pd.DataFrame, target: Target | None) -> str:
    metric = target.metric if target else "test_accuracy"
    gan, classical = split_rows(runs, target)
    if gan.empty or classical.empty:
        return f"| {name} | {metric} | - | - | - | - | - | - | no GAN or no classical rows |"
    best = classical.loc[classical["val_accuracy"].idxmax()]
    chosen = gan.loc[gan["val_accuracy"].idxmax()]
    low, high = chosen[f"vs_{BEST}_ci95_low"] * 100, chosen[f"vs_{BEST}_ci95_high"] * 100
    ratio = f" x{chosen['ratio']:g}"
    return (f"| {name} | {metric} | {best['strategy']}: {best['mean'] * 100:.2f} "
            f"| {chosen['strategy']}{ratio}: {chosen['mean'] * 100:.2f} "
            f"| {chosen[f'vs_{BEST}'] * 100:+.2f} [{low:+.2f}, {high:+.2f}] "
            f"| {chosen[f'p_vs_{BEST}']:.2g} | {chosen[f'p_holm_vs_{BEST}']:.2g} ({len(gan)}) | {int(chosen['seeds'])} "
            f"| {verdict(chosen, target) if target else '-'} |")


def cas_table(runs: dict[str, pd.DataFrame]) -> list[str]:
    """CAS against real data alone, paired by seed on test, for the grids with cas rows (no choice is made among
    them, so nothing to correct for)."""
    rows = []
    for name, table in runs.items():
        if not (table["strategy"] == CAS).any() or not (table["strategy"] == "baseline").any():
            continue
        summary = summarise(table).set_index("strategy")
        cas = summary.loc[CAS]
        low, high, diff = (cas[f"vs_baseline{end}"] * 100 for end in ("_ci95_low", "_ci95_high", ""))
        margin = CAS_TARGETS.get(name)
        verdict = "-" if margin is None else "met" if diff >= -margin else f"missed ({diff:+.2f} < -{margin:g})"
        real = summary.loc["baseline", "mean"] * 100
        rows.append(f"| {name} | {cas['mean'] * 100:.2f} | {real:.2f} | {diff:+.2f} [{low:+.2f}, {high:+.2f}] "
                    f"| {cas['p_vs_baseline']:.2g} | {int(cas['seeds'])} | {verdict} |")
    if not rows:
        return []
    margins: dict[float, list[str]] = {}
    for name, margin in CAS_TARGETS.items():
        margins.setdefault(margin, []).append(name)
    targets = "; ".join(f"at most {margin:g} points below in {', '.join(names)}" for margin, names in margins.items())
    return ["", "## CAS: a classifier trained on the GAN's images alone\n",
            "As many synthetic images as real ones, labelled with the class they were generated for, against real "
            f"data alone (baseline); test accuracy, paired by seed (mean [95% t-interval], points). Targets: {targets}."
            "\n", "| setting | CAS | real only | difference | p | seeds | target |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
            *rows]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default="results/beat_classical")
    parser.add_argument("--out", default=None, help="default: RESULTS/targets.md")
    args = parser.parse_args(argv)
    results = Path(args.results)
    lines = ["# Issue 16 targets: the best GAN strategy against the best classical one\n",
             "Made by `python benchmarks/beat_classical_report.py` from the comparisons of "
             "`bash benchmarks/beat_classical.sh`. Both strategies are chosen on mean validation accuracy over the "
             "seeds; the difference is paired by seed on test (mean [95% t-interval], points); p is the paired "
             "t-test's, then Holm-corrected over all GAN rows of the grid (their number in brackets), since the "
             "best was chosen among them.\n",
             *[f"- {name}: {target.describe()}" for name, target in TARGETS.items()], "",
             "| setting | metric | best classical (val) | best GAN (val) | difference | p | p Holm (rows) | seeds "
             "| target |", "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | --- |"]
    runs = {}
    for folder in sorted(p.parent for p in results.glob("*/runs.csv")):
        runs[folder.name], seeds = grid_rows(folder)
        summarise_stopped(folder, runs[folder.name], seeds)
        runs[folder.name] = verdict_rows(runs[folder.name], TARGETS.get(folder.name))
    judged = {name: table for name, table in runs.items() if not split_rows(table, TARGETS.get(name))[0].empty}
    lines += [table_row(name, table, TARGETS.get(name)) for name, table in judged.items()]
    lines += cas_table(runs)
    out = Path(args.out) if args.out else results / "targets.md"
    write_text(out, "\n".join(lines) + "\n")
    if judged:
        plot(judged, out.with_suffix(".png"))


def plot(runs: dict[str, pd.DataFrame], path: Path) -> None:
    """Per setting, each GAN row's paired difference to the best classical strategy (points, 95% interval); the
    row chosen on validation in bold, the target's margin dashed."""
    with png_figure(path, 1, len(runs), dpi=110, figsize=(5.5 * len(runs), 4), squeeze=False) as (fig, axes):
        for ax, (name, table) in zip(axes[0], runs.items(), strict=True):
            target = TARGETS.get(name)
            gan, classical = split_rows(table, target)
            if gan.empty or classical.empty:
                ax.set_title(f"{name}: nothing to compare")
                continue
            labels = [f"{r.strategy} x{r.ratio:g}" for r in gan.itertuples()]
            diff = gan[f"vs_{BEST}"] * 100
            errors = [diff - gan[f"vs_{BEST}_ci95_low"] * 100, gan[f"vs_{BEST}_ci95_high"] * 100 - diff]
            ax.errorbar(diff, range(len(gan)), xerr=errors, fmt="o", capsize=3)
            ax.set_yticks(range(len(gan)), labels, fontsize=7)
            chosen = list(gan.index).index(gan["val_accuracy"].idxmax())
            ax.get_yticklabels()[chosen].set_fontweight("bold")
            ax.axvline(0, color="0.3", linewidth=1)
            if target and not target.not_below:
                ax.axvline(target.margin, color="C3", linestyle="--", linewidth=1, label=f"target +{target.margin:g}")
                ax.legend(fontsize=7)
            best = classical.loc[classical["val_accuracy"].idxmax(), "strategy"]
            metric = target.metric if target else "test_accuracy"
            ax.set(xlabel=f"{metric} vs {best} (points, paired by seed)", title=name)
            ax.grid(alpha=0.3)
        fig.suptitle("GAN strategies against the best classical one (chosen on validation)")


if __name__ == "__main__":
    main()
