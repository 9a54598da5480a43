"""One comparison cell: train a classifier from the cell's seed, pick its epoch on validation, score it once on test."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score, f1_score, recall_score
from torch import nn

from ganaug.classify import ClassifierSpec, TensorSet, TrainResult, TrainSettings, create_classifier, train_classifier
from ganaug.classify.train import EpochSets, LossFn, predict
from ganaug.seeding import seeded
from ganaug.stages.compare.data import CompareData
from ganaug.stages.compare.grid import CAS, Cell

SMALL_CLASSES = 3
"""small_class_recall averages the test recall of this many classes: those with the fewest real training images."""


@dataclass(frozen=True)
class ClassifierSettings:
    model: str = "small-cnn"
    epochs: int = 30
    patience: int | None = None
    """None: every epoch of the schedule (the best one on validation is kept); a number stops early."""
    batch_size: int = 64
    lr: float = 2e-3
    schedule: str = "cosine"


def train_cell(data: CompareData, cell: Cell, settings: ClassifierSettings, device: torch.device) -> TrainResult:
    """The cell's classifier, trained from the cell's seed with its epoch picked on validation; the test split
    is not touched. `pretrain` cells train twice: on their synthetic images alone, then, from the epoch picked
    there, on the real images alone (a new optimiser and schedule, the same settings)."""
    train, outputs, loss = data.training_set(cell)
    fresh: TensorSet | EpochSets = (lambda epoch: data.training_set(cell, epoch)[0]) if cell.use == "fresh" else train
    with seeded(cell.seed):
        model = create_classifier(settings.model, ClassifierSpec(data.channels, outputs, data.image_size))
        result = _train(data, cell, settings, device, model, fresh, loss)
        if cell.use == "pretrain":
            result = _train(data, cell, settings, device, result.model, data.real_set(outputs), loss)
        return result


def _train(data: CompareData, cell: Cell, settings: ClassifierSettings, device: torch.device, model: nn.Module,
           train: TensorSet | EpochSets, loss: LossFn) -> TrainResult:
    # Classical augmentation: the cell's policy for every data set; left-right flips only for colour images
    # (natural photos), never for grey ones such as digits, where a mirrored 2 is not a 2.
    train_settings = TrainSettings(epochs=settings.epochs, batch_size=settings.batch_size, lr=settings.lr,
                                   patience=settings.patience, classic=cell.classic, flip=data.channels == 3,
                                   rebalance=cell.rebalance, seed=cell.seed, schedule=settings.schedule)
    return train_classifier(model, train, data.val.images, data.val.labels, train_settings,
                            real_classes=data.num_classes, loss_fn=loss, device=device)


def run_cell(data: CompareData, cell: Cell, settings: ClassifierSettings, device: torch.device) -> dict:
    started = time.perf_counter()
    result = train_cell(data, cell, settings, device)
    # The test split is touched here, once, with the epoch already chosen on validation.
    predicted = predict(result.model, data.test.images, data.num_classes).argmax(1).numpy()
    truth = data.test.labels.numpy()
    recalls = recall_score(truth, predicted, labels=range(data.num_classes), average=None, zero_division=0)
    real_counts = torch.bincount(data.train.labels, minlength=data.num_classes).tolist()  # to find the small classes
    return {
        "strategy": cell.name, "ratio": cell.ratio, "seed": cell.seed, "key": cell.key,
        "real_images": 0 if cell.strategy == CAS else len(data.train.labels),
        "synthetic_images": data.synthetic_wanted(cell) if cell.uses_gan else 0,
        "test_accuracy": float((predicted == truth).mean()),
        "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0)),
        **imbalance_scores(truth, predicted, real_counts),
        "val_accuracy": result.val_accuracy, "best_epoch": result.best_epoch, "epochs": result.epochs_run,
        "seconds": time.perf_counter() - started,
        # on a CPU the sums, and so the accuracies, depend on the thread count (parallel.py); on a GPU they do not
        "threads": torch.get_num_threads() if device.type == "cpu" else None,
        **{f"recall_{name}": float(r) for name, r in zip(data.class_names, recalls, strict=True)},
    }


def imbalance_scores(truth: np.ndarray, predicted: np.ndarray, train_counts: Sequence[int]) -> dict[str, float]:
    """What a long-tailed training split hurts: balanced_accuracy (the mean recall of the classes on test) and
    small_class_recall, the mean test recall of the SMALL_CLASSES classes with the fewest training images (ties
    by class order, so on a balanced split the first three), where added images should help most."""
    smallest = sorted(range(len(train_counts)), key=lambda c: (train_counts[c], c))[:SMALL_CLASSES]
    return {"balanced_accuracy": float(balanced_accuracy_score(truth, predicted)),
            "small_class_recall": float(recall_score(truth, predicted, labels=smallest, average="macro",
                                                     zero_division=0))}
