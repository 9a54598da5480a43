"""The teacher: a classifier trained on the run's training split only, used to label and filter synthetic images.

Trained once per run and saved in RUN_DIR/teacher/ (safetensors + JSON); later
calls reuse it. It never sees the validation split except to pick its epoch,
and never sees the test split at all; teacher.json records a hash of the exact
training indices it used. On an imbalanced split it trains on class-balanced batches (teacher_settings).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from ganaug.classify import ClassifierSpec, TensorSet, TrainSettings, create_classifier, train_classifier
from ganaug.classify.train import predict
from ganaug.data import Split
from ganaug.data.balance import is_imbalanced
from ganaug.data.split import class_counts
from ganaug.errors import GanaugError
from ganaug.io import atomic_dir, read_json
from ganaug.runs.run_dir import RunDir
from ganaug.seeding import seeded
from ganaug.tensorfile import load_into, save_tensors

FOLDER = "teacher"
ARCHITECTURE = "small-cnn"
SETTINGS = TrainSettings(epochs=40, batch_size=64, lr=2e-3, classic="classic", seed=0)
BALANCING = "oversample"
"""How the teacher evens imbalanced classes: class-balanced batches, the best classical fix on mnist5k-lt100."""


@dataclass
class Teacher:
    model: nn.Module
    info: dict
    """architecture, classes, val_accuracy, best_epoch, train_images, split_hash."""

    @property
    def num_classes(self) -> int:
        return len(self.info["classes"])

    def probabilities(self, images: Tensor) -> Tensor:
        """uint8 images -> N x K class probabilities."""
        return predict(self.model, images, self.num_classes)


def split_hash(split: Split) -> str:
    """Identifies exactly which images the teacher may learn from and select on."""
    payload = json.dumps({"fingerprint": split.fingerprint, "train": split.train, "val": split.val})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def teacher_settings(train_counts: Sequence[int]) -> TrainSettings:
    """SETTINGS, with class-balanced batches when the training classes are imbalanced (data.balance): trained
    as is on mnist5k-lt100 (400 images of digit 0, 4 of digit 9) a small CNN recalls none of the 9s, so its
    labels, its confidence filter and the label agreement it measures would deny the small classes the very
    images meant for them. Balanced splits keep SETTINGS exactly, and so their teachers."""
    return replace(SETTINGS, rebalance=BALANCING) if is_imbalanced(train_counts) else SETTINGS


def get_teacher(run: RunDir, device: torch.device, *, progress: bool = True) -> Teacher:
    """The run's saved teacher if it matches the run's split and today's training settings, else a newly
    trained (and saved) one."""
    teacher = _load(run, device)
    if (teacher is not None and teacher.info["split_hash"] == split_hash(run.load_split())
            and _as_today(teacher.info.get("settings")) == asdict(teacher_settings(run.train_counts()))):
        return teacher
    return train_teacher(run, device, progress=progress)


def _as_today(saved: object) -> object:
    """Settings saved by earlier versions in today's spelling: `classic` was a bool (True meant the random affine
    policy, which trains to the same weights) and `rebalance` did not exist; anything else is compared as saved."""
    if not isinstance(saved, dict) or not isinstance(saved.get("classic"), bool):
        return saved
    return {**saved, "classic": "classic" if saved["classic"] else None, "rebalance": saved.get("rebalance")}


def train_teacher(run: RunDir, device: torch.device, *, progress: bool = True) -> Teacher:
    pool, split = run.load_data()
    train, val = torch.tensor(split.train), torch.tensor(split.val)
    counts = class_counts(split.train, pool)
    settings = teacher_settings(counts)
    if progress:
        balanced = (f", class-balanced batches: {min(counts)}-{max(counts)} images per class"
                    if settings.rebalance else "")
        tqdm.write(f"teacher:    training the run's classifier once, reused afterwards ({ARCHITECTURE}, "
                   f"{settings.epochs} epochs on the {len(split.train)} training images{balanced})")
    with seeded(settings.seed):  # its own stream: a run that trains a teacher mid-fit still resumes exactly
        model = create_classifier(ARCHITECTURE, ClassifierSpec(pool.channels, pool.num_classes, pool.image_size))
        result = train_classifier(model, TensorSet.real(pool.images[train], pool.labels[train], pool.num_classes),
                                  pool.images[val], pool.labels[val], settings, real_classes=pool.num_classes,
                                  device=device, progress=progress, desc="teacher")
    info = {"architecture": ARCHITECTURE, "classes": pool.class_names, "val_accuracy": result.val_accuracy,
            "best_epoch": result.best_epoch, "epochs_run": result.epochs_run, "train_images": len(split.train),
            "val_images": len(split.val), "split_hash": split_hash(split), "settings": asdict(settings)}
    with atomic_dir(run.root / FOLDER) as tmp:
        save_tensors(tmp / "weights.safetensors", result.model.state_dict())
        (tmp / "teacher.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    return Teacher(result.model, info)


def _load(run: RunDir, device: torch.device) -> Teacher | None:
    folder = run.root / FOLDER
    if not (folder / "teacher.json").is_file():
        return None
    data = run.data_record()
    try:
        info = read_json(folder / "teacher.json")
        if info["classes"] != data.classes:
            return None  # made for other classes: train a new one in its place
        model = create_classifier(info["architecture"], ClassifierSpec(data.channels, len(data.classes),
                                                                       data.image_size))
        load_into(model, folder / "weights.safetensors", advice="")
    except (GanaugError, KeyError, TypeError):
        return None  # unreadable: train a new one in its place
    return Teacher(model.to(device).eval(), info)

