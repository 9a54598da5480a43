"""One augment request split across jobs (`--shard I/N`) or torchrun ranks, and the shares assembled into one set.

    OUT.parts/
      request.json   the request (Plan.request) and the number of shares; later shares and the assembly must match
      I-of-N/        share I: a complete synthetic set of its own, written under a temporary name, then renamed

Share I makes the I-th contiguous stretch of the images one process would make (Quotas.share, Shard.span) and
draws replacements for rejected images from seeds no other share uses. The assembly streams the shares in order
through the builder a single process uses, renumbering the rows, then removes OUT.parts: without filters the set
is the one-process set, image for image.
"""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

from tqdm.auto import tqdm

from ganaug.errors import RunDirError, UsageError
from ganaug.io import new_folder, output_folder, read_json, write_json
from ganaug.runs.synthset import MANIFEST, SynthSet
from ganaug.sharding import Shard
from ganaug.stages.augment.plan import Plan
from ganaug.stages.augment.writer import SetBuilder, write_set

REQUEST = "request.json"
WHOLE_SET_ONLY = ("part", "table", "shards", "folder_names")
"""Manifest keys of a share that the assembled set writes afresh."""


class Parts:
    def __init__(self, out: Path, request: dict) -> None:
        self.out, self.request = out, request
        self.root = out.parent / f"{out.name}.parts"

    def started(self) -> bool:
        return (self.root / REQUEST).is_file()

    def make(self, plan: Plan, shard: Shard, progress: bool) -> tuple[SynthSet, int]:
        """Share `shard` of the request (kept if it is already there); returns it and how many images it generated.
        The first share to make images trains the run's teacher if it needs one; the others wait for it and load it."""
        path = self.root / shard.name
        made = (path / MANIFEST).is_file()
        with output_folder(self.root, what="parts folder", wait=True):
            self._agree(shard.count)
            teacher = None if made else plan.get_teacher(progress)
        if not made:
            with new_folder(path, what=f"part {shard} of synthetic set") as tmp:
                write_set(tmp, plan, teacher, shard, progress, formats=[f for f in plan.formats if f != "folder"])
        part = SynthSet(path)
        return part, int(part.manifest["generated"])

    def assemble(self, plan: Plan, progress: bool) -> tuple[SynthSet, int]:
        """Every share (any still missing made here) streamed into `out` in order; the parts folder removed."""
        with output_folder(self.root, what="parts folder", wait=True):
            count = self._agree(None)
        made = [self.make(plan, Shard(i, count), progress) for i in range(1, count + 1)]
        parts, generated = [part for part, _ in made], sum(n for _, n in made)
        with new_folder(self.out, what="synthetic set") as tmp:
            builder = SetBuilder(tmp, plan, plan.formats)
            with tqdm(total=sum(map(len, parts)), desc="assemble", unit="img", disable=not progress) as bar:
                for part in parts:
                    table, info, offset, first = part.table(), part.sample_info(), builder.count, 0
                    for images in part.shard_images():
                        rows = table.iloc[first:first + len(images)].copy()
                        rows["index"] += offset
                        builder.add(images, rows, info.take(slice(first, first + len(images))))
                        first += len(images)
                        bar.update(len(images))
            manifest = {key: value for key, value in parts[0].manifest.items() if key not in WHOLE_SET_ONLY}
            builder.finish({**manifest, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                            "count": builder.count, "generated": generated,
                            "rejected": generated - builder.count, "parts": count})
        shutil.rmtree(self.root, ignore_errors=True)
        return SynthSet(self.out), generated

    def _agree(self, count: int | None) -> int:
        """The number of shares: recorded with the request by the first share, checked against every later call."""
        path = self.root / REQUEST
        if not path.is_file():
            if count is None:
                raise UsageError(f"{str(self.root)!r} has no {REQUEST}; run the shares with --shard I/N first")
            write_json(path, {"request": self.request, "parts": count})
            return count
        saved = read_json(path)
        if not (isinstance(saved, dict) and isinstance(saved.get("request"), dict)
                and isinstance(saved.get("parts"), int) and saved["parts"] >= 1):
            raise RunDirError(f"{path} is damaged; delete {str(self.root)!r} and make the shares again")
        different = [key for key in self.request if saved["request"].get(key) != self.request[key]]
        if different:
            key = different[0]
            raise UsageError(f"{str(self.root)!r} holds shares of another request ({key} {saved['request'].get(key)!r}"
                             f" there, {self.request[key]!r} here); repeat that request, or delete it to start over")
        if count is not None and count != saved["parts"]:
            raise UsageError(f"{str(self.root)!r} holds shares of {saved['parts']}, not {count}; use --shard "
                             f"I/{saved['parts']}, or delete it to start over")
        return int(saved["parts"])
