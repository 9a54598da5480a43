"""What `ganaug evaluate` writes: metrics.json, summary.md, and PNGs to look at (samples, closest pairs, per class)."""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from ganaug.io import atomic_dir
from ganaug.metrics import Agreement, DiversityReport, Memorisation
from ganaug.metrics.diversity import ALL
from ganaug.pictures import class_rows, png_figure, save_image_grid
from ganaug.runs.quality import QualityReport, Sanity

if TYPE_CHECKING:
    from matplotlib.axes import Axes

PAIRS_SHOWN = 16


@dataclass(frozen=True)
class EvaluationReport:
    """metrics.json: the run and checkpoint measured, the quality report, its sanity references, the time taken."""

    run: str
    checkpoint: str
    quality: QualityReport
    sanity: Sanity
    seconds: float

    def to_json(self) -> dict[str, Any]:
        """The quality report's keys sit at the top level of metrics.json, between checkpoint and sanity."""
        return {"run": self.run, "checkpoint": self.checkpoint, **self.quality.to_json(),
                "sanity": self.sanity.to_json(), "seconds": self.seconds}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EvaluationReport:
        return cls(data["run"], data["checkpoint"], QualityReport.from_json(data), Sanity.from_json(data["sanity"]),
                   data["seconds"])


def write_report(folder: Path, report: EvaluationReport, images: Tensor, labels: Tensor | None,
                 class_names: list[str], memorisation: Memorisation, train: Tensor) -> None:
    """Everything lands in a temporary folder renamed onto `folder`, so a killed evaluation leaves the old one."""
    with atomic_dir(folder) as tmp:
        (tmp / "metrics.json").write_text(json.dumps(report.to_json(), indent=1) + "\n", encoding="utf-8")
        (tmp / "summary.md").write_text(summary_markdown(report, class_names), encoding="utf-8")
        columns = 10
        if labels is not None:  # one row per class, named: the images come with their classes interleaved
            shown, classes = class_rows(images, labels, columns, max_rows=10)
            save_image_grid(shown, columns, tmp / "samples.png", [class_names[c] for c in classes])
        else:
            save_image_grid(images[:100], columns, tmp / "samples.png")
        closest = torch.from_numpy(memorisation.generated_ratio.argsort()[:PAIRS_SHOWN].copy())
        nearest = torch.from_numpy(memorisation.nearest_train[closest.numpy()])
        save_image_grid(torch.cat([images[closest], train[nearest]]), len(closest), tmp / "closest_pairs.png")
        q = report.quality
        if q.label_agreement is not None and q.per_class_fid is not None:
            _per_class_plot(q, q.label_agreement, q.per_class_fid, class_names, tmp / "per_class.png")


def summary_markdown(report: EvaluationReport, class_names: list[str]) -> str:
    """The figures with what they mean, each followed by its reliability note, and the warnings above them all."""
    q, sanity, mem, notes = report.quality, report.sanity, report.quality.memorisation, report.quality.reliability
    kid = f"{q.kid:.4f} ± {q.kid_std:.4f}"
    lines = [f"# Evaluation of {report.checkpoint}\n",
             f"{q.generated} generated images against the {q.real_reference}; features: {q.features}.\n",
             *(f"**{line}**\n" for line in q.warnings),
             "| metric | value | meaning |", "| --- | ---: | --- |",
             f"| FID | {with_note(q.fid, notes.fid)} | lower is better; real vs real here: "
             f"{sanity.fid_validation_halves:.3f}, pixel-shuffled real: {sanity.fid_shuffled_pixels:.3f} |",
             f"| KID | {with_note(kid, notes.kid)} | lower is better, unbiased |",
             f"| precision | {with_note(q.precision, notes.precision)} | share of generated images that fall on the "
             f"real data{training_text(sanity, sanity.training_precision)} |",
             f"| recall | {with_note(q.recall, notes.recall)} | share of real images the generator reaches"
             f"{training_text(sanity, sanity.training_recall)} |",
             f"| density | {with_note(q.density, notes.density)} | about 1 for real-like images |",
             f"| coverage | {with_note(q.coverage, notes.coverage)} | share of real neighbourhoods with a generated "
             f"image{training_text(sanity, sanity.training_coverage)} |",
             *_diversity_row(q.diversity, notes.diversity),
             f"| near-copies | {mem.generated_near_copy_fraction:.1%} | closer to a training image than "
             f"{mem.near_copy_threshold} x the typical training-neighbour distance; held-out real: "
             f"{mem.heldout_near_copy_fraction:.1%} |",
             f"| median distance ratio | {mem.generated_median_ratio:.2f} | held-out real: "
             f"{mem.heldout_median_ratio:.2f}; much lower means copying |"]
    if q.label_agreement is not None and q.per_class_fid is not None:
        lines += _class_table(q, q.label_agreement, q.per_class_fid, class_names)
    return "\n".join(lines) + "\n"


