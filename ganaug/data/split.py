"""Deterministic, stratified train / validation / test splits, saved with the run.

The split is written to the run directory as indices into the data source, so
every later command (augment, compare) trains on exactly the images the GAN
saw, selects on validation and tests on data neither has touched.
"""

from __future__ import annotations

import hashlib
import json
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


@dataclass(frozen=True)
class Split:
    train: list[int]
    val: list[int]
    test: list[int]
    fingerprint: str
    """The data pool's fingerprint: a split only makes sense for the data it was made from."""
    classes: list[str] | None = None
    """The data's class names (None in runs made before ganaug recorded them)."""

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
        if self.classes is not None and self.classes != pool.class_names:
            raise RunDirError(f"{path} was made for the classes {', '.join(self.classes)}, but the data now has "
                              f"{', '.join(pool.class_names)}; restore the data, or start a new run")


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
    return Split(sorted(map(int, train)), sorted(map(int, val)), sorted(map(int, test)), pool.fingerprint(),
                 list(pool.class_names))


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


def _cap_per_class(train: np.ndarray, labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    shuffled = np.random.default_rng(seed).permutation(train)
    keep = [idx for cls in np.unique(labels[shuffled]) for idx in shuffled[labels[shuffled] == cls][:per_class]]
    return np.asarray(keep)
