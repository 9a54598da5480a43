"""The run directory: one place per training run, laid out for humans and later commands.

    config.toml       the validated recipe, every default filled in
    run.json          data facts (classes, shape, fingerprint) and each session's command, device, versions
    split.json        train / val / test indices into the data source
    data/             the decoded images and labels the run trained on (pool.safetensors + pool.json), so later
                      commands need neither the source's files nor a second decode
    metrics.jsonl     one JSON row per step
    loss_curve.png    losses over steps
    samples/          sample grids from the EMA generator (latest.png and per step)
    checkpoints/      step_XXXXXXX/ folders (safetensors + JSON); best/ (lowest validation FID) when evaluating
    evaluations.jsonl metrics measured during fit every eval.every steps; evaluation.png plots them
    tensorboard/      the same for TensorBoard, with log.tensorboard = true
    teacher/          the classifier that labels, filters and measures (trained on the training split only)
    evaluation/       `ganaug evaluate` reports, one folder per checkpoint
"""

from __future__ import annotations

import json
import math
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import pydantic
import tomllib

from ganaug.config import Recipe, validate
from ganaug.data import ImagePool, Split, load_pool
from ganaug.data.cache import MEMORY, cached_fingerprint, read_pool, save_pool
from ganaug.data.split import class_counts
from ganaug.data.user import PYTHON
from ganaug.errors import RunDirError, shown
from ganaug.io import atomic_path, describe_os_error, read_json, write_json, write_text
from ganaug.runs.checkpoint import BEST_INFO, list_checkpoints

DAMAGED = "restore it from a copy, or train a new run"


