"""What `ganaug evaluate` writes: metrics.json, summary.md, and PNGs to look at (samples, closest pairs, per class)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import Tensor

from ganaug.fit.pictures import save_image_grid
from ganaug.io import atomic_dir
from ganaug.metrics import Memorisation
from ganaug.plots import png_figure

PAIRS_SHOWN = 16


def write_report(folder: Path, metrics: dict, images: Tensor, labels: Tensor | None, class_names: list[str],
                 memorisation: Memorisation, train: Tensor) -> None:
    """Everything lands in a temporary folder renamed onto `folder`, so a killed evaluation leaves the old one."""
    with atomic_dir(folder) as tmp:
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
        (tmp / "summary.md").write_text(summary_markdown(metrics, class_names), encoding="utf-8")
        columns = 10
        shown = images[:columns * min(len(class_names), 10)] if labels is not None else images[:100]
        save_image_grid(shown, columns, tmp / "samples.png")
        closest = torch.from_numpy(memorisation.generated_ratio.argsort()[:PAIRS_SHOWN].copy())
        nearest = torch.from_numpy(memorisation.nearest_train[closest.numpy()])
        save_image_grid(torch.cat([images[closest], train[nearest]]), len(closest), tmp / "closest_pairs.png")
        if "per_class_fid" in metrics:
            _per_class_plot(metrics, class_names, tmp / "per_class.png")


def summary_markdown(m: dict, class_names: list[str]) -> str:
    mem, sanity = m["memorisation"], m["sanity"]
    lines = [f"# Evaluation of {m['checkpoint']}\n",
             f"{m['generated']} generated images against the {m['real_reference']}; features: {m['features']}.\n",
             "| metric | value | meaning |", "| --- | ---: | --- |",
             f"| FID | {m['fid']:.3f} | lower is better; real vs real here: {sanity['fid_validation_halves']:.3f}, "
             f"pixel-shuffled real: {sanity['fid_shuffled_pixels']:.3f} |",
             f"| KID | {m['kid']:.4f} ± {m['kid_std']:.4f} | lower is better, unbiased |",
             f"| precision | {m['precision']:.3f} | share of generated images that fall on the real data |",
             f"| recall | {m['recall']:.3f} | share of real images the generator reaches |",
             f"| density | {m['density']:.3f} | about 1 for real-like images |",
             f"| coverage | {m['coverage']:.3f} | share of real neighbourhoods with a generated image |",
             f"| near-copies | {mem['generated_near_copy_fraction']:.1%} | closer to a training image than "
             f"{mem['near_copy_threshold']} x the typical training-neighbour distance; held-out real: "
             f"{mem['heldout_near_copy_fraction']:.1%} |",
             f"| median distance ratio | {mem['generated_median_ratio']:.2f} | held-out real: "
             f"{mem['heldout_median_ratio']:.2f}; much lower means copying |"]
    if "label_agreement" in m:
        agreement = m["label_agreement"]
        lines += [f"| label agreement | {agreement['overall']:.1%} | the teacher's class = the class asked for |", "",
                  "| class | label agreement | FID |", "| --- | ---: | ---: |"]
        for name, a, fid in zip(class_names, agreement["per_class"], m["per_class_fid"]):
            lines.append(f"| {name} | {_pct(a)} | {'-' if fid is None else f'{fid:.3f}'} |")
    return "\n".join(lines) + "\n"


def _pct(x: float) -> str:
    return "-" if x is None or math.isnan(x) else f"{x:.1%}"


def _per_class_plot(metrics: dict, class_names: list[str], path: Path) -> None:
    x = list(range(len(class_names)))
    with png_figure(path, 1, 2, figsize=(10, 3.2)) as (fig, (agree, fid)):
        agree.bar(x, metrics["label_agreement"]["per_class"])
        agree.set(title="label agreement", ylim=(0, 1), xticks=x, xticklabels=class_names)
        fid.bar(x, [v if v is not None else 0 for v in metrics["per_class_fid"]])
        fid.set(title="per-class FID (lower is better)", xticks=x, xticklabels=class_names)
