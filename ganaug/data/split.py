"""Deterministic, stratified train / validation / test splits, saved with the run.

The split is written to the run directory as indices into the data source, so
every later command (augment, compare) trains on exactly the images the GAN
saw, selects on validation and tests on data neither has touched.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from ganaug.data.pool import ImagePool
from ganaug.errors import DataError
from ganaug.io import read_json, write_json


@dataclass(frozen=True)
class Split:
    train: list[int]
    val: list[int]
    test: list[int]
    fingerprint: str
    """The data pool's fingerprint: a split only makes sense for the data it was made from."""

    def save(self, path: Path) -> None:
        write_json(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> Split:
        return cls(**read_json(path))


def make_split(
    pool: ImagePool,
    val_fraction: float,
    test_fraction: float,
    train_per_class: int = 0,
    seed: int = 0,
) -> Split:
    """Stratified split; the source's own test split is kept as the test split where it has one.

    train_per_class > 0 keeps at most that many training images per class
    (the rest are unused, never moved to validation or test).
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
    if train_per_class:
        train = _cap_per_class(train, labels, train_per_class, seed)
    return Split(sorted(map(int, train)), sorted(map(int, val)), sorted(map(int, test)), pool.fingerprint())


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
        raise DataError(f"cannot split the data: {e}; use fewer classes or more images per class") from None
    return kept, held


def _cap_per_class(train: np.ndarray, labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    shuffled = np.random.default_rng(seed).permutation(train)
    keep = [idx for cls in np.unique(labels[shuffled]) for idx in shuffled[labels[shuffled] == cls][:per_class]]
    return np.asarray(keep)
