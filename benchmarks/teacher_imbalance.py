"""Does the run's teacher recognise the small classes of a long-tailed split? Trained as ganaug trains it
(ganaug.runs.teacher: the small CNN, 40 epochs, the classic policy, its epoch picked on validation), once as it
was trained until now (plain batches) and once as teacher_settings now trains it on imbalanced classes
(class-balanced batches). The teacher labels (argmax, soft), filters (--min-confidence, @confident) and
measures (label agreement) the GAN's images, so a teacher blind to a class denies that class the images meant
for it.

Per seed and teacher: recall of each class and balanced accuracy on validation (what the teacher may see) and on
test (touched once per teacher, to measure; nothing is chosen on it). The product's teacher is seed 0.

    python benchmarks/teacher_imbalance.py [--recipe mnist5k-lt100] [--set KEY=VALUE]... [--seeds 3]
                                           [--out results/beat_classical/teacher_imbalance]
"""

from __future__ import annotations

import argparse
import platform
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import recall_score

from ganaug.classify import ClassifierSpec, TensorSet, create_classifier, train_classifier
from ganaug.classify.train import predict
from ganaug.config import load_recipe
from ganaug.data import load_pool, make_split
from ganaug.data.split import class_counts
from ganaug.io import write_json, write_text
from ganaug.pictures import png_figure
from ganaug.runs import teacher
from ganaug.seeding import seeded


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="mnist5k-lt100")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("results/beat_classical/teacher_imbalance"))
    args = parser.parse_args(argv)

    recipe, _ = load_recipe(args.recipe, args.set)
    d = recipe.data
    pool = load_pool(d)
    split = make_split(pool, d.val_fraction, d.test_fraction, d.train_per_class, d.split_seed, d.imbalance_ratio)
    counts, k = class_counts(split.train, pool), pool.num_classes
    train = TensorSet.real(pool.images[split.train], pool.labels[split.train], k)
    parts = {name: (pool.images[idx], pool.labels[idx]) for name, idx in (("val", split.val), ("test", split.test))}
    teachers = {"plain batches (before)": teacher.SETTINGS,
                "class-balanced batches (now)": teacher.teacher_settings(counts)}
    rows = []
    for seed in range(args.seeds):
        for name, settings in teachers.items():
            with seeded(seed):
                model = create_classifier(teacher.ARCHITECTURE, ClassifierSpec(pool.channels, k, pool.image_size))
                result = train_classifier(model, train, *parts["val"], replace(settings, seed=seed), real_classes=k,
                                          progress=True, desc=f"seed {seed}, {name}")
            row = {"teacher": name, "seed": seed, "rebalance": settings.rebalance, "best_epoch": result.best_epoch}
            for part, (images, labels) in parts.items():
                predicted = predict(result.model, images, k).argmax(1).numpy()
                row[f"{part}_recall"] = recall_score(labels.numpy(), predicted, labels=range(k), average=None,
                                                     zero_division=0).tolist()
                row[f"{part}_balanced_accuracy"] = float(np.mean(row[f"{part}_recall"]))
            rows.append(row)
            print(name, seed, {p: round(row[f"{p}_balanced_accuracy"], 4) for p in parts}, flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    setting = f"recipe {args.recipe} {' '.join(args.set)}".strip()
    command = ["python", "benchmarks/teacher_imbalance.py", *(sys.argv[1:] if argv is None else argv)]
    write_json(args.out / "teacher_imbalance.json", {
        "command": " ".join(command), "setting": setting, "train_counts": counts, "rows": rows,
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch "
                   f"{torch.__version__}"})
    write_text(args.out / "teacher_imbalance.md", report(rows, counts, setting, pool.class_names, args.seeds))
    plot(rows, pool.class_names, args.out / "teacher_imbalance.png", setting)


def mean_recall(rows: list[dict], name: str, part: str) -> np.ndarray:
    return np.mean([r[f"{part}_recall"] for r in rows if r["teacher"] == name], axis=0)


def report(rows: list[dict], counts: list[int], setting: str, classes: list[str], seeds: int) -> str:
    names = list(dict.fromkeys(r["teacher"] for r in rows))
    lines = [f"# The teacher on a long-tailed split ({setting})", "",
             f"Training images per class: {', '.join(f'{c} {n}' for c, n in zip(classes, counts, strict=True))}.",
             f"Recall per class (%) on test, mean over seeds 0-{seeds - 1}; balanced accuracy on validation and test "
             "(mean ± std over seeds).", "",
             "| teacher | " + " | ".join(classes) + " | balanced acc. val | balanced acc. test |",
             "| --- | " + " | ".join("---:" for _ in classes) + " | ---: | ---: |"]
    for name in names:
        mine = [r for r in rows if r["teacher"] == name]
        spread = {p: np.array([r[f"{p}_balanced_accuracy"] for r in mine]) * 100 for p in ("val", "test")}
        lines.append(f"| {name} | " + " | ".join(f"{100 * v:.1f}" for v in mean_recall(rows, name, "test"))
                     + "".join(f" | {s.mean():.2f} ± {s.std(ddof=1) if len(s) > 1 else 0:.2f}"
                               for s in spread.values()) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], classes: list[str], path: Path, setting: str) -> None:
    names = list(dict.fromkeys(r["teacher"] for r in rows))
    x = np.arange(len(classes))
    with png_figure(path, figsize=(8, 3.2)) as (fig, ax):
        for i, name in enumerate(names):
            ax.bar(x + (i - 0.5) * 0.4, 100 * mean_recall(rows, name, "test"), 0.4, label=name)
        ax.set_xticks(x, classes)
        ax.set_xlabel("class (training images fall from left to right)")
        ax.set_ylabel("test recall (%)")
        ax.set_title(f"The run's teacher, {setting}", fontsize=9)
        ax.legend(fontsize=8)


if __name__ == "__main__":
    main()
