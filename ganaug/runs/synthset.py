"""The synthetic set on disk: uint8 image shards, a per-sample table and a manifest.

    SYNTH_DIR/
      manifest.json             run, checkpoint, data set, image shape, classes, labels, teacher, counts
      samples.csv | .parquet    one row per image: index, seed, generated_for, teacher_class,
                                teacher_confidence, teacher_p<k>, checkpoint
      shards/shard_000000.safetensors   {"images": uint8 n x C x S x S}
      preview.png                        the first images of each class (by the set's labels), to look at
      folder/<class>/<index>.png         only with --format folder

Shards are written one at a time and read by memory-mapped slices, so neither
writing nor reading millions of images needs more memory than one shard.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from safetensors import SafetensorError, safe_open
from torch import Tensor

from ganaug.errors import RunDirError, UsageError
from ganaug.io import describe_os_error, first_line, read_json
from ganaug.labels import SampleInfo
from ganaug.tensorfile import save_tensors

FORMAT = 1
MANIFEST = "manifest.json"
TABLES = {"csv": "samples.csv", "parquet": "samples.parquet"}
SHARD_FILE = re.compile(r"shards/shard_\d{6}\.safetensors")
"""The only shard names the writer makes: relative, inside the set, no '..'."""
REGENERATE = "regenerate the set with ganaug augment"


def teacher_columns(num_classes: int) -> list[str]:
    return [f"teacher_p{k}" for k in range(num_classes)]


class _Record(BaseModel):
    """Strict types (no bool for int, no float for int); unknown keys are kept, for newer writers."""

    model_config = ConfigDict(strict=True, extra="allow")


class ShardEntry(_Record):
    file: str
    count: int = Field(ge=0)

    @field_validator("file")
    @classmethod
    def _inside_the_set(cls, file: str) -> str:
        if not SHARD_FILE.fullmatch(file):
            raise ValueError(f"{file!r} is not shards/shard_NNNNNN.safetensors inside the set")
        return file


class Manifest(_Record):
    """The manifest keys readers rely on, with the types `augment` writes them with."""

    format: int
    class_names: list[str] = Field(min_length=1)
    conditional: bool
    channels: int
    image_size: int = Field(ge=1, le=4096)
    count: int = Field(ge=0)
    labels: str
    table: Literal["samples.csv", "samples.parquet"]
    shards: list[ShardEntry]
    fingerprint: str
    teacher: dict[str, Any] | None = None

    @field_validator("class_names")
    @classmethod
    def _unique(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise ValueError("class names must be unique")
        return names

    @field_validator("channels")
    @classmethod
    def _channels(cls, channels: int) -> int:
        if channels not in (1, 3):
            raise ValueError(f"must be 1 or 3, not {channels}")
        return channels

    @model_validator(mode="after")
    def _counts_add_up(self) -> Manifest:
        total = sum(shard.count for shard in self.shards)
        if total != self.count:
            raise ValueError(f"the shards hold {total} images but count is {self.count}")
        return self


def _first_problem(error: ValidationError) -> str:
    """The first thing pydantic found, as 'shards.1.file: ...', short enough for a one-line error."""
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"])
    if problem["type"] == "missing":
        return f"{where} is missing"
    cause = problem.get("ctx", {}).get("error")
    text = first_line(cause) if isinstance(cause, BaseException) else problem["msg"]
    return f"{where}: {text}" if where else text


def damaged(path: Path, what: str) -> RunDirError:
    """One line that names the file and what is wrong with it, and what to do: the set cannot be repaired."""
    return RunDirError(f"{path} is damaged: {what}; {REGENERATE}")


class SynthSetWriter:
    """Appends images and their table rows, flushing a shard (and its rows) every `shard_size` images."""

    def __init__(self, folder: Path, shard_size: int, table_format: str = "csv") -> None:
        self.folder, self.shard_size, self.table_format = folder, shard_size, table_format
        (folder / "shards").mkdir(parents=True, exist_ok=True)
        self.shards: list[dict] = []
        self._images: list[Tensor] = []
        self._rows: list[pd.DataFrame] = []
        self._buffered = 0
        self._parquet: Any = None
        """A pyarrow ParquetWriter once a Parquet table is begun (pyarrow is optional and untyped)."""

    @property
    def table_file(self) -> str:
        return TABLES[self.table_format]

    def add(self, images: Tensor, rows: pd.DataFrame) -> None:
        self._images.append(images)
        self._rows.append(rows)
        self._buffered += len(images)
        while self._buffered >= self.shard_size:
            self._flush(self.shard_size)

    def close(self) -> list[dict]:
        if self._buffered:
            self._flush(self._buffered)
        if self._parquet is not None:
            self._parquet.close()
        return self.shards

    def _flush(self, n: int) -> None:
        images, rows = torch.cat(self._images), pd.concat(self._rows, ignore_index=True)
        name = f"shards/shard_{len(self.shards):06d}.safetensors"
        save_tensors(self.folder / name, {"images": images[:n]})  # not save_file: that makes 0600 files
        self._write_rows(rows.iloc[:n])
        self.shards.append({"file": name, "count": n})
        self._images, self._rows = [images[n:]], [rows.iloc[n:]]
        self._buffered -= n

    def _write_rows(self, rows: pd.DataFrame) -> None:
        path = self.folder / self.table_file
        if self.table_format == "csv":
            rows.to_csv(path, mode="a", header=not path.exists(), index=False, float_format="%.6g")
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(rows, preserve_index=False)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(path, table.schema)
        self._parquet.write_table(table)


class SynthSet:
    """Read access to a synthetic set: manifest facts, the table, and images by index.

    Opening checks the manifest, the paths it names and every shard's header (not its data), so a
    damaged set fails here in one line rather than later, mid-training, with a traceback.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        path = self.root / MANIFEST
        if not path.is_file():
            raise UsageError(f"{str(self.root)!r} is not a ganaug synthetic set (no {MANIFEST}); "
                             "make one with ganaug augment RUN_DIR --out SYNTH_DIR")
        self.manifest: dict[str, Any] = read_json(path)
        if isinstance(self.manifest, dict) and self.manifest.get("format") not in (None, FORMAT):
            raise RunDirError(f"{path} has format {self.manifest.get('format')!r}; this ganaug reads format {FORMAT}")
        try:
            self._checked = Manifest.model_validate(self.manifest)
        except ValidationError as e:
            raise damaged(path, _first_problem(e)) from None
        for file in [self._checked.table] + [shard.file for shard in self._checked.shards]:
            if not (self.root / file).is_file():
                raise damaged(path, f"it lists {file}, which is missing")
        self._starts = [0]
        for shard in self._checked.shards:
            self._starts.append(self._starts[-1] + shard.count)
        self._handles: dict[int, Any] = {}
        self._table: pd.DataFrame | None = None
        for index in range(len(self._checked.shards)):
            self._shard(index)

    class_names = property(lambda self: list(self._checked.class_names))
    num_classes = property(lambda self: len(self._checked.class_names))
    channels = property(lambda self: self._checked.channels)
    image_size = property(lambda self: self._checked.image_size)
    conditional = property(lambda self: self._checked.conditional)
    has_teacher = property(lambda self: self._checked.teacher is not None)

    def __len__(self) -> int:
        return self._starts[-1]

    def __getstate__(self) -> dict:  # open file handles stay in their process (DataLoader workers reopen)
        return {**self.__dict__, "_handles": {}}

    def table(self) -> pd.DataFrame:
        """The per-image table, read once; it must have one row per image and the columns readers use."""
        if self._table is None:
            path = self.root / self._checked.table
            try:
                table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
            except ImportError:
                raise UsageError(f"{path} needs pyarrow to read: pip install 'ganaug[parquet]'") from None
            except OSError as e:
                raise RunDirError(f"cannot read {path}: {describe_os_error(e)}; {REGENERATE}") from None
            except Exception as e:  # pandas and pyarrow raise many types for a malformed file
                raise damaged(path, f"it is not a readable table ({first_line(e)})") from None
            if len(table) != len(self):
                raise damaged(path, f"it has {len(table)} rows but the shards hold {len(self)} images")
            needed = (["generated_for"] if self.conditional else []) + (
                teacher_columns(self.num_classes) if self.has_teacher else [])
            missing = [column for column in needed if column not in table.columns]
            if missing:
                raise damaged(path, f"column {missing[0]!r} is missing")
            self._table = table
        return self._table

    def sample_info(self) -> SampleInfo:
        """What the table knows about every image."""
        table = self.table()
        generated_for = torch.tensor(table["generated_for"].to_numpy()) if self.conditional else None
        probs = None
        if self.has_teacher:
            probs = torch.tensor(table[teacher_columns(self.num_classes)].to_numpy(), dtype=torch.float32)
        return SampleInfo(len(table), generated_for, probs)

    def all_images(self) -> Tensor:
        """Every image, uint8 N x C x S x S, for sets small enough to hold in memory (compare, metrics)."""
        parts = list(self.shard_images())
        return torch.cat(parts) if parts else torch.zeros(0, self.channels, self.image_size, self.image_size,
                                                         dtype=torch.uint8)

    def shard_images(self) -> Iterator[Tensor]:
        """The images shard by shard, in order: all of them with the memory of one shard."""
        for index in range(len(self._checked.shards)):
            yield self._shard(index).get_tensor("images")

    def image(self, index: int) -> Tensor:
        """uint8, C x S x S."""
        if not 0 <= index < len(self):
            raise IndexError(f"image {index} is outside this set of {len(self)}")
        shard = bisect.bisect_right(self._starts, index) - 1
        offset = index - self._starts[shard]
        return self._shard(shard).get_slice("images")[offset : offset + 1][0]

    def _shard(self, shard: int) -> Any:
        """A memory-mapped handle, opened once per process; its header is checked against the manifest."""
        if shard not in self._handles:
            self._handles[shard] = self._open_shard(self._checked.shards[shard])
        return self._handles[shard]

    def _open_shard(self, entry: ShardEntry) -> Any:
        """Reads the header only: a truncated file, another tensor, dtype or shape fails here, not in a batch."""
        path = self.root / entry.file
        try:
            handle = safe_open(str(path), framework="pt")
        except OSError as e:
            raise RunDirError(f"cannot read {path}: {describe_os_error(e)}; {REGENERATE}") from None
        except SafetensorError as e:
            raise damaged(path, f"it is not a readable safetensors file ({first_line(e)})") from None
        if list(handle.keys()) != ["images"]:
            raise damaged(path, f"it holds {sorted(handle.keys())}, not just 'images'")
        images = handle.get_slice("images")
        expected = [entry.count, self.channels, self.image_size, self.image_size]
        if images.get_dtype() != "U8":
            raise damaged(path, f"its images are {images.get_dtype()}, not uint8 (U8)")
        if list(images.get_shape()) != expected:
            raise damaged(path, f"its images are {'x'.join(map(str, images.get_shape()))}, "
                                f"not {'x'.join(map(str, expected))} as {MANIFEST} says")
        return handle
