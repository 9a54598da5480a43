"""Plot and tabulate the evaluations fit logged for the runs of benchmarks/quality_over_training.sh.

Writes results/quality/quality_over_training.png (one row per data set: FID, precision/recall/coverage,
near-copies and label agreement against steps, with and without DiffAugment) and results/quality/summary.md
(the final and the best evaluation of each run, and its sanity references).

    python benchmarks/quality_report.py [--runs runs/quality] [--out results/quality]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from ganaug.io import read_json, write_text
from ganaug.pictures import png_figure
from ganaug.runs.quality import Sanity
from ganaug.runs.run_dir import RunDir
from ganaug.stages.evaluate.report import EvaluationReport

KNN = ("precision", "recall", "coverage")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", default="runs/quality")
    parser.add_argument("--out", default="results/quality")
    parser.add_argument("--title", default="Generator quality over training, with and without DiffAugment")
    parser.add_argument("--made-by", default="bash benchmarks/quality_over_training.sh` (recipes mnist5k and digits, "
                        "`eval.every` set, everything else default")
    args = parser.parse_args(argv)
    runs = {p.name: RunDir(p) for p in sorted(Path(args.runs).iterdir()) if (p / "evaluations.jsonl").is_file()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot({name: run.read_evaluations() for name, run in runs.items()}, out / "quality_over_training.png")
    lines = [f"# {args.title}\n",
             f"Made by `{args.made_by}) on the 2-core CPU machine. Every evaluation: 1,000 images from fixed noise "
             "against the validation split, in the run's teacher's feature space. Near-copies: share of generated "
             "images closer to a training image than half the typical training-neighbour distance.\n",
             "| run | steps | final FID | best FID (step) | precision | recall | coverage | near-copies "
             "| label agreement |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, run in runs.items():
        rows = run.read_evaluations()
        last, best = rows[-1], min(rows, key=lambda r: r["fid"])
        agreement = f"{last['label_agreement']:.1%}" if "label_agreement" in last else "-"
        lines.append(f"| {name} | {last['step']} | {last['fid']:.2f} | {best['fid']:.2f} ({best['step']}) "
                     f"| {last['precision']:.3f} | {last['recall']:.3f} | {last['coverage']:.3f} "
                     f"| {last['near_copies']:.1%} | {agreement} |")
        samples = run.samples / "latest.png"
        if samples.is_file():
            shutil.copyfile(samples, out / f"samples_{name}.png")
    lines += ["", "The best checkpoint of each run by `ganaug evaluate --checkpoint best --count 2000` (reports copied "
              f"to {out}/<run>/), with the sanity references: FID between two halves of the validation split "
              "(the floor at this sample size) and of pixel-shuffled validation images, and the recall and coverage "
              "of the GAN's own training images (what reproducing them would reach; k-NN figures move with the "
              "number of images, so `ganaug evaluate --count` set to the training images' compares at like sizes)."
              "\n",
              "| run | best step | FID | KID | precision | recall | density | coverage | near-copies (held-out real) "
              "| FID real vs real | FID shuffled pixels | training images: recall, coverage |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, run in runs.items():
        report = run.root / "evaluation" / "best"
        if not (report / "metrics.json").is_file():
            continue
        evaluation = EvaluationReport.from_json(read_json(report / "metrics.json"))
        q, mem, sanity = evaluation.quality, evaluation.quality.memorisation, evaluation.sanity
        shutil.copytree(report, out / name, dirs_exist_ok=True)
        lines.append(f"| {name} | {run.best_step()} | {q.fid:.2f} | {q.kid:.3f} | {q.precision:.3f} "
                     f"| {q.recall:.3f} | {q.density:.3f} | {q.coverage:.3f} "
                     f"| {mem.generated_near_copy_fraction:.1%} ({mem.heldout_near_copy_fraction:.1%}) "
                     f"| {sanity.fid_validation_halves:.2f} | {sanity.fid_shuffled_pixels:.1f} "
                     f"| {_training(sanity)} |")
    write_text(out / "summary.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


def _training(sanity: Sanity) -> str:
    if sanity.training_recall is None or sanity.training_coverage is None:  # a report written before they were
        return "-"
    return f"{sanity.training_recall:.3f}, {sanity.training_coverage:.3f} ({sanity.training_images} images)"


def plot(evaluations: dict[str, list[dict]], path: Path) -> None:
    datasets = sorted({name.split("-")[0] for name in evaluations})
    with png_figure(path, len(datasets), 3, figsize=(14, 3.6 * len(datasets)), squeeze=False) as (fig, axes):
        for row, dataset in zip(axes, datasets, strict=True):
            for name, rows in evaluations.items():
                if not name.startswith(dataset + "-"):
                    continue
                style = "-" if name.endswith("diffaugment") else "--"
                label = name.split("-", 1)[1]
                steps = [r["step"] for r in rows]
                row[0].plot(steps, [r["fid"] for r in rows], style, marker="o", label=label)
                for i, key in enumerate(KNN):
                    row[1].plot(steps, [r[key] for r in rows], style, color=f"C{i}", label=f"{key}, {label}")
                row[2].plot(steps, [r["near_copies"] for r in rows], style, color="C3", label=f"near-copies, {label}")
                if "label_agreement" in rows[0]:
                    row[2].plot(steps, [r["label_agreement"] for r in rows], style, color="C4",
                                label=f"label agreement, {label}")
            row[0].set(title=f"{dataset}: validation FID (log scale)", xlabel="step", yscale="log")
            row[1].set(title=f"{dataset}: precision / recall / coverage", xlabel="step", ylim=(0, 1.05))
            row[2].set(title=f"{dataset}: near-copies, label agreement", xlabel="step", ylim=(0, 1.05))
            for ax in row:
                ax.grid(alpha=0.3)
                ax.legend(fontsize=7)


if __name__ == "__main__":
    main()
