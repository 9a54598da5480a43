"""Trainer hooks: each one job, each acting on its own schedule."""

from __future__ import annotations

import json

from torch import Tensor
from tqdm.auto import tqdm

from ganaug.data.batches import InMemoryBatches
from ganaug.fit.checkpoint import check_finite, prune_checkpoints, save_checkpoint
from ganaug.fit.pictures import save_loss_curve, save_sample_grid
from ganaug.fit.run_dir import RunDir
from ganaug.fit.step import GanParts
from ganaug.fit.trainer import Hook, MetricRow, Trainer


class ProgressBar(Hook):
    """Step counter with losses and images per second, rate and ETA."""

    def on_start(self, trainer: Trainer) -> None:
        self.bar = tqdm(total=trainer.total_steps, initial=trainer.step, desc="fit", unit="step",
                        dynamic_ncols=True, mininterval=0.5)

    def on_step(self, trainer: Trainer) -> None:
        self.bar.update(1)

    def on_metrics(self, trainer: Trainer, rows: list[MetricRow]) -> None:
        last = rows[-1]
        self.bar.set_postfix(loss_d=f"{last['loss_d']:.3f}", loss_g=f"{last['loss_g']:.3f}",
                             img_s=f"{last['images_per_s']:.0f}", refresh=False)

    def close(self) -> None:
        if hasattr(self, "bar"):
            self.bar.close()


class MetricsLog(Hook):
    """Appends one JSON line per step; resume truncates it back to the checkpoint."""

    def __init__(self, run: RunDir) -> None:
        self.run = run

    def on_metrics(self, trainer: Trainer, rows: list[MetricRow]) -> None:
        with self.run.metrics.open("a", encoding="utf-8") as f:
            f.write("".join(json.dumps(row) + "\n" for row in rows))


class SampleGrids(Hook):
    """EMA-generator grids on fixed noise: samples/step_XXXXXXX.png and samples/latest.png."""

    def __init__(self, run: RunDir, parts: GanParts, noise: Tensor, labels: Tensor | None, columns: int, every: int) -> None:
        self.run, self.parts, self.columns, self.every = run, parts, columns, every
        device = next(parts.generator.parameters()).device
        self.noise = noise.to(device)
        self.labels = None if labels is None else labels.to(device)

    def on_step(self, trainer: Trainer) -> None:
        if trainer.step % self.every == 0:
            self._save(trainer)

    def on_end(self, trainer: Trainer) -> None:
        self._save(trainer)

    def _save(self, trainer: Trainer) -> None:
        trainer.flush()  # a diverged run stops here, before drawing grids from NaN weights
        step, G = trainer.step, self.parts.ema.module
        check_finite({"ema generator": G}, step)
        save_sample_grid(G, self.noise, self.labels, self.columns, self.run.samples / f"step_{step:07d}.png")
        save_sample_grid(G, self.noise, self.labels, self.columns, self.run.samples / "latest.png")


class LossCurve(Hook):
    def __init__(self, run: RunDir, every: int) -> None:
        self.run, self.every = run, every

    def on_step(self, trainer: Trainer) -> None:
        if trainer.step % self.every == 0:
            trainer.flush()
            save_loss_curve(self.run.read_metrics(), self.run.loss_curve)

    def on_end(self, trainer: Trainer) -> None:
        save_loss_curve(self.run.read_metrics(), self.run.loss_curve)


class Periodic(Hook):
    """Acts every `every` steps and at the end, never twice for one step (a resumed run starts as done)."""

    every: int

    def on_start(self, trainer: Trainer) -> None:
        self.acted_step = trainer.start_step

    def on_step(self, trainer: Trainer) -> None:
        if trainer.step % self.every == 0:
            self.act(trainer)
            self.acted_step = trainer.step

    def on_end(self, trainer: Trainer) -> None:
        if self.acted_step != trainer.step:
            self.act(trainer)
            self.acted_step = trainer.step

    def act(self, trainer: Trainer) -> None:
        raise NotImplementedError


class Checkpointer(Periodic):
    """Saves every `every` steps and at the end; only after the losses so far and the weights proved finite."""

    def __init__(self, run: RunDir, parts: GanParts, batches: InMemoryBatches, every: int, keep: int) -> None:
        self.run, self.parts, self.batches, self.every, self.keep = run, parts, batches, every, keep

    def act(self, trainer: Trainer) -> None:
        trainer.flush()  # raises on NaN/inf losses; save_checkpoint refuses non-finite weights
        save_checkpoint(self.run.checkpoints, trainer.step, self.parts, self.batches)
        prune_checkpoints(self.run.checkpoints, self.keep)
