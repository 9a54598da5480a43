"""Writing a comparison's results: the summary as CSV and Markdown, and accuracy against ratio as a PNG."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ganaug.io import atomic_path, write_text
from ganaug.pictures import png_figure
from ganaug.runs.quality import QualityReport
from ganaug.stages.compare.grid import CAS, is_classical, parse_strategies
from ganaug.stages.compare.stats import BEST


def write_summary(summary: pd.DataFrame, runs: pd.DataFrame, folder: Path, title: str,
                  quality: QualityReport | None = None) -> None:
    """summary.csv and summary.md of the grid's runs; summary.md also warns of cells paired across thread counts."""
    with atomic_path(folder / "summary.csv") as tmp:
        summary.to_csv(tmp, index=False, float_format="%.5g")
    write_text(folder / "summary.md", markdown(summary, title) + (quality_markdown(quality) if quality else "")
               + threads_note(runs))


def threads_note(runs: pd.DataFrame) -> str:
    """A warning when a grid's CPU cells ran with different thread counts (another --jobs, or a resume on another
    machine): the same seed's cell then differs by more than the strategy may, so the pairing is not exact."""
    counts = sorted(int(n) for n in runs["threads"].dropna().unique()) if "threads" in runs else []
    if len(counts) < 2:
        return ""
    return (f"\n**The cells ran with different numbers of CPU threads ({', '.join(map(str, counts))}; runs.csv, "
            "`threads`).** On a CPU that alone moves a cell's accuracy, so differences paired across them are not "
            "exact: rerun the grid with one `--jobs` setting.\n")


def quality_markdown(q: QualityReport) -> str:
    """The synthetic set's quality, beside the accuracies it produced."""
    mem = q.memorisation
    agreement = f", label agreement {q.label_agreement.overall:.1%}" if q.label_agreement is not None else ""
    return (f"\nSynthetic set ({q.generated} images, against the {q.real_reference}, {q.features} features): "
            f"FID {q.fid:.2f}, precision {q.precision:.3f}, recall {q.recall:.3f}, "
            f"coverage {q.coverage:.3f}, near-copies {mem.generated_near_copy_fraction:.1%} "
            f"(held-out real {mem.heldout_near_copy_fraction:.1%}){agreement}.\n")


