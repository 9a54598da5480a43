"""Deterministic, stratified train / validation / test splits, saved with the run.

The split is written to the run directory as indices into the data source, so
every later command (augment, compare) trains on exactly the images the GAN
saw, selects on validation and tests on data neither has touched.

The training split can be made long-tailed (data.imbalance_ratio), to measure
augmentation where it is meant to help: the rare classes. Validation and test
stay balanced, so per-class recall on test means the same for every class.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pydantic
from sklearn.model_selection import train_test_split

from ganaug.data.pool import ImagePool
from ganaug.errors import DataError, RunDirError
from ganaug.io import read_json, write_json


class _SplitRecord(pydantic.BaseModel):
    """split.json as written; anything else in it means it was damaged or edited."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)
    train: list[int]
    val: list[int]
    test: list[int]
    fingerprint: str
    classes: list[str] | None = None
    train_counts: list[int] | None = None


@dataclass(frozen=True)
class Split:
    train: list[int]
    val: list[int]
    test: list[int]
    fingerprint: str
    """The data pool's fingerprint: a split only makes sense for the data it was made from."""
    classes: list[str] | None = None
    """The data's class names (None in runs made before ganaug recorded them)."""
    train_counts: list[int] | None = None
    """Training images per class, in class order, so a long-tailed split can be read off split.json (None in runs
    made before ganaug recorded them). Not part of `id`: the indices already determine it."""

    @property
    def id(self) -> str:
        """Identifies exactly these images in these roles, so a synthetic set can be matched to its split."""
        payload = json.dumps([self.train, self.val, self.test, self.fingerprint])
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def save(self, path: Path) -> None:
        write_json(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> Split:
        """split.json, checked for its keys and types; a damaged file is a RunDirError."""
        try:
            record = _SplitRecord.model_validate(read_json(path))
        except pydantic.ValidationError as e:
            item = e.errors()[0]
            where = ".".join(map(str, item["loc"])) or "the file"
            raise RunDirError(f"{path} is damaged ({where}: {item['msg']}); restore it, or start a new run") from None
        return cls(**record.model_dump())

    def check(self, pool: ImagePool, path: Path | str = "split.json") -> None:
        """The split must index this pool: in range, no image twice, and (where recorded) the same classes."""
        roles = {"train": self.train, "val": self.val, "test": self.test}
        seen: set[int] = set()
        for role, indices in roles.items():
            bad = next((i for i in indices if not 0 <= i < len(pool.labels)), None)
            if bad is not None:
                raise RunDirError(f"{path} is damaged: {role} index {bad} is outside the data's "
                                  f"{len(pool.labels)} images; restore it, or start a new run")
            if len(set(indices)) != len(indices) or seen & set(indices):
                raise RunDirError(f"{path} is damaged: an image appears twice in the split ({role}); "
                                  "restore it, or start a new run")
            seen |= set(indices)
        if self.train_counts is not None and self.train_counts != class_counts(self.train, pool):
            raise RunDirError(f"{path} is damaged: its train_counts do not match its training images; "
                              "restore it, or start a new run")
        if self.classes is not None and self.classes != pool.class_names:
            raise RunDirError(f"{path} was made for the classes {', '.join(self.classes)}, but the data now has "
                              f"{', '.join(pool.class_names)}; restore the data, or start a new run")


def make_split(
    pool: ImagePool,
    val_fraction: float,
    test_fraction: float,
    train_per_class: int = 0,
    seed: int = 0,
    imbalance_ratio: float = 1.0,
) -> Split:
    """Stratified split; the source's own test split is kept as the test split where it has one.

    train_per_class > 0 keeps at most that many training images per class
    (the rest are unused, never moved to validation or test).
    imbalance_ratio > 1 makes the training split long-tailed: class i keeps
    long_tail_counts(head, ratio, K)[i] images, where head is train_per_class
    when set, else the smallest class's training count (a class that cannot
    supply its quota is a DataError). Head and tail follow class order, as in
    the papers (class 0 is the largest). Validation and test are the balanced
    split's, unchanged; 1 gives exactly the balanced split.
    """
    labels = pool.labels.numpy()
    everything = np.arange(len(labels))
    if pool.official_test is not None:
        official = pool.official_test.numpy()
        test, rest = everything[official], everything[~official]
        train, val = _stratified(rest, labels, val_fraction, seed, pool.class_names)
    else:
        rest, test = _stratified(everything, labels, test_fraction, seed, pool.class_names)
        train, val = _stratified(rest, labels, val_fraction / (1 - test_fraction), seed + 1, pool.class_names)
    if imbalance_ratio > 1:
        available = np.bincount(labels[train], minlength=len(pool.class_names))
        train = _keep_per_class(train, labels, _long_tail_quotas(available, train_per_class, imbalance_ratio,
                                                                 pool.class_names), seed)
    elif train_per_class:
        train = _keep_per_class(train, labels, [train_per_class] * len(pool.class_names), seed)
    kept = sorted(map(int, train))
    return Split(kept, sorted(map(int, val)), sorted(map(int, test)), pool.fingerprint(), list(pool.class_names),
                 class_counts(kept, pool))


def long_tail_counts(head: int, ratio: float, num_classes: int) -> list[int]:
    """Training images per class of a long tail (Cui et al. 2019; Cao et al. 2019, LDAM): class i keeps
    head * ratio^(-i / (K - 1)), rounded half up and at least 1, so class 0 keeps `head` and the last
    head / ratio (1 where that is below one image)."""
    steps = max(num_classes - 1, 1)
    return [max(1, math.floor(head * ratio ** (-i / steps) + 0.5)) for i in range(num_classes)]


def _long_tail_quotas(available: np.ndarray, head: int, ratio: float, class_names: Sequence[str]) -> list[int]:
    """long_tail_counts from `head` (0: the smallest class's count); every class must have its quota, or the
    counts would not follow the law the ratio promises."""
    smallest = int(available.min())
    quotas = long_tail_counts(head or smallest, ratio, len(class_names))
    short = next((c for c, (want, have) in enumerate(zip(quotas, available, strict=True)) if have < want), None)
    if short is not None:
        raise DataError(f"data.imbalance_ratio = {ratio:g} needs {quotas[short]} training images of class "
                        f"{class_names[short]!r}, but the split has {available[short]}; set data.train_per_class "
                        f"to at most {smallest}, or 0 to start the tail from the smallest class's count")
    return quotas


def _stratified(
    indices: np.ndarray, labels: np.ndarray, fraction: float, seed: int, class_names: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    counts = np.bincount(labels[indices], minlength=len(class_names))
    for cls, count in enumerate(counts):
        if 0 < count < 3:
            raise DataError(
                f"class {class_names[cls]!r} has only {count} image(s); a stratified split needs at least 3 per class"
            )
    try:
        kept, held = train_test_split(indices, test_size=fraction, random_state=seed, stratify=labels[indices])
    except ValueError as e:
        raise DataError(f"cannot split the data ({e}); change data.val_fraction / data.test_fraction, "
                        "or add images") from None
    return kept, held


def _keep_per_class(train: np.ndarray, labels: np.ndarray, quotas: Sequence[int], seed: int) -> np.ndarray:
    """The first quotas[c] images of class c in one seeded shuffle: a smaller quota keeps a subset of a larger's."""
    shuffled = np.random.default_rng(seed).permutation(train)
    keep = [idx for cls in np.unique(labels[shuffled]) for idx in shuffled[labels[shuffled] == cls][:quotas[cls]]]
    return np.asarray(keep, dtype=np.int64)


def class_counts(indices: Sequence[int], pool: ImagePool) -> list[int]:
    """Images of each class among `indices` of the pool (e.g. a split's training images)."""
    return np.bincount(pool.labels.numpy()[indices], minlength=len(pool.class_names)).tolist()