class DataRecord(pydantic.BaseModel):
    """run.json's facts about the data a run was trained on."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True, frozen=True)
    source: str
    classes: list[str] = pydantic.Field(min_length=1)
    channels: Literal[1, 3]
    image_size: int = pydantic.Field(ge=1, le=4096)
    fingerprint: str
    skipped: list[str] = []
    """Files of a folder source that are not images."""
    unreadable: list[str] = []
    """Image files left out because they could not be read (data.on_error = "skip"), with the reason."""

    @pydantic.field_validator("classes")
    @classmethod
    def _unique(cls, classes: list[str]) -> list[str]:
        if len(set(classes)) != len(classes):
            raise ValueError("class names repeat")
        return classes


@dataclass(frozen=True)
class RunDir:
    root: Path

    config = property(lambda self: self.root / "config.toml")
    info = property(lambda self: self.root / "run.json")
    split = property(lambda self: self.root / "split.json")
    data_cache = property(lambda self: self.root / "data")
    """The decoded pool the run trained on, keyed by its fingerprint (ganaug/data/cache.py)."""
    metrics = property(lambda self: self.root / "metrics.jsonl")
    loss_curve = property(lambda self: self.root / "loss_curve.png")
    samples = property(lambda self: self.root / "samples")
    checkpoints = property(lambda self: self.root / "checkpoints")
    evaluations = property(lambda self: self.root / "evaluations.jsonl")
    tensorboard = property(lambda self: self.root / "tensorboard")
    """Metrics measured during fit (every eval.every steps)."""
    best = property(lambda self: self.root / "checkpoints" / "best")
    """The EMA generator with the lowest validation FID so far (never pruned)."""

    @staticmethod
    def default_path(recipe_name: str) -> Path:
        """Where a new run goes when no folder is given: runs/<recipe>-<date>-<time>."""
        return Path("runs") / f"{recipe_name}-{datetime.now():%Y%m%d-%H%M%S}"

    @staticmethod
    def check_new(root: Path) -> None:
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise RunDirError(f"run directory {str(root)!r} already exists; "
                              "pass --resume to continue it or choose another --out")

    @classmethod
    def create(cls, root: Path, recipe: Recipe) -> RunDir:
        """Lay out a new run in `root` (an empty folder the caller holds)."""
        cls.check_new(root)
        run = cls(root)
        root.mkdir(parents=True, exist_ok=True)
        write_text(run.config, recipe.to_toml())
        run.write_info({"id": uuid.uuid4().hex})
        return run

    @classmethod
    def open(cls, root: Path) -> RunDir:
        run = cls(root)
        if not run.config.is_file():
            raise RunDirError(f"{str(root)!r} is not a ganaug run directory (no config.toml); check the path")
        return run

    @property
    def id(self) -> str:
        """The run's identity (kept when the folder moves); older runs without one are known by their path."""
        return str(self.read_info().get("id") or self.root.resolve())

    def load_recipe(self) -> Recipe:
        try:
            raw = tomllib.loads(self.config.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise RunDirError(f"{self.config} is not valid TOML ({e}); "
                              f"is {str(self.root)!r} a ganaug run directory?") from None
        except OSError as e:
            raise RunDirError(f"cannot read {self.config}: {describe_os_error(e)}") from None
        return validate(raw, source=str(self.config))

    def load_split(self) -> Split:
        if not self.split.is_file():
            raise RunDirError(f"{self.root} has no split.json; it was never started, run ganaug fit first")
        return Split.load(self.split)

    def load_data(self) -> tuple[ImagePool, Split]:
        """The data the run was trained on and its split, checked to be the same pixels and labels as then.

        Read once per process: from memory, else the run's data/ folder, else (runs made before ganaug kept
        one) the source, decoded again and then kept in data/.
        """
        split = self.load_split()
        key = (str(self.root.resolve()), split.fingerprint)
        pool = MEMORY.get(key)
        if pool is None:
            pool = read_pool(self.data_cache, split.fingerprint)
        if pool is None:
            pool = self._read_source_again(split.fingerprint)
        MEMORY.put(key, pool)
        split.check(pool, self.split)
        return pool, split

    def train_counts(self) -> list[int]:
        """Training images per class: split.json's record, or (runs made before it kept one) counted in the data."""
        split = self.load_split()
        return split.train_counts if split.train_counts is not None else class_counts(split.train, self.load_data()[0])

    def keep_data(self, pool: ImagePool) -> None:
        """Keep the pool `fit` read in data/ (unless it is already there) and in memory, for later commands."""
        fingerprint = pool.fingerprint()
        if cached_fingerprint(self.data_cache) != fingerprint:
            save_pool(self.data_cache, pool)
        MEMORY.put((str(self.root.resolve()), fingerprint), pool)

    def recorded_source(self) -> str | None:
        """run.json's data.source as written (unchecked), if there is one."""
        data = self.read_info().get("data")
        source = data.get("source") if isinstance(data, dict) else None
        return source if isinstance(source, str) else None

    def _read_source_again(self, fingerprint: str) -> ImagePool:
        """A run without data/ (made before ganaug kept one, or it was deleted): the source read again and kept."""
        recorded = self.recorded_source()
        if recorded is not None and recorded.startswith(f"{PYTHON}:"):
            raise RunDirError(f"{self.root} was trained on a Python Dataset ({recorded}) and its data folder "
                              f"{self.data_cache} is missing or damaged; restore it from a copy, or train a new run")
        data = self.load_recipe().data
        pool = load_pool(data)
        if pool.fingerprint() != fingerprint:
            raise RunDirError(f"the data under {data.source} changed since {self.root} was trained "
                              "(fingerprint mismatch); restore it or train a new run")
        try:
            save_pool(self.data_cache, pool)
        except OSError:  # a run folder this user may only read: the source is read again next time
            pass
        return pool

    def data_record(self, recipe: Recipe | None = None) -> DataRecord:
        """run.json's data facts, checked against split.json and config.toml (which must tell the same story).

        recipe: config.toml as the caller already read it, so it is not read twice.
        """
        raw = self.read_info().get("data")
        if raw is None:
            raise RunDirError(f"{self.root} has no run.json data record; it was never started, run ganaug fit first")
        try:
            record = DataRecord.model_validate(raw)
        except pydantic.ValidationError as e:
            item = e.errors()[0]
            where = ".".join(["data", *map(str, item["loc"])])
            raise RunDirError(f"{self.info} is damaged ({where}: {item['msg']}); {DAMAGED}") from None
        split, config = self.load_split(), (recipe if recipe is not None else self.load_recipe()).data
        disagree = [(what, a, b) for what, a, b in (
            ("fingerprint", record.fingerprint, split.fingerprint),
            ("classes", record.classes, split.classes if split.classes is not None else record.classes),
            ("image_size", record.image_size, config.image_size or record.image_size),
            ("channels", record.channels, config.channels or record.channels)) if a != b]
        if disagree:
            what, a, b = disagree[0]
            other = "split.json" if what in ("fingerprint", "classes") else "config.toml"
            raise RunDirError(f"{self.info} says data.{what} is {shown(a)} but {other} says {shown(b)}: "
                              f"the run was edited or damaged; {DAMAGED}")
        return record

    def latest_checkpoint(self) -> Path | None:
        found = list_checkpoints(self.checkpoints)
        return found[-1] if found else None

    def read_info(self) -> dict:
        if not self.info.is_file():
            return {}
        info = read_json(self.info)
        if not isinstance(info, dict):
            raise RunDirError(f"{self.info} is damaged (not a JSON object); {DAMAGED}")
        return info

    def write_info(self, info: dict) -> None:
        write_json(self.info, info)

    def read_metrics(self) -> list[dict]:
        return _read_rows(self.metrics)

    def read_evaluations(self) -> list[dict]:
        return _read_rows(self.evaluations)

    def best_step(self) -> int | None:
        """The step of the best checkpoint by validation FID, if the run evaluates."""
        if not (self.best / BEST_INFO).is_file():
            return None
        info = read_json(self.best / BEST_INFO)
        step = info.get("step") if isinstance(info, dict) else None
        if not isinstance(step, int):
            raise RunDirError(f"{self.best / BEST_INFO} is damaged (no step); delete {self.best} (fit keeps a new one)")
        return step

    def truncate_logs(self, step: int) -> None:
        """Drop log rows (and a best checkpoint) after `step`, so a resumed run neither repeats nor loses a step."""
        for log in (self.metrics, self.evaluations):
            if log.is_file() or log == self.metrics:
                rows = [row for row in _read_rows(log) if row["step"] <= step]
                with atomic_path(log) as tmp:
                    tmp.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        best = self.best_step()
        if best is not None and best > step:
            shutil.rmtree(self.best)


def _read_rows(path: Path) -> list[dict]:
    """Rows of a JSON-lines log: objects with an integer step and numbers. A torn last line (a kill
    mid-write) or a garbage line is skipped, so a damaged log loses rows, never the run."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            continue
        if (isinstance(row, dict) and type(row.get("step")) is int
                and all(isinstance(v, (int, float, bool)) and math.isfinite(v) for v in row.values())):
            rows.append(row)
    return rows
