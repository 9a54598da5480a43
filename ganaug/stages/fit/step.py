"""One GAN training iteration: k discriminator updates, then one generator update.

The models are used only through the Generator and Discriminator protocols (ganaug.gan.models); z_dim and
whether the run is conditional come from parts.spec, never from attributes of the modules. LeCam regularisation and
the ADA strength are options of every model: their state lives in parts (and so in checkpoints), their work here.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ganaug.data.batches import InMemoryBatches
from ganaug.distributed import average_gradients, share_buffers
from ganaug.gan.diffaugment import DiffAugment
from ganaug.gan.losses import GanLoss
from ganaug.gan.models import Discriminator, DiscriminatorOutput
from ganaug.gan.regularisers import GeneratorBatch, WeightedRegulariser
from ganaug.io import first_line
from ganaug.runs.checkpoint import GanParts


class GanStep:
    """Callable that runs one iteration and returns its metrics as 0-d device tensors.

    Nothing here reads a value back to the host, so on a GPU the iteration runs
    without syncs; the trainer reads the metrics in batches. Generator regularisers
    add weight x term to loss_g, and each term is a metric of its own, reg_<name>. With parts.lecam on, every
    D update adds lecam_weight x the LeCam term to loss_d (metric `lecam`, the last update's term); with parts.ada
    on, D's scores on real batches steer the augmentation probability (metrics `ada_p`, the p this step
    augmented with, and `ada_rt`). `augment` must then hold parts.ada.strength.
    """

    def __init__(
        self,
        parts: GanParts,
        loss: GanLoss,
        batches: InMemoryBatches,
        augment: DiffAugment,
        d_steps: int = 1,
        ac_weight: float = 0.0,
        autocast_dtype: torch.dtype | None = None,
        regularisers: Sequence[WeightedRegulariser] = (),
        compile: bool = False,
    ) -> None:
        self.parts, self.loss, self.batches, self.augment = parts, loss, batches, augment
        self.d_steps, self.ac_weight, self.autocast_dtype = d_steps, ac_weight, autocast_dtype
        self.regularisers = list(regularisers)
        self.z_dim, self.conditional = parts.spec.z_dim, parts.spec.num_classes > 0
        self.device = next(parts.generator.parameters()).device
        # fp16 needs its losses scaled (parts.scalers, built for the precision); with bf16 or fp32 they pass through.
        self.scale_d, self.scale_g = parts.scalers.d, parts.scalers.g
        self.compile = compile
        self._compiled: dict[int, Compiled] = {}

    def _through(self, module: Any) -> Any:
        """The module, or with train.compile its compiled forward (parts keeps the module itself, so checkpoints
        are unchanged)."""
        if not self.compile:
            return module
        if id(module) not in self._compiled:
            self._compiled[id(module)] = Compiled(module)
        return self._compiled[id(module)]

    def __call__(self) -> dict[str, Tensor]:
        D, lecam, ada = self.parts.discriminator, self.parts.lecam, self.parts.ada
        G_call: Callable[..., Tensor] = self._through(self.parts.generator)
        D_call: Callable[..., DiscriminatorOutput] = self._through(D)
        for i in range(self.d_steps):
            real, labels = self.batches.next()
            y = labels if self.conditional else None
            keep_graph = i == self.d_steps - 1  # the last fake batch is reused for the generator step
            with self._autocast():
                with torch.set_grad_enabled(keep_graph):
                    z = torch.randn(len(real), self.z_dim, device=self.device, generator=self.parts.rng)
                    fake = G_call(z, y)
                real_in, fake_in = self.augment(real), self.augment(fake.detach())
                d_real, d_fake = D_call(real_in, y), D_call(fake_in, y)
                loss_d = self.loss.discriminator(d_real.score.float(), d_fake.score.float())
                loss_d = loss_d + self._aux_loss(d_real, y) + self._aux_loss(d_fake, y)
                penalty = self.loss.penalty(_critic(D, y), real_in, fake_in, self.parts.rng)
                if penalty is not None:
                    loss_d = loss_d + penalty
                if lecam.enabled:
                    lecam_term = lecam(d_real.score.float(), d_fake.score.float())
                    loss_d = loss_d + lecam.weight * lecam_term
            if ada.enabled:
                ada.observe(d_real.score)
            self.parts.opt_d.zero_grad(set_to_none=True)
            self.scale_d.scale(loss_d).backward()
            average_gradients(D)  # with several processes; a no-op in one
            self.scale_d.step(self.parts.opt_d)
            self.scale_d.update()
            self.loss.after_discriminator_step(D)

        D.requires_grad_(False)  # the generator step needs no weight gradients for D
        with self._autocast():
            d_gen = D_call(self.augment(fake), y)
            loss_g = self.loss.generator(d_gen.score.float()) + self._aux_loss(d_gen, y)
            batch = GeneratorBatch(fake, z, y, d_gen)
            terms = {r.name: r.term(batch).float() for r in self.regularisers}
            for r in self.regularisers:
                loss_g = loss_g + r.weight * terms[r.name]
        G = self.parts.generator
        self.parts.opt_g.zero_grad(set_to_none=True)
        self.scale_g.scale(loss_g).backward()
        average_gradients(G)
        self.scale_g.step(self.parts.opt_g)
        self.scale_g.update()
        D.requires_grad_(True)
        share_buffers(G)  # every rank keeps rank 0's batch-norm and spectral-norm buffers (ganaug.distributed)
        share_buffers(D)
        self.parts.ema.update(G)
        metrics = {
            "loss_d": loss_d.detach(),
            "loss_g": loss_g.detach(),
            "d_real": d_real.score.detach().float().mean(),
            "d_fake": d_fake.score.detach().float().mean(),
            **{f"reg_{name}": term.detach() for name, term in terms.items()},
        }
        if lecam.enabled:
            metrics["lecam"] = lecam_term.detach()
        if ada.enabled:
            metrics["ada_p"] = ada.p.clone()  # copies: p and r_t change in place, the trainer reads these later
            ada.end_step()
            metrics["ada_rt"] = ada.rt.clone()
        return metrics

    def _aux_loss(self, out: DiscriminatorOutput, y: Tensor | None) -> Tensor | float:
        if out.class_logits is None or y is None:
            return 0.0
        return self.ac_weight * F.cross_entropy(out.class_logits.float(), y)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)


def _critic(D: Discriminator, y: Tensor | None) -> Callable[[Tensor], Tensor]:
    """D's score as a function of the images alone, the classes bound now: what a gradient penalty differentiates."""
    return lambda x: D(x, y).score.float()


class Compiled:
    """A module called through torch.compile; where compiling fails (no compiler, an operation it cannot handle),
    it warns once and calls the module itself from then on, so `train.compile` never stops a run."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.compiled: Callable[..., Any] | None = torch.compile(module)

    def __call__(self, *args: Any) -> Any:
        if self.compiled is not None:
            try:
                return self.compiled(*args)
            except Exception as e:  # noqa: BLE001 - any compiler failure; a real error recurs in eager mode below
                warnings.warn(f"train.compile: torch.compile failed ({first_line(e)}); training without it",
                              RuntimeWarning, stacklevel=2)
                self.compiled = None
        return self.module(*args)