def _diversity_row(div: DiversityReport | None, note: str | None) -> list[str]:
    """The diversity row; none for a report written before diversity was measured."""
    if div is None:
        return []
    return [f"| diversity | {with_note(diversity_text(div), note)} | generated images' mean pairwise distance / "
            f"real images', per class; 1 = as varied as real, below {div.threshold} = mode collapse; "
            f"{div.near_duplicate_pairs} of {div.generated_pairs} generated pairs of a class are near-duplicates |"]


def _class_table(q: QualityReport, agreement: Agreement, per_class_fid: list[float | None],
                 class_names: list[str]) -> list[str]:
    diversity = q.diversity.per_class if q.diversity else {}
    lines = [f"| label agreement | {agreement.overall:.1%} | the teacher's class = the class asked for |", "",
             "| class | label agreement | FID | diversity |", "| --- | ---: | ---: | ---: |"]
    for name, a, fid in zip(class_names, agreement.per_class, per_class_fid, strict=True):
        lines.append(f"| {name} | {_pct(a)} | {'-' if fid is None else f'{fid:.3f}'} | "
                     f"{_ratio(diversity.get(name))} |")
    notes = [f"{what}: {note}." for note, what in ((q.reliability.per_class_fid, "Per-class FID"),
                                                   (q.reliability.diversity, "Per-class diversity")) if note]
    return lines + ([""] + notes if notes else [])


def training_text(sanity: Sanity, value: float | None) -> str:
    """The training images' own figure, the reference beside a generator's precision, recall or coverage (none if
    unknown)."""
    return "" if value is None else f"; the {sanity.training_images} training images themselves: {value:.3f}"


def with_note(value: float | str, note: str | None) -> str:
    """A figure (a number to 3 decimals, or text as given) followed by its reliability note, if it has one."""
    text = value if isinstance(value, str) else f"{value:.3f}"
    return f"{text} ({note})" if note else text


def diversity_text(div: DiversityReport) -> str:
    """The lowest class's ratio first: mixing all classes, the spread between classes hides a collapse in one."""
    name, ratio = div.lowest()
    if name in (None, ALL):
        return _ratio(ratio)
    return f"{_ratio(ratio)} (lowest class, '{name}'; all images: {_ratio(div.overall)})"


def _pct(x: float) -> str:
    return "-" if x is None or math.isnan(x) else f"{x:.1%}"


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _per_class_plot(q: QualityReport, agreement: Agreement, per_class_fid: list[float | None], class_names: list[str],
                    path: Path) -> None:
    per_class_diversity = q.diversity.per_class if q.diversity else {}
    with png_figure(path, 1, 3, figsize=(15, 3.2)) as (fig, (agree, fid, diversity)):
        _bars(agree, class_names, agreement.per_class, "no images were generated for it", title="label agreement",
              ylim=(0, 1))
        _bars(fid, class_names, per_class_fid, q.reliability.per_class_fid or "",
              title="per-class FID (lower is better)")
        _bars(diversity, class_names, [per_class_diversity.get(name) for name in class_names],
              "diversity needs at least 2 real and 2 generated images of a class", title="diversity (1 = as real)")
        if q.diversity:
            diversity.axhline(q.diversity.threshold, color="red", linestyle="--", linewidth=1,
                              label="mode collapse below")
            diversity.legend(fontsize=8)


def _bars(ax: Axes, class_names: list[str], values: Sequence[float | None], reason: str, **settings) -> None:
    """Bars for the classes that have a value, and the reason wherever some or all have none: a missing bar
    drawn as 0 would read as a perfect FID, and an empty panel as a bug."""
    bars = {i: v for i, v in enumerate(values) if v is not None and not math.isnan(v)}
    have = list(bars)
    ax.bar(have, list(bars.values()))
    ax.set(xticks=range(len(class_names)), xticklabels=class_names, xlim=(-0.5, len(class_names) - 0.5), **settings)
    if not have:  # nothing to read on the axis: the reason takes the panel
        ax.set_yticks([])
        ax.text(0.5, 0.5, textwrap.fill(reason, 45), transform=ax.transAxes, ha="center", va="center", fontsize=8)
    elif len(have) < len(values):  # the gaps are marked, the reason goes under the axis
        for i in sorted(set(range(len(values))) - set(have)):
            ax.text(i, 0, "n/a", ha="center", va="bottom", fontsize=8)
        ax.set_xlabel(textwrap.fill(f"n/a: {reason}", 70), fontsize=7)
