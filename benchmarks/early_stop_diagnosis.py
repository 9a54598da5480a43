"""Do the remaining collapsed cells stop early, before the cosine schedule has lowered the learning rate?

Under the cosine protocol a few cells still score far below their strategy's other seeds (mnist5k-10:
extra+classic x2 seed 3 at 26% validation accuracy). Their runs stopped after 10-13 of 30 epochs
(patience 6), while the learning rate was still above half its peak. Test: retrain the cells with the
lowest *validation* accuracy in a comparison exactly as `compare` did (training is deterministic, so the
first column must reproduce runs.csv), then again without early stopping (patience None, the full
cosine decay; the best epoch is still picked on validation). The test split is not used. Two healthy
baseline seeds show what dropping early stopping does where nothing collapsed.

    python benchmarks/early_stop_diagnosis.py [--compare results/compare/mnist5k-10] [--cells 8]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from ganaug.io import read_json, write_text
from ganaug.runs.run_dir import RunDir
from ganaug.runs.synthset import SynthSet
from ganaug.stages.compare.cell import ClassifierSettings, train_cell
from ganaug.stages.compare.data import CompareData
from ganaug.stages.compare.grid import Cell, parse_strategies


def chosen_cells(runs: pd.DataFrame, count: int) -> pd.DataFrame:
    """The `count` GAN cells with the lowest validation accuracy, and baseline seeds 0 and 1 as controls."""
    gan = runs[~runs["strategy"].isin(["baseline", "classic", "cas"])].nsmallest(count, "val_accuracy")
    return pd.concat([gan, runs[(runs["strategy"] == "baseline") & runs["seed"].isin([0, 1])]])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", default="results/compare/mnist5k-10")
    parser.add_argument("--cells", type=int, default=8)
    args = parser.parse_args(argv)
    folder = Path(args.compare)
    fixed = read_json(folder / "compare.json")["settings"]
    settings = ClassifierSettings(**{k: fixed[k] for k in ClassifierSettings.__dataclass_fields__})
    full = replace(settings, patience=None)
    synthetic = fixed["synthetic"] or folder / "synthetic"
    data = CompareData.load(RunDir(Path(fixed["run"])), SynthSet(synthetic))
    rows = []
    for r in chosen_cells(pd.read_csv(folder / "runs.csv"), args.cells).itertuples():
        [(strategy, classic)] = parse_strategies(r.strategy)
        cell = Cell(strategy, classic, float(r.ratio), int(r.seed))
        early = train_cell(data, cell, settings, torch.device("cpu"))
        late = train_cell(data, cell, full, torch.device("cpu"))
        row = {"cell": f"{r.strategy} x{r.ratio:g}, seed {r.seed}", "runs_csv_val": r.val_accuracy,
               "early_stopping": early.val_accuracy,
               "early_epochs": f"{early.best_epoch}/{early.epochs_run}", "no_early_stopping": late.val_accuracy,
               "late_epochs": f"{late.best_epoch}/{late.epochs_run}",
               "curve": [round(h["val_accuracy"], 3) for h in late.history]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    pd.DataFrame(rows).to_csv(folder / "early_stop_diagnosis.csv", index=False)
    lines = [f"# Early stopping and the collapsed cells of {folder.name}\n",
             f"Made by `python benchmarks/early_stop_diagnosis.py --compare {folder} --cells {args.cells}` (see its "
             "docstring). Validation accuracy (%) of each retrained cell with `compare`'s early stopping "
             f"(patience {settings.patience}) and without it (all {settings.epochs} epochs of the cosine decay); "
             "epochs as best/run. The test split is not used. Per-epoch curves are in early_stop_diagnosis.csv.\n",
             "| cell (strategy, ratio, seed) | runs.csv | early stopping | epochs | no early stopping | epochs |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['cell']} | {r['runs_csv_val'] * 100:.1f} | {r['early_stopping'] * 100:.1f} | {r['early_epochs']} "
              f"| {r['no_early_stopping'] * 100:.1f} | {r['late_epochs']} |" for r in rows]
    write_text(folder / "early_stop_diagnosis.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
