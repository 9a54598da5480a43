"""Writing a comparison's results: the summary as CSV and Markdown, and accuracy against ratio as a PNG."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ganaug.io import atomic_path, write_text
from ganaug.pictures import png_figure
from ganaug.runs.quality import QualityReport


def write_summary(summary: pd.DataFrame, folder: Path, title: str, quality: QualityReport | None = None) -> None:
    with atomic_path(folder / "summary.csv") as tmp:
        summary.to_csv(tmp, index=False, float_format="%.5g")
    write_text(folder / "summary.md", markdown(summary, title) + (quality_markdown(quality) if quality else ""))


def quality_markdown(q: QualityReport) -> str:
    """The synthetic set's quality, beside the accuracies it produced."""
    mem = q.memorisation
    agreement = f", label agreement {q.label_agreement.overall:.1%}" if q.label_agreement is not None else ""
    return (f"\nSynthetic set ({q.generated} images, against the {q.real_reference}, {q.features} features): "
            f"FID {q.fid:.2f}, precision {q.precision:.3f}, recall {q.recall:.3f}, "
            f"coverage {q.coverage:.3f}, near-copies {mem.generated_near_copy_fraction:.1%} "
            f"(held-out real {mem.heldout_near_copy_fraction:.1%}){agreement}.\n")


def markdown(summary: pd.DataFrame, title: str) -> str:
    lines = [f"# {title}\n", "Test accuracy (%): mean ± std over seeds, 95% interval; differences are paired by seed "
             "(paired t-test, * = p < 0.05).\n",
             "| strategy | ratio | seeds | accuracy | 95% interval | vs baseline | vs classic |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in summary.itertuples(index=False):
        r = row._asdict()
        lines.append(f"| {r['strategy']} | {_ratio(r['ratio'])} | {r['seeds']} | {_pct(r['mean'])} ± {_pct(r['std'])} "
                     f"| {_pct(r['ci95_low'])}-{_pct(r['ci95_high'])} "
                     f"| {_diff(r, 'baseline')} | {_diff(r, 'classic')} |")
    return "\n".join(lines) + "\n"


def plot_accuracy(summary: pd.DataFrame, path: Path, title: str) -> None:
    """Accuracy against ratio with error bars (std over seeds): GAN strategies alone on the left, on top of
    classical augmentation on the right, each against its real-data reference band; one colour per labelling."""
    gan = summary[~summary["strategy"].isin(["baseline", "classic", "cas"])]
    colours = {name: f"C{i}" for i, name in enumerate(dict.fromkeys(gan["strategy"].str.replace("+classic", "")))}
    with png_figure(path, 1, 2, dpi=110, figsize=(11, 4.5), sharey=True) as (fig, axes):
        for ax, reference, classic in ((axes[0], "baseline", False), (axes[1], "classic", True)):
            ref = summary[summary["strategy"] == reference]
            if len(ref):
                mean, std = ref["mean"].iloc[0] * 100, ref["std"].fillna(0).iloc[0] * 100
                ax.axhline(mean, color="0.3", linestyle="--", linewidth=1, label=f"{reference} (real only)")
                ax.axhspan(mean - std, mean + std, color="0.3", alpha=0.12)
            part = gan[gan["strategy"].str.endswith("+classic") == classic]
            for strategy, group in part.groupby("strategy", sort=False):
                ax.errorbar(group["ratio"], group["mean"] * 100, yerr=group["std"].fillna(0) * 100, marker="o",
                            capsize=3, color=colours[strategy.replace("+classic", "")], label=strategy)
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


def _diff(row: dict, name: str) -> str:
    diff = row.get(f"vs_{name}")
    if diff is None or (isinstance(diff, float) and math.isnan(diff)):
        return "-"
    star = "*" if row.get(f"significant_vs_{name}") else ""
    p = row.get(f"p_vs_{name}")
    p_text = "" if p is None or math.isnan(p) else f" (p={p:.2g})"
    return f"{diff * 100:+.2f}{star}{p_text}"
