"""A compact classifier training loop on in-memory tensors; the epoch with the best validation accuracy is kept.

Targets are probability vectors (one-hot for real images), so every labelling
strategy trains through the same loop; the loss decides what synthetic rows mean.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from ganaug.classify.classic import CLASSICAL
from ganaug.classify.imbalance import REBALANCE
from ganaug.data.balance import image_weights, oversample
from ganaug.data.pixels import to_unit_range
from ganaug.device import bf16_if_fast

LossFn = Callable[[Tensor, Tensor, Tensor], Tensor]
"""loss(logits, targets, synthetic) -> scalar."""


@dataclass(frozen=True)
class TensorSet:
    images: Tensor
    """uint8, N x C x S x S."""
    targets: Tensor
    """float, N x outputs: a probability vector per image."""
    synthetic: Tensor
    """bool, N: which rows are generated images."""

    def __post_init__(self) -> None:
        if not len(self.images) == len(self.targets) == len(self.synthetic):
            raise ValueError("images, targets and synthetic flags must have the same length")

    @classmethod
    def real(cls, images: Tensor, labels: Tensor, outputs: int) -> TensorSet:
        return cls(images, F.one_hot(labels, outputs).float(), torch.zeros(len(labels), dtype=torch.bool))

    def concat(self, other: TensorSet) -> TensorSet:
        return TensorSet(torch.cat([self.images, other.images]), torch.cat([self.targets, other.targets]),
                         torch.cat([self.synthetic, other.synthetic]))


EpochSets = Callable[[int], TensorSet]
"""epoch (from 1) -> that epoch's training set, for data that changes every epoch (fresh synthetic images); every
epoch's set has the same size."""


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int | None = None
    """Stop after this many epochs without a better validation accuracy; None runs every epoch. Under the
    cosine schedule, stopping early also stops the decay: mnist5k-10 cells that stopped at epoch 12 of 30
    scored 26-47% on validation, and 80-89% when trained to the end."""
    classic: str | None = None
    """A classical augmentation policy on every training batch (a CLASSICAL name such as "classic"), or none."""
    flip: bool = False
    """Let the policy mirror images left-right: colour photos, never digits or text."""
    rebalance: str | None = None
    """A class-imbalance fix (REBALANCE): "oversample" (on real and synthetic images, each balanced on its own and
    keeping its share of the batches) or "reweight" (real images only); None: neither."""
    seed: int = 0
    schedule: str = "cosine"
    """Learning rate over the `epochs`: "cosine" decays it to 0 so the last epochs settle (validation accuracy
    under a constant rate swung by 15 points from epoch to epoch on mnist5k); "constant" keeps it fixed."""

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}")
        if self.classic is not None:
            CLASSICAL.get(self.classic)  # an unknown name fails here, naming the policies
        if self.rebalance not in (None, *REBALANCE):
            raise ValueError(f"rebalance must be one of {', '.join(REBALANCE)} or None, not {self.rebalance!r}")


@dataclass
class TrainResult:
    model: nn.Module
    """With the weights of the best validation epoch."""
    best_epoch: int
    val_accuracy: float
    epochs_run: int
    history: list[dict] = field(default_factory=list)


SCHEDULES = ("cosine", "constant")
MIN_BATCHES_PER_EPOCH = 20
"""An epoch is one pass over the training set or this many batches, whichever is more: a training set of
a hundred images would otherwise be judged (and early-stopped) after a handful of optimiser steps."""


