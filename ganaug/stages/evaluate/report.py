"""What `ganaug evaluate` writes: metrics.json, summary.md, and PNGs to look at (samples, closest pairs, per class)."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ganaug.pictures import class_rows, save_image_grid
from ganaug.io import atomic_dir
from ganaug.metrics import Memorisation
from ganaug.metrics.diversity import ALL, lowest_diversity
from ganaug.pictures import png_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes

PAIRS_SHOWN = 16


def write_report(folder: Path, metrics: dict, images: Tensor, labels: Tensor | None, class_names: list[str],
                 memorisation: Memorisation, train: Tensor) -> None:
    """Everything lands in a temporary folder renamed onto `folder`, so a killed evaluation leaves the old one."""
    with atomic_dir(folder) as tmp:
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
        (tmp / "summary.md").write_text(summary_markdown(metrics, class_names), encoding="utf-8")
        columns = 10
        if labels is not None:  # one row per class, named: the images come with their classes interleaved
            shown, classes = class_rows(images, labels, columns, max_rows=10)
            save_image_grid(shown, columns, tmp / "samples.png", [class_names[c] for c in classes])
        else:
            save_image_grid(images[:100], columns, tmp / "samples.png")
        closest = torch.from_numpy(memorisation.generated_ratio.argsort()[:PAIRS_SHOWN].copy())
        nearest = torch.from_numpy(memorisation.nearest_train[closest.numpy()])
        save_image_grid(torch.cat([images[closest], train[nearest]]), len(closest), tmp / "closest_pairs.png")
        if "per_class_fid" in metrics:
            _per_class_plot(metrics, class_names, tmp / "per_class.png")


def summary_markdown(m: dict, class_names: list[str]) -> str:
    """The figures with what they mean, each followed by its reliability note, and the warnings above them all."""
    mem, sanity, div = m["memorisation"], m["sanity"], m["diversity"]
    kid = f"{m['kid']:.4f} ± {m['kid_std']:.4f}"
    lines = [f"# Evaluation of {m['checkpoint']}\n",
             f"{m['generated']} generated images against the {m['real_reference']}; features: {m['features']}.\n",
             *(f"**{line}**\n" for line in m["warnings"]),
             "| metric | value | meaning |", "| --- | ---: | --- |",
             f"| FID | {with_note(m, 'fid')} | lower is better; real vs real here: "
             f"{sanity['fid_validation_halves']:.3f}, pixel-shuffled real: {sanity['fid_shuffled_pixels']:.3f} |",
             f"| KID | {with_note(m, 'kid', kid)} | lower is better, unbiased |",
             f"| precision | {with_note(m, 'precision')} | share of generated images that fall on the real data |",
             f"| recall | {with_note(m, 'recall')} | share of real images the generator reaches |",
             f"| density | {with_note(m, 'density')} | about 1 for real-like images |",
             f"| coverage | {with_note(m, 'coverage')} | share of real neighbourhoods with a generated image |",
             f"| diversity | {with_note(m, 'diversity', diversity_text(div))} | generated images' mean pairwise "
             f"distance / real images', per class; 1 = as varied as real, below {div['threshold']} = mode collapse; "
             f"{div['near_duplicate_pairs']} of {div['generated_pairs']} generated pairs of a class are "
             "near-duplicates |",
             f"| near-copies | {mem['generated_near_copy_fraction']:.1%} | closer to a training image than "
             f"{mem['near_copy_threshold']} x the typical training-neighbour distance; held-out real: "
             f"{mem['heldout_near_copy_fraction']:.1%} |",
             f"| median distance ratio | {mem['generated_median_ratio']:.2f} | held-out real: "
             f"{mem['heldout_median_ratio']:.2f}; much lower means copying |"]
    if "label_agreement" in m:
        lines += _class_table(m, class_names)
    return "\n".join(lines) + "\n"


def _class_table(m: dict, class_names: list[str]) -> list[str]:
    agreement = m["label_agreement"]
    lines = [f"| label agreement | {agreement['overall']:.1%} | the teacher's class = the class asked for |", "",
             "| class | label agreement | FID | diversity |", "| --- | ---: | ---: | ---: |"]
    for name, a, fid in zip(class_names, agreement["per_class"], m["per_class_fid"]):
        lines.append(f"| {name} | {_pct(a)} | {'-' if fid is None else f'{fid:.3f}'} | "
                     f"{_ratio(m['diversity']['per_class'].get(name))} |")
    notes = [f"{what}: {m['reliability'][key]}." for key, what in (("per_class_fid", "Per-class FID"),
                                                                   ("diversity", "Per-class diversity"))
             if key in m["reliability"]]
    return lines + ([""] + notes if notes else [])


def with_note(m: dict, key: str, value: str | None = None) -> str:
    """A figure (m[key] to 3 decimals unless given) followed by its reliability note, if it has one."""
    value = f"{m[key]:.3f}" if value is None else value
    note = m["reliability"].get(key)
    return f"{value} ({note})" if note else value


def diversity_text(div: dict) -> str:
    """The lowest class's ratio first: mixing all classes, the spread between classes hides a collapse in one."""
    name, ratio = lowest_diversity(div)
    if name in (None, ALL):
        return _ratio(ratio)
    return f"{_ratio(ratio)} (lowest class, '{name}'; all images: {_ratio(div['overall'])})"


def _pct(x: float) -> str:
    return "-" if x is None or math.isnan(x) else f"{x:.1%}"


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _per_class_plot(metrics: dict, class_names: list[str], path: Path) -> None:
    div = metrics["diversity"]
    with png_figure(path, 1, 3, figsize=(15, 3.2)) as (fig, (agree, fid, diversity)):
        _bars(agree, class_names, metrics["label_agreement"]["per_class"], "no images were generated for it",
              title="label agreement", ylim=(0, 1))
        _bars(fid, class_names, metrics["per_class_fid"], metrics["reliability"].get("per_class_fid", ""),
              title="per-class FID (lower is better)")
        _bars(diversity, class_names, [div["per_class"].get(name) for name in class_names],
              "diversity needs at least 2 real and 2 generated images of a class", title="diversity (1 = as real)")
        diversity.axhline(div["threshold"], color="red", linestyle="--", linewidth=1, label="mode collapse below")
        diversity.legend(fontsize=8)


def _bars(ax: Axes, class_names: list[str], values: list[float | None], reason: str, **settings) -> None:
    """Bars for the classes that have a value, and the reason wherever some or all have none: a missing bar
    drawn as 0 would read as a perfect FID, and an empty panel as a bug."""
    have = [i for i, v in enumerate(values) if v is not None and not math.isnan(v)]
    ax.bar(have, [values[i] for i in have])
    ax.set(xticks=range(len(class_names)), xticklabels=class_names, xlim=(-0.5, len(class_names) - 0.5), **settings)
    if not have:  # nothing to read on the axis: the reason takes the panel
        ax.set_yticks([])
        ax.text(0.5, 0.5, textwrap.fill(reason, 45), transform=ax.transAxes, ha="center", va="center", fontsize=8)
    elif len(have) < len(values):  # the gaps are marked, the reason goes under the axis
        for i in sorted(set(range(len(values))) - set(have)):
            ax.text(i, 0, "n/a", ha="center", va="bottom", fontsize=8)
        ax.set_xlabel(textwrap.fill(f"n/a: {reason}", 70), fontsize=7)
