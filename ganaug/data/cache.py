"""A decoded pool kept on disk (pool.safetensors + pool.json in a folder) and in memory for the process.

Reading a source (thousands of image files, a torchvision archive, a user's Dataset) is the slow part of
loading data, and a Dataset object given in Python cannot be read again by a later command at all. So a run
keeps the exact pool it was trained on: later commands read that instead of the source. The cache is keyed by
the data fingerprint and checked against it on every read (the pixels are hashed again), so a stale, damaged or
edited cache is never trusted: it reads as absent. Tensors go in safetensors and facts in JSON, never pickle;
the folder is written whole or not at all.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pydantic
import torch

from ganaug.data.pool import ImagePool
from ganaug.errors import GanaugError
from ganaug.io import atomic_dir, read_json, write_json
from ganaug.tensorfile import load_tensors, save_tensors

TENSORS = "pool.safetensors"
FACTS = "pool.json"
FORMAT = 1


class _Facts(pydantic.BaseModel):
    """pool.json: what the tensors do not say."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)
    format: int
    fingerprint: str
    source: str
    classes: list[str]
    skipped: list[str]
    unreadable: list[str]
    median_side: int


def save_pool(folder: Path, pool: ImagePool) -> None:
    """Write the pool to `folder` (replacing what is there), both files at once."""
    tensors = {"images": pool.images, "labels": pool.labels}
    if pool.official_test is not None:
        tensors["official_test"] = pool.official_test
    facts = _Facts(format=FORMAT, fingerprint=pool.fingerprint(), source=pool.source, classes=list(pool.class_names),
                   skipped=list(pool.skipped), unreadable=list(pool.unreadable), median_side=pool.median_side)
    with atomic_dir(folder) as tmp:
        save_tensors(tmp / TENSORS, tensors)
        write_json(tmp / FACTS, facts.model_dump())


def cached_fingerprint(folder: Path) -> str | None:
    """The fingerprint pool.json claims (unchecked: enough to decide whether to write the cache again)."""
    facts = _read_facts(folder)
    return facts.fingerprint if facts is not None else None


def read_pool(folder: Path, fingerprint: str) -> ImagePool | None:
    """The cached pool if it holds exactly the data with this fingerprint; None if absent, stale or damaged."""
    facts = _read_facts(folder)
    if facts is None or facts.fingerprint != fingerprint:
        return None
    try:
        tensors = load_tensors(folder / TENSORS, advice="")
    except GanaugError:
        return None
    images, labels, official_test = tensors.get("images"), tensors.get("labels"), tensors.get("official_test")
    if (images is None or labels is None or set(tensors) - {"images", "labels", "official_test"}
            or images.dtype != torch.uint8 or images.dim() != 4 or labels.dtype != torch.int64
            or labels.shape != images.shape[:1]
            or (official_test is not None and (official_test.dtype != torch.bool
                                               or official_test.shape != labels.shape))):
        return None
    pool = ImagePool(images, labels, facts.classes, facts.source, official_test, tuple(facts.skipped),
                     tuple(facts.unreadable), facts.median_side)
    return pool if pool.fingerprint() == fingerprint else None


def _read_facts(folder: Path) -> _Facts | None:
    if not (folder / FACTS).is_file():
        return None
    try:
        facts = _Facts.model_validate(read_json(folder / FACTS))
    except (GanaugError, pydantic.ValidationError):
        return None
    return facts if facts.format == FORMAT else None


class PoolMemory:
    """The last few pools this process read, by key, so one command reads its data once."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pools: OrderedDict[object, ImagePool] = OrderedDict()

    def get(self, key: object) -> ImagePool | None:
        pool = self._pools.get(key)
        if pool is not None:
            self._pools.move_to_end(key)
        return pool

    def put(self, key: object, pool: ImagePool) -> None:
        self._pools[key] = pool
        self._pools.move_to_end(key)
        while len(self._pools) > self.size:
            self._pools.popitem(last=False)

    def clear(self) -> None:
        self._pools.clear()


MEMORY = PoolMemory(size=2)
"""Two: a command that compares runs may hold two runs' data; more would only keep memory busy."""