def _batches_per_epoch(n: int, batch_size: int) -> int:
    return max(MIN_BATCHES_PER_EPOCH, -(-n // batch_size))


def _epoch_batches(n: int, batch_size: int, generator: torch.Generator,
                   oversampled: tuple[Tensor, Tensor] | None = None) -> list[Tensor]:
    """The epoch's batches of row indices: passes over the rows in random order or, given the rows' labels and
    which are synthetic (`oversampled`), as many full batches drawn inversely to class frequency, real and
    synthetic rows each on their own."""
    if oversampled is not None:
        labels, synthetic = oversampled
        return list(oversample(labels, _batches_per_epoch(n, batch_size) * batch_size, generator, synthetic)
                    .split(batch_size))
    passes = max(1, -(-MIN_BATCHES_PER_EPOCH * batch_size // n))
    order = torch.cat([torch.randperm(n, generator=generator) for _ in range(passes)])
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [b for b in batches if len(b) > 1][: _batches_per_epoch(n, batch_size)]


def soft_cross_entropy(logits: Tensor, targets: Tensor, synthetic: Tensor) -> Tensor:
    return F.cross_entropy(logits, targets)


def _rebalancing(train: TensorSet,
                 rebalance: str | None) -> tuple[tuple[Tensor, Tensor] | None, Tensor | None]:
    """(the rows' labels and synthetic flags, to oversample by) or (a per-row factor for the targets, N x 1), as
    `rebalance` asks.

    Scaling a one-hot target by w scales that image's cross-entropy by w: the class-weighted loss, through any
    loss function that is linear in its targets (the soft cross-entropy and AugmentedLoss are)."""
    if rebalance is None:
        return None, None
    labels = train.targets.argmax(1)
    if rebalance == "oversample":
        return (labels, train.synthetic), None
    if train.synthetic.any():
        raise ValueError(f"rebalance={rebalance!r} is for real images only; the training set holds synthetic ones "
                         "(oversample balances both)")
    return None, image_weights(labels).unsqueeze(1)


@torch.no_grad()
def predict(model: nn.Module, images: Tensor, real_classes: int, batch_size: int = 512) -> Tensor:
    """Probabilities over the K real classes (an extra K+1-th output is ignored, as at test time)."""
    model.eval()
    device = next(model.parameters()).device
    dtype = bf16_if_fast(device)
    out = []
    for start in range(0, len(images), batch_size):
        x = to_unit_range(images[start : start + batch_size].to(device)).contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            logits = model(x)
        out.append(logits.float()[:, :real_classes].softmax(1).cpu())
    return torch.cat(out) if out else torch.zeros(0, real_classes)


def accuracy(model: nn.Module, images: Tensor, labels: Tensor, real_classes: int) -> float:
    return (predict(model, images, real_classes).argmax(1) == labels).float().mean().item()


def train_classifier(model: nn.Module, train: TensorSet | EpochSets, val_images: Tensor, val_labels: Tensor,
                     settings: TrainSettings, *, real_classes: int, loss_fn: LossFn = soft_cross_entropy,
                     device: torch.device | None = None, progress: bool = False,
                     desc: str = "classifier") -> TrainResult:
    """Train on `train` (one set, or one per epoch), keep the epoch with the best validation accuracy (ties: lower
    validation loss). The model may come trained already (fine-tuning): its weights are the start."""
    device = device or torch.device("cpu")
    # faster convolutions on CPUs and GPUs alike; torch's stubs lack Module.to(device, memory_format=...)
    model.to(device, memory_format=torch.channels_last)  # type: ignore[call-overload]
    optimizer = torch.optim.AdamW(model.parameters(), settings.lr, weight_decay=settings.weight_decay)
    generator = torch.Generator().manual_seed(settings.seed)
    policy = CLASSICAL.get(settings.classic) if settings.classic is not None else None
    first = train(1) if callable(train) else train
    batches_per_epoch = _batches_per_epoch(len(first.images), settings.batch_size)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, settings.epochs * batches_per_epoch)
                 if settings.schedule == "cosine" else None)
    dtype = bf16_if_fast(device)
    best: tuple[float, float] = (-1.0, 0.0)
    best_state, best_epoch, history = None, 0, []
    epochs = tqdm(range(1, settings.epochs + 1), desc=desc, unit="epoch", disable=not progress, leave=False)
    for epoch in epochs:
        data = train(epoch) if callable(train) and epoch > 1 else first
        if len(data.images) != len(first.images):
            raise ValueError(f"epoch {epoch}'s training set has {len(data.images)} images, the first had "
                             f"{len(first.images)}; every epoch's must be the same size")
        oversampled, loss_scale = _rebalancing(data, settings.rebalance)
        model.train()
        for rows in _epoch_batches(len(data.images), settings.batch_size, generator, oversampled):
            images = data.images[rows].to(device)
            x = policy(images, generator, settings.flip) if policy is not None else to_unit_range(images)
            x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                logits = model(x)
            targets = data.targets[rows] if loss_scale is None else data.targets[rows] * loss_scale[rows]
            loss = loss_fn(logits.float(), targets.to(device), data.synthetic[rows].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        probs = predict(model, val_images, real_classes)
        val_acc = (probs.argmax(1) == val_labels).float().mean().item()
        val_loss = F.nll_loss(probs.clamp_min(1e-12).log(), val_labels).item()
        history.append({"epoch": epoch, "val_accuracy": val_acc, "val_loss": val_loss})
        epochs.set_postfix(val_acc=f"{val_acc:.3f}")
        if (val_acc, -val_loss) > best:
            best, best_epoch = (val_acc, -val_loss), epoch
            best_state = copy.deepcopy(model.state_dict())
        elif settings.patience is not None and epoch - best_epoch >= settings.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return TrainResult(model, best_epoch, best[0], len(history), history)