def markdown(summary: pd.DataFrame, title: str) -> str:
    judged = f"vs_{BEST}" in summary
    lines = [f"# {title}\n", "Test accuracy (%): mean ± std over seeds, 95% interval; differences are paired by seed "
             "(paired t-test, * = p < 0.05).\n", *([best_classical_markdown(summary)] if judged else []),
             "| strategy | ratio | seeds | accuracy | 95% interval | vs baseline | vs classic |"
             + (" vs best classical |" if judged else ""),
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |" + (" ---: |" if judged else "")]
    for row in summary.itertuples(index=False):
        r = row._asdict()
        lines.append(f"| {r['strategy']} | {_ratio(r['ratio'])} | {r['seeds']} | {_pct(r['mean'])} ± {_pct(r['std'])} "
                     f"| {_pct(r['ci95_low'])}-{_pct(r['ci95_high'])} "
                     f"| {_diff(r, 'baseline')} | {_diff(r, 'classic')} |"
                     + (f" {_diff(r, BEST, interval=True, p_column=f'p_holm_vs_{BEST}')} |" if judged else ""))
    return "\n".join(lines) + "\n"


def best_classical_markdown(summary: pd.DataFrame) -> str:
    """Which classical strategy the GAN rows are judged against, how it was chosen, and the correction."""
    best = summary[BEST].dropna().iloc[0]
    candidates = summary[[is_classical(name) for name in summary["strategy"]]]
    row = candidates[candidates["strategy"] == best].iloc[0]
    scores = f"validation {_pct(row['val_accuracy'])}, " if "val_accuracy" in row else ""
    compared = int(summary[f"p_holm_vs_{BEST}"].notna().sum())
    return (f"Best classical baseline: **{best}** ({scores}test {_pct(row['mean'])}), chosen on mean validation "
            f"accuracy among the strategies without GAN images ({', '.join(candidates['strategy'])}), never on "
            "test. *vs best classical* judges each row with GAN images against it on test: the paired difference "
            f"[95% t-interval], p Holm-Bonferroni corrected over the {compared} rows compared (* = corrected "
            "p < 0.05); *vs baseline* and *vs classic* are uncorrected.\n")


def plot_accuracy(summary: pd.DataFrame, path: Path, title: str) -> None:
    """Accuracy against ratio with error bars (std over seeds): GAN strategies alone on the left, against
    baseline; on top of a classical policy on the right, against the best classical strategy (chosen on
    validation), else classic. One colour per labelling, one marker per policy."""
    gan = summary[[not is_classical(name) and name != CAS for name in summary["strategy"]]]
    parts = pd.DataFrame([parse_strategies([name])[0] for name in gan["strategy"]], columns=["labels", "policy"],
                         index=gan.index)
    colours = {name: f"C{i}" for i, name in enumerate(dict.fromkeys(parts["labels"]))}
    markers = {name: m for name, m in zip(dict.fromkeys(parts["policy"].dropna()), "osD^v<>p*", strict=False)}
    best = summary[BEST].dropna().iloc[0] if BEST in summary and summary[BEST].notna().any() else None
    with png_figure(path, 1, 2, dpi=110, figsize=(11, 4.5), sharey=True) as (fig, axes):
        for ax, reference, classic in ((axes[0], "baseline", False), (axes[1], best or "classic", True)):
            ref = summary[summary["strategy"] == reference]
            if len(ref):
                mean, std = ref["mean"].iloc[0] * 100, ref["std"].fillna(0).iloc[0] * 100
                chosen = classic and best is not None
                ax.axhline(mean, color="0.3", linestyle="--", linewidth=1,
                           label=f"{reference} ({'best classical, chosen on validation' if chosen else 'real only'})")
                ax.axhspan(mean - std, mean + std, color="0.3", alpha=0.12)
            part = gan[parts["policy"].notna() == classic]
            for strategy, group in part.groupby("strategy", sort=False):
                labels, policy = parts.loc[group.index[0]]
                ax.errorbar(group["ratio"], group["mean"] * 100, yerr=group["std"].fillna(0) * 100,
                            marker=markers.get(policy, "o"), capsize=3, color=colours[labels], label=strategy)
            ax.set(xlabel="synthetic images per real image", title="with classical augmentation" if classic else
                   "GAN images alone")
            ax.set_xscale("log", base=2)
            ratios = sorted(gan["ratio"].unique())
            ax.set_xticks(ratios, [f"{r:g}" for r in ratios])
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7, loc="lower left")
        axes[0].set_ylabel("test accuracy (%)")
        fig.suptitle(title)


def _pct(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value * 100:.2f}"


def _ratio(value: float) -> str:
    return "-" if value == 0 else f"{value:g}"


def _diff(row: dict, name: str, *, interval: bool = False, p_column: str | None = None) -> str:
    """'+1.20* (p=0.031)', with the difference's 95% interval when asked and the p-value from `p_column`
    (e.g. Holm-corrected) when given; '-' where the row was not compared."""
    diff = row.get(f"vs_{name}")
    if diff is None or (isinstance(diff, float) and math.isnan(diff)):
        return "-"
    star = "*" if row.get(f"significant_vs_{name}") else ""
    low, high = row.get(f"vs_{name}_ci95_low", math.nan), row.get(f"vs_{name}_ci95_high", math.nan)
    ci = f" [{low * 100:+.2f}, {high * 100:+.2f}]" if interval and not math.isnan(low) else ""
    p = row.get(p_column or f"p_vs_{name}")
    p_text = "" if p is None or math.isnan(p) else f" (p={p:.2g})"
    return f"{diff * 100:+.2f}{star}{ci}{p_text}"
