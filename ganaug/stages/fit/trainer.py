"""The training loop: call the step, count, and let hooks do everything else.

Hooks (progress, logging, samples, checkpoints) see the trainer and act when
they choose. Metrics stay on the device until `flush`, which reads a whole
interval at once, checks them for NaN/inf and hands them to the hooks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ganaug.distributed import all_mean
from ganaug.errors import TrainingDiverged

MetricRow = dict[str, float]


class Hook:
    """Override what you need; every method is a no-op by default."""

    def on_start(self, trainer: Trainer) -> None: ...

    def on_step(self, trainer: Trainer) -> None: ...

    def on_metrics(self, trainer: Trainer, rows: list[MetricRow]) -> None: ...

    def on_end(self, trainer: Trainer) -> None: ...

    def close(self) -> None:
        """Always called, also after an error: release terminals and files."""


class Trainer:
    def __init__(
        self,
        step_fn: Callable[[], dict[str, Tensor]],
        total_steps: int,
        hooks: Sequence[Hook] = (),
        log_every: int = 10,
        start_step: int = 0,
        images_per_step: int = 1,
        flush_at: Sequence[int] = (),
    ) -> None:
        self.step_fn, self.total_steps, self.hooks = step_fn, total_steps, list(hooks)
        self.log_every, self.step, self.start_step = log_every, start_step, start_step
        # Besides every log_every steps, flush on the schedules of hooks that read the metrics (a checkpoint, a
        # sample grid): with several processes every rank then flushes, and so reduces its metrics with the others,
        # at the same steps, whichever hooks it has.
        self.flush_at = [every for every in flush_at if every > 0]
        self.images_per_step = images_per_step
        self._pending: list[tuple[int, dict[str, Tensor]]] = []
        self._last_flush = (start_step, time.perf_counter())

    def fit(self) -> None:
        try:
            for hook in self.hooks:
                hook.on_start(self)
            while self.step < self.total_steps:
                metrics = self.step_fn()
                self.step += 1
                self._pending.append((self.step, metrics))
                if self.step % self.log_every == 0 or any(self.step % every == 0 for every in self.flush_at):
                    self.flush()
                for hook in self.hooks:
                    hook.on_step(self)
            self.flush()
            for hook in self.hooks:
                hook.on_end(self)
        finally:
            for hook in self.hooks:
                hook.close()

    def flush(self) -> None:
        """Read pending metrics to the host (one sync), stop on NaN/inf, pass rows to the hooks."""
        if not self._pending:
            return
        steps = [s for s, _ in self._pending]
        keys = list(self._pending[0][1])
        # Averaged over ranks when training on several processes: the log shows the global losses, and a NaN
        # on any rank reaches every rank, so all of them stop together instead of waiting on each other.
        values = all_mean(torch.stack([torch.stack([m[k].float() for k in keys]) for _, m in self._pending])).tolist()
        self._pending.clear()
        now = time.perf_counter()
        rate = (steps[-1] - self._last_flush[0]) * self.images_per_step / max(now - self._last_flush[1], 1e-9)
        self._last_flush = (steps[-1], now)
        rows = []
        for step, row in zip(steps, values, strict=True):
            bad = [(k, v) for k, v in zip(keys, row, strict=True) if not math.isfinite(v)]
            if bad:
                raise TrainingDiverged(f"training diverged: {bad[0][0]} became {bad[0][1]} at step {step}")
            rows.append({"step": step, **dict(zip(keys, row, strict=True)), "images_per_s": rate})
        for hook in self.hooks:
            hook.on_metrics(self, rows)
