"""Why do GAN images make some mnist5k-50 classifiers collapse? Batch-norm statistics, or the learning rate?

Hypothesis: the classifier's BatchNorm layers keep running statistics of the mixed real + synthetic
batches it trains on; if synthetic images differ in low-level statistics, those running statistics do
not fit real images, and a network that separates real classes well scores badly in eval mode.
Test: retrain cells of the comparison exactly (same data, seed and settings: training is deterministic),
then measure *validation* accuracy (the test split is not touched here) three ways:
  as trained             the running statistics of the mixed batches (what `compare` reports),
  BN from real images    running statistics re-estimated on the real training images only,
  BN from synthetic      re-estimated on the synthetic training images only (the opposite).
If recalibrating on real images recovers the collapsed cells, the damage is in BN statistics, not in
what the network learnt. The cells are trained with the constant learning rate `compare` used before 0.2
(where the collapses happened); the last column trains the same cell with the cosine schedule that
replaced it.

    python benchmarks/bn_diagnosis.py [--run runs/experiments/mnist5k-50]
                                      [--synthetic results/compare/v1-constant-lr/mnist5k-50/synthetic]
                                      [--out results/compare/v1-constant-lr/bn_diagnosis] [--cells 9] [--epochs 30]
                                      [--batch-size 64]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor, nn

from ganaug.classify.train import predict
from ganaug.data.pixels import to_unit_range
from ganaug.io import write_text
from ganaug.runs.run_dir import RunDir
from ganaug.runs.synthset import SynthSet
from ganaug.stages.compare.cell import ClassifierSettings, train_cell
from ganaug.stages.compare.data import CompareData
from ganaug.stages.compare.grid import Cell, parse_strategies

# Collapsed cells of results/compare/v1-constant-lr/mnist5k-50 (test accuracy 33-78%), and healthy ones to compare.
CELLS = [
    ("extra+classic", 2.0, 2), ("extra+classic", 1.0, 4), ("uniform+classic", 2.0, 3), ("extra", 2.0, 3),
    ("uniform", 0.5, 3), ("argmax-dynamic", 2.0, 4),
    ("soft", 1.0, 0), ("conditional", 0.5, 0), ("baseline", 0.0, 0),
]


@torch.no_grad()
def recalibrate(model: nn.Module, images: Tensor, batch_size: int = 64) -> nn.Module:
    """Re-estimate every BatchNorm's running mean and variance from these images alone (cumulative average)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    for start in range(0, len(images), batch_size):
        model(to_unit_range(images[start:start + batch_size]).contiguous(memory_format=torch.channels_last))
    return model.eval()


def val_accuracy(model: nn.Module, data: CompareData) -> float:
    predicted = predict(model, data.val.images, data.num_classes).argmax(1)
    return (predicted == data.val.labels).float().mean().item()


def _pct(row: dict, key: str) -> str:
    """A table cell: the accuracy in percent, or "-" where the column is missing or NaN."""
    return f"{row[key] * 100:.1f}" if key in row and row[key] == row[key] else "-"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="runs/experiments/mnist5k-50")
    parser.add_argument("--synthetic", default="results/compare/v1-constant-lr/mnist5k-50/synthetic")
    parser.add_argument("--out", default="results/compare/v1-constant-lr/bn_diagnosis")
    parser.add_argument("--cells", type=int, default=len(CELLS), help="retrain only the first CELLS cells")
    parser.add_argument("--epochs", type=int, default=ClassifierSettings.epochs, help="epochs of every training")
    parser.add_argument("--batch-size", type=int, default=ClassifierSettings.batch_size)
    args = parser.parse_args(argv)
    data = CompareData.load(RunDir(Path(args.run)), SynthSet(args.synthetic))
    settings = ClassifierSettings(schedule="constant", epochs=args.epochs, batch_size=args.batch_size)
    rows = []
    for strategy, ratio, seed in CELLS[:args.cells]:
        [(labelling, classic)] = parse_strategies(strategy)
        cell = Cell(labelling, classic, ratio, seed)
        result, train = train_cell(data, cell, settings, torch.device("cpu")), data.training_set(cell)[0]
        state = {k: v.clone() for k, v in result.model.state_dict().items()}
        row = {"cell": f"{strategy} x{ratio:g}, seed {seed}", "synthetic_share": float(train.synthetic.float().mean()),
               "as_trained": val_accuracy(result.model, data),
               "epochs_curve": [round(h["val_accuracy"], 3) for h in result.history]}
        if train.synthetic.any():
            recalibrate(result.model, train.images[~train.synthetic])
            row["bn_from_real"] = val_accuracy(result.model, data)
            result.model.load_state_dict(state)
            recalibrate(result.model, train.images[train.synthetic])
            row["bn_from_synthetic"] = val_accuracy(result.model, data)
        cosine = train_cell(data, cell, replace(settings, schedule="cosine"), torch.device("cpu"))
        row["cosine_schedule"] = cosine.val_accuracy
        row["cosine_epochs_curve"] = [round(h["val_accuracy"], 3) for h in cosine.history]
        rows.append(row)
        print(json.dumps(row))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(rows)
    table.to_csv(out / "bn_diagnosis.csv", index=False)
    lines = ["# Batch-norm statistics and the collapsed mnist5k-50 cells\n",
             "Made by `python benchmarks/bn_diagnosis.py` (see its docstring). Validation accuracy (%) of the "
             "retrained cell under the constant learning rate, as trained and with BatchNorm running statistics "
             "re-estimated on the real or on the synthetic training images only; then the same cell trained with "
             "the cosine schedule. The test split is not used. Per-epoch curves are in bn_diagnosis.csv.\n",
             "| cell (strategy, ratio, seed) | synthetic share | constant lr | + BN from real | + BN from synthetic "
             "| cosine schedule |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['cell']} | {r['synthetic_share']:.0%} | {_pct(r, 'as_trained')} "
                     f"| {_pct(r, 'bn_from_real')} | {_pct(r, 'bn_from_synthetic')} | {_pct(r, 'cosine_schedule')} |")
    write_text(out / "README.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
