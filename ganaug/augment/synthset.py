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
import json
from pathlib import Path

import pandas as pd
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import Tensor

from ganaug.augment.labellers import SampleInfo
from ganaug.errors import GanaugError

FORMAT = 1
MANIFEST = "manifest.json"
TABLES = {"csv": "samples.csv", "parquet": "samples.parquet"}


def teacher_columns(num_classes: int) -> list[str]:
    return [f"teacher_p{k}" for k in range(num_classes)]


class SynthSetWriter:
    """Appends images and their table rows, flushing a shard (and its rows) every `shard_size` images."""

    def __init__(self, folder: Path, shard_size: int, table_format: str = "csv") -> None:
        self.folder, self.shard_size, self.table_format = folder, shard_size, table_format
        (folder / "shards").mkdir(parents=True, exist_ok=True)
        self.shards: list[dict] = []
        self._images: list[Tensor] = []
        self._rows: list[pd.DataFrame] = []
        self._buffered = 0
        self._parquet = None

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
        save_file({"images": images[:n].contiguous()}, str(self.folder / name))
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
    """Read access to a synthetic set: manifest facts, the table, and images by index."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        path = self.root / MANIFEST
        if not path.is_file():
            raise GanaugError(f"{str(self.root)!r} is not a ganaug synthetic set (no {MANIFEST}); "
                              "make one with ganaug augment RUN_DIR --out SYNTH_DIR")
        try:
            self.manifest = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise GanaugError(f"{path} is not valid JSON ({e}); regenerate the set") from None
        if self.manifest.get("format") != FORMAT:
            raise GanaugError(f"{path} has format {self.manifest.get('format')!r}; this ganaug reads format {FORMAT}")
        self._starts = [0]
        for shard in self.manifest["shards"]:
            self._starts.append(self._starts[-1] + shard["count"])
        self._handles: dict[int, object] = {}
        self._table: pd.DataFrame | None = None

    class_names = property(lambda self: list(self.manifest["class_names"]))
    num_classes = property(lambda self: len(self.manifest["class_names"]))
    channels = property(lambda self: int(self.manifest["channels"]))
    image_size = property(lambda self: int(self.manifest["image_size"]))
    conditional = property(lambda self: bool(self.manifest["conditional"]))
    has_teacher = property(lambda self: self.manifest.get("teacher") is not None)

    def __len__(self) -> int:
        return self._starts[-1]

    def __getstate__(self) -> dict:  # open file handles stay in their process (DataLoader workers reopen)
        return {**self.__dict__, "_handles": {}}

    def table(self) -> pd.DataFrame:
        if self._table is None:
            path = self.root / self.manifest["table"]
            self._table = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
            if len(self._table) != len(self):
                raise GanaugError(f"{path} has {len(self._table)} rows but the shards hold {len(self)} images; "
                                  "the set is damaged, regenerate it")
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
        parts = [self._shard(i).get_tensor("images") for i in range(len(self.manifest["shards"]))]
        return torch.cat(parts) if parts else torch.zeros(0, self.channels, self.image_size, self.image_size,
                                                         dtype=torch.uint8)

    def image(self, index: int) -> Tensor:
        """uint8, C x S x S."""
        if not 0 <= index < len(self):
            raise IndexError(f"image {index} is outside this set of {len(self)}")
        shard = bisect.bisect_right(self._starts, index) - 1
        offset = index - self._starts[shard]
        return self._shard(shard).get_slice("images")[offset : offset + 1][0]

    def _shard(self, shard: int):
        if shard not in self._handles:
            path = self.root / self.manifest["shards"][shard]["file"]
            try:
                self._handles[shard] = safe_open(str(path), framework="pt")
            except (OSError, SafetensorError) as e:
                raise GanaugError(f"cannot read {path} ({e}); the set is damaged, regenerate it") from None
        return self._handles[shard]
