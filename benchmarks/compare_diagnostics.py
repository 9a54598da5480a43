"""Why do (or don't) GAN images help? Label noise, memorisation and diversity of each compared synthetic set.

For every setting under results/compare/ that has a synthetic set, measured against the run's own splits:
- label noise: how often the teacher agrees with the class an image was generated for (overall, worst class);
- memorisation (pixel space): each synthetic image's distance to its nearest training image relative to
  the typical training-neighbour distance, the share of near-copies, and the same for held-out
  validation images as the reference; closest pairs saved as closest_pairs.png in the setting's folder;
- diversity: mean per-pixel standard deviation within a class, synthetic (by generated-for class) vs real;
- where label noise bites: across classes, the rank correlation between the teacher's agreement with the
  generated-for class and the test-recall gain over baseline of `conditional` labels (at their best ratio by
  validation). If noisy classes were the ones held back, it would be clearly positive.

Writes results/compare/diagnostics.md and <setting>/diagnostics.json.

    python benchmarks/compare_diagnostics.py [--root results/compare] [--count 2000]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr

from ganaug.io import read_json, write_text
from ganaug.metrics import measure_memorisation
from ganaug.pictures import save_image_grid
from ganaug.runs.run_dir import RunDir
from ganaug.runs.synthset import SynthSet


def within_class_std(images: torch.Tensor, labels: np.ndarray) -> float:
    """Mean over classes of the per-pixel standard deviation: how varied the images of one class are."""
    x = images.float() / 255
    return float(np.mean([x[torch.from_numpy(labels == c)].std(0).mean().item() for c in np.unique(labels)]))


def recall_gain_vs_agreement(runs: pd.DataFrame, agreement: pd.Series, strategy: str = "conditional") -> dict:
    """Per class: the paired test-recall gain of `strategy` over baseline, and its rank correlation with the
    teacher's per-class agreement with the generated-for class."""
    if not {"baseline", strategy} <= set(runs["strategy"]) or agreement.nunique() < 2:
        return {}  # nothing to compare against, or every class equally clean (no rank to correlate)
    cells = runs[runs["strategy"] == strategy]
    ratio = cells.groupby("ratio")["val_accuracy"].mean().idxmax()
    recalls = [f"recall_{c}" for c in agreement.index]
    base = runs[runs["strategy"] == "baseline"].set_index("seed")[recalls]
    gain = (cells[cells["ratio"] == ratio].set_index("seed")[recalls] - base).mean()
    rho, p = spearmanr(agreement.to_numpy(), gain.to_numpy())
    return {"recall_gain_strategy": f"{strategy} x{ratio:g}", "recall_gain_per_class": gain.round(4).tolist(),
            "agreement_per_class": agreement.round(4).tolist(), "gain_agreement_spearman": float(rho),
            "gain_agreement_p": float(p)}


def synthetic_of(folder: Path) -> Path:
    """The set a comparison used: the one it was given, else the one it generated into its folder."""
    given = read_json(folder / "compare.json")["settings"]["synthetic"]
    return Path(given) if given else folder / "synthetic"


def diagnose(folder: Path, count: int) -> dict:
    run = RunDir.open(Path(read_json(folder / "compare.json")["settings"]["run"]))
    pool, split = run.load_data()
    synth = SynthSet(synthetic_of(folder))
    table = synth.table()
    keep = np.random.default_rng(0).permutation(len(table))[:count]
    generated = synth.all_images()[torch.from_numpy(np.sort(keep))]
    table = table.iloc[np.sort(keep)]
    train = pool.images[torch.tensor(split.train)]
    val = pool.images[torch.tensor(split.val)]
    memo = measure_memorisation(generated, train, val)

    out: dict = {"setting": folder.name, "synthetic_measured": len(generated), "train_images": len(train)}
    if "generated_for" in table and table["generated_for"].ge(0).all():
        agree = table["teacher_class"] == table["generated_for"]
        per_class = agree.groupby(table["generated_for"]).mean()
        out.update(teacher_agreement=float(agree.mean()), worst_class=int(per_class.idxmin()),
                   worst_class_agreement=float(per_class.min()))
        by_name = per_class.set_axis([pool.class_names[c] for c in per_class.index])
        out.update(recall_gain_vs_agreement(pd.read_csv(folder / "runs.csv"), by_name))
        synth_labels = table["generated_for"].to_numpy()
    else:
        synth_labels = table["teacher_class"].to_numpy()
    out["teacher_confidence_mean"] = float(table["teacher_confidence"].mean())
    out["teacher_val_accuracy"] = read_json(run.root / "teacher" / "teacher.json").get("val_accuracy")
    out.update(memo.summary().to_json())
    out["within_class_std_real"] = within_class_std(train, pool.labels[torch.tensor(split.train)].numpy())
    out["within_class_std_synthetic"] = within_class_std(generated, synth_labels)

    closest = np.argsort(memo.generated_ratio)[:16]  # each synthetic image above the training image it is nearest to
    pairs = torch.stack([generated[torch.from_numpy(closest)], train[torch.from_numpy(memo.nearest_train[closest])]])
    save_image_grid(pairs.flatten(0, 1), 16, folder / "closest_pairs.png")
    write_text(folder / "diagnostics.json", json.dumps(out, indent=1))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default="results/compare")
    parser.add_argument("--count", type=int, default=2000, help="synthetic images measured per setting")
    args = parser.parse_args(argv)
    root = Path(args.root)
    rows = [diagnose(f.parent, args.count) for f in sorted(root.glob("*/compare.json"))
            if (synthetic_of(f.parent) / "shards").exists()]

    def f(x, pct=False):
        return "-" if x is None else (f"{x * 100:.1f}" if pct else f"{x:.2f}")

    lines = ["# Synthetic sets used by `ganaug compare`: label noise, memorisation, diversity\n",
             "Made by `python benchmarks/compare_diagnostics.py`. Distances are in pixel space, relative to the "
             "median distance between a training image and its nearest other training image (ratio 1 = as far "
             "as typical neighbouring training images). A near-copy has ratio < 0.5. Held-out = the validation "
             "split, the reference for images that are certainly not copies.\n",
             "| setting | teacher val acc | teacher agrees with generated-for (%) | worst class (%) "
             "| median ratio synthetic / held-out | near-copies synthetic / held-out (%) "
             "| within-class pixel std synthetic / real | per-class gain vs agreement (Spearman) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        rho = (f"{r['recall_gain_strategy']}: {r['gain_agreement_spearman']:+.2f} (p={r['gain_agreement_p']:.2f})"
               if "gain_agreement_spearman" in r else "-")
        worst = f"{r['worst_class']}: {f(r['worst_class_agreement'], True)}" if "worst_class" in r else "-"
        lines.append(f"| {r['setting']} | {f(r['teacher_val_accuracy'], True)} | {f(r.get('teacher_agreement'), True)} "
                     f"| {worst} | {f(r['generated_median_ratio'])} / {f(r['heldout_median_ratio'])} "
                     f"| {f(r['generated_near_copy_fraction'], True)} / {f(r['heldout_near_copy_fraction'], True)} "
                     f"| {f(r['within_class_std_synthetic'])} / {f(r['within_class_std_real'])} | {rho} |")
    write_text(root / "diagnostics.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
