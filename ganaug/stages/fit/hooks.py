"""Trainer hooks: each one job, each acting on its own schedule."""

from __future__ import annotations

import json
import time

import numpy as np
from PIL import Image
from torch import Tensor
from tqdm.auto import tqdm

from ganaug.data.batches import InMemoryBatches
from ganaug.distributed import World, all_gather_tensors
from ganaug.pictures import save_loss_curve, save_sample_grid
from ganaug.runs.checkpoint import GanParts, check_finite, prune_checkpoints, save_checkpoint, stream_state
from ganaug.runs.run_dir import RunDir
from ganaug.stages.fit.trainer import Hook, MetricRow, Trainer


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


class TimeEstimate(Hook):
    """Says once, after the first steps, how long the whole run will take at the rate measured so far."""

    AFTER_SECONDS = 5.0
    AFTER_STEPS = 50

    def on_start(self, trainer: Trainer) -> None:
        self.started, self.first, self.said = time.perf_counter(), trainer.step, False

    def on_metrics(self, trainer: Trainer, rows: list[MetricRow]) -> None:
        done, elapsed = trainer.step - self.first, time.perf_counter() - self.started
        if self.said or done == 0 or (elapsed < self.AFTER_SECONDS and done < self.AFTER_STEPS):
            return
        self.said = True
        left = (trainer.total_steps - trainer.step) * elapsed / done
        tqdm.write(f"estimate:   {trainer.total_steps - trainer.step} more steps at {done / elapsed:.1f} steps/s: "
                   f"about {_duration(left)} (evaluations and checkpoints come on top)")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


class MetricsLog(Hook):
    """Appends one JSON line per step; resume truncates it back to the checkpoint."""

    def __init__(self, run: RunDir) -> None:
        self.run = run

    def on_metrics(self, trainer: Trainer, rows: list[MetricRow]) -> None:
        with self.run.metrics.open("a", encoding="utf-8") as f:
            f.write("".join(json.dumps(row) + "\n" for row in rows))


class SampleGrids(Hook):
    """EMA-generator grids on fixed noise: samples/step_XXXXXXX.png and samples/latest.png.

    row_labels (each row's class, for conditional runs) go at the rows' left, or nobody could tell them apart.
    """

    def __init__(self, run: RunDir, parts: GanParts, noise: Tensor, labels: Tensor | None, columns: int, every: int,
                 row_labels: list[str] | None = None) -> None:
        self.run, self.parts, self.columns, self.every = run, parts, columns, every
        self.row_labels = None if row_labels is None else list(row_labels)
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
        step, G = trainer.step, self.parts.ema.ready()
        check_finite({"ema generator": G}, step)
        save_sample_grid(G, self.noise, self.labels, self.columns, self.run.samples / f"step_{step:07d}.png",
                         self.row_labels)
        save_sample_grid(G, self.noise, self.labels, self.columns, self.run.samples / "latest.png",
                         self.row_labels)


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
    """Saves every `every` steps and at the end; only after the losses so far and the weights proved finite.
    With several processes it runs on every rank: each hands rank 0 its random streams, and rank 0 writes."""

    def __init__(self, run: RunDir, parts: GanParts, batches: InMemoryBatches, every: int, keep: int,
                 world: World) -> None:
        self.run, self.parts, self.batches, self.every, self.keep = run, parts, batches, every, keep
        self.world = world

    def act(self, trainer: Trainer) -> None:
        trainer.flush()  # raises on NaN/inf losses; save_checkpoint refuses non-finite weights
        streams = all_gather_tensors(stream_state(self.parts, self.batches))
        if self.world.is_main:
            save_checkpoint(self.run.checkpoints, trainer.step, self.parts, self.batches, streams[1:])
            prune_checkpoints(self.run.checkpoints, self.keep)


class TensorBoardLog(Hook):
    """The run as TensorBoard shows it, in RUN_DIR/tensorboard: every logged metric (train/...), each evaluation
    (eval/...) and each sample grid, read back from the files the other hooks wrote (so it runs after them)."""

    def __init__(self, run: RunDir, sample_every: int, eval_every: int) -> None:
        self.run, self.sample_every, self.eval_every = run, sample_every, eval_every
        self.grid_step = self.eval_step = -1

    def on_start(self, trainer: Trainer) -> None:
        from torch.utils.tensorboard import SummaryWriter  # the optional package, checked before fit starts

        # purge_step: a resumed run drops what the stopped one logged after its checkpoint, as metrics.jsonl does.
        self.writer = SummaryWriter(str(self.run.tensorboard), purge_step=trainer.step + 1 if trainer.step else None)

    def on_metrics(self, trainer: Trainer, rows: list[MetricRow]) -> None:
        for row in rows:
            for key, value in row.items():
                if key != "step":
                    self.writer.add_scalar(f"train/{key}", value, row["step"])

    def on_step(self, trainer: Trainer) -> None:
        self._pictures_and_evaluations(trainer.step, trainer.step % self.sample_every == 0,
                                       self.eval_every > 0 and trainer.step % self.eval_every == 0)

    def on_end(self, trainer: Trainer) -> None:
        self._pictures_and_evaluations(trainer.step, True, self.eval_every > 0)
        self.writer.flush()

    def _pictures_and_evaluations(self, step: int, grid: bool, evaluation: bool) -> None:
        path = self.run.samples / f"step_{step:07d}.png"
        if grid and step != self.grid_step and path.is_file():  # the last step may come twice: on_step, on_end
            self.grid_step = step
            with Image.open(path) as image:
                self.writer.add_image("samples", np.asarray(image.convert("RGB")), step, dataformats="HWC")
        rows = self.run.read_evaluations() if evaluation and step != self.eval_step else []
        if rows and rows[-1]["step"] == step:
            self.eval_step = step
            for key, value in rows[-1].items():
                if key != "step" and isinstance(value, (int, float)):
                    self.writer.add_scalar(f"eval/{key}", float(value), step)

    def close(self) -> None:
        if hasattr(self, "writer"):
            self.writer.close()
