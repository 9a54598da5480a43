"""The evaluation hook: measure the EMA generator during training and keep the best checkpoint by validation FID.

Losses say little about sample quality, so every `eval.every` steps the hook
generates `eval.count` images from fixed noise, scores them against the
validation split (ganaug.runs.quality) and appends a row to
evaluations.jsonl. The lowest-FID generator is saved to checkpoints/best/,
which `augment --checkpoint best` samples from. A low FID can hide mode
collapse, so a class whose generated images are far less varied than its real
ones is warned about as it happens and counted in the row (min_diversity,
collapsed_classes).
"""

from __future__ import annotations

import json
import math

import torch
from tqdm.auto import tqdm

from ganaug.data.pixels import to_uint8
from ganaug.io import read_json
from ganaug.metrics import DiversityReport
from ganaug.pictures import save_evaluation_curves
from ganaug.runs.checkpoint import BEST_INFO, GanParts, save_best
from ganaug.runs.quality import QualityReport, Reference, measure
from ganaug.runs.run_dir import RunDir
from ganaug.stages.fit.hooks import Periodic
from ganaug.stages.fit.trainer import Trainer


class Evaluator(Periodic):
    def __init__(self, run: RunDir, parts: GanParts, every: int, count: int, num_classes: int, z_dim: int,
                 seed: int, progress: bool = True) -> None:
        self.run, self.parts, self.every, self.progress = run, parts, every, progress
        generator = torch.Generator().manual_seed(seed + 104729)  # fixed noise, independent of the sample grids
        self.noise = torch.randn(count, z_dim, generator=generator)
        self.labels = torch.arange(count) % num_classes if num_classes else None

    def on_start(self, trainer: Trainer) -> None:
        super().on_start(trainer)
        device = next(self.parts.generator.parameters()).device
        self.reference = Reference.for_run(self.run, device, progress=self.progress)
        self.best_fid = read_json(self.run.best / BEST_INFO)["fid"] if self.run.best_step() is not None else math.inf

    def act(self, trainer: Trainer) -> None:
        trainer.flush()  # a diverged generator fails here, before it can become "best"
        quality, _ = measure(self.reference, self._generate(), self.labels)
        diversity = quality.diversity
        assert diversity is not None  # measure always measures it; only reports from older versions lack it
        row = _row(trainer.step, quality, diversity)
        row["best"] = quality.fid < self.best_fid
        if row["best"]:
            self.best_fid = quality.fid
            save_best(self.run.best, trainer.step, self.parts, {k: v for k, v in row.items() if k != "best"})
        with self.run.evaluations.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        save_evaluation_curves(self.run.read_evaluations(), self.run.root / "evaluation.png")
        tqdm.write(f"step {trainer.step}: FID {quality.fid:.2f}, precision {quality.precision:.2f}, "
                   f"recall {quality.recall:.2f}" + (" (best so far)" if row["best"] else ""))
        if diversity.collapsed:
            tqdm.write(f"step {trainer.step}: {_collapse_line(diversity)}")

    @torch.no_grad()
    def _generate(self) -> torch.Tensor:
        G = self.parts.ema.ready()
        device = next(G.parameters()).device
        out = []
        for start in range(0, len(self.noise), 500):
            z = self.noise[start:start + 500].to(device)
            y = None if self.labels is None else self.labels[start:start + 500].to(device)
            out.append(to_uint8(G(z, y)).cpu())
        return torch.cat(out)


def _row(step: int, quality: QualityReport, diversity: DiversityReport) -> dict[str, float]:
    """An evaluations.jsonl row: numbers only (RunDir._read_rows), so diversity is the lowest class's ratio
    (min_diversity, absent where no class had images enough) and the count of collapsed classes."""
    row = {"step": step, "fid": quality.fid, "kid": quality.kid, "precision": quality.precision,
           "recall": quality.recall, "density": quality.density, "coverage": quality.coverage,
           "near_copies": quality.memorisation.generated_near_copy_fraction}
    if quality.label_agreement is not None:
        row["label_agreement"] = quality.label_agreement.overall
    _, lowest = diversity.lowest()
    return row | ({} if lowest is None else {"min_diversity": lowest}) | {"collapsed_classes": len(diversity.collapsed)}


def _collapse_line(diversity: DiversityReport) -> str:
    """One warning line per evaluation, however many classes collapsed (DiversityReport.warnings has one per class)."""
    collapsed = diversity.collapsed
    if len(collapsed) == 1:
        return diversity.warnings()[0]
    ratios = ", ".join(f"'{name}' {diversity.per_class[name]:.2f}x" for name in collapsed)
    return f"warning: mode collapse in {len(collapsed)} classes: generated images are {ratios} as varied as real ones"
