"""Generating one set (or one share of it) into a folder: the sampler that meets the quotas through the filters,
and the builder that streams images into shards, the table, the preview and the PNG tree."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch import Tensor
from tqdm.auto import tqdm

from ganaug import __version__
from ganaug.errors import UsageError
from ganaug.io import child, safe_names
from ganaug.labels import Labeller, SampleInfo
from ganaug.pictures import save_image_grid
from ganaug.runs.generator import RunGenerator
from ganaug.runs.synthset import FORMAT, MANIFEST, SynthSetWriter, teacher_columns
from ganaug.runs.teacher import Teacher
from ganaug.sharding import Shard
from ganaug.stages.augment.plan import Plan
from ganaug.stages.augment.realism_filter import RealismFilter

PREVIEW = "preview.png"
BATCH_SIZE = 256


def write_set(tmp: Path, plan: Plan, teacher: Teacher | None, share: Shard, progress: bool,
              formats: Sequence[str] | None = None) -> int:
    """Generate `share` of the request's images into the folder `tmp` as a complete set; returns how many images
    were generated (accepted or not)."""
    generator = plan.generator
    realism = None
    if plan.drop_worst is not None:
        assert teacher is not None  # Plan.needs_teacher for --drop-worst
        realism = RealismFilter(generator, teacher, plan.drop_worst, plan.seed)
    sampler = _Sampler(plan, teacher, realism, share)
    builder = SetBuilder(tmp, plan, formats or plan.formats)
    with tqdm(total=sampler.quotas.total, desc="augment", unit="img", disable=not progress) as bar:
        for images, info, seeds, scores in sampler:
            first = sampler.accepted - len(images)
            builder.add(images, _rows(first, seeds, info, scores, generator), info)
            bar.update(len(images))
            bar.set_postfix(accepted=f"{sampler.accepted / max(sampler.generated, 1):.0%}")
    builder.finish({
        "format": FORMAT, "ganaug": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run": str(generator.run.root.resolve()), "run_id": generator.run.id, "split": generator.run.load_split().id,
        "checkpoint": generator.checkpoint, "source": generator.source,
        "fingerprint": generator.fingerprint, "class_names": generator.class_names,
        "conditional": generator.conditional, "channels": generator.channels,
        "image_size": generator.image_size, "count": sampler.accepted, "labels": plan.labeller.name,
        "teacher": teacher.info if teacher else None, "min_confidence": plan.min_confidence,
        "drop_worst": plan.drop_worst, "realism_threshold": realism.threshold if realism else None,
        "seed": plan.seed, "generated": sampler.generated, "rejected": sampler.generated - sampler.accepted,
        "quotas": list(plan.quotas.per_class or []) or plan.quotas.total,
        **({"part": str(share)} if share.count > 1 else {}),
    })
    return sampler.generated


class SetBuilder:
    """Streams images and their rows into a set's shards, table, preview and (format folder) PNG tree; `finish`
    writes the manifest. Both a whole set and the assembly of its parts go through it."""

    def __init__(self, tmp: Path, plan: Plan, formats: Sequence[str]) -> None:
        self.tmp, self.labeller, self.class_names = tmp, plan.labeller, plan.generator.class_names
        self.writer = SynthSetWriter(tmp, plan.shard_size, "parquet" if "parquet" in formats else "csv")
        self.folder_names = safe_names(self.class_names) if "folder" in formats else None
        self.preview = _Preview()
        self.count = 0

    def add(self, images: Tensor, rows: pd.DataFrame, info: SampleInfo) -> None:
        self.writer.add(images, rows)
        if self.folder_names is not None:
            _export_pngs(self.tmp / "folder", images, range(self.count, self.count + len(images)), self.labeller,
                         info, self.folder_names)
        self.preview.add(images, self.labeller.assigned_class(info))
        self.count += len(images)

    def finish(self, manifest: dict) -> None:
        shards = self.writer.close()
        self.preview.save(self.tmp / PREVIEW, self.class_names)
        manifest = {**manifest, "table": self.writer.table_file, "shards": shards,
                    **({"folder_names": self.folder_names} if self.folder_names else {})}
        (self.tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")


class _Sampler:
    """Yields accepted (images, info, seeds, realism scores or None) batches until the quotas are met, or gives up.

    A share's candidates are numbered as in the whole request: first its span of the positions one process fills
    when nothing is rejected, then (to replace rejected ones) every N-th number past the request, so shares never
    draw the same seed and one share of one is exactly the one-process set."""

    def __init__(self, plan: Plan, teacher: Teacher | None, realism: RealismFilter | None, share: Shard) -> None:
        self.generator, self.teacher, self.labeller = plan.generator, teacher, plan.labeller
        self.min_confidence, self.realism, self.seed = plan.min_confidence, realism, plan.seed
        self.span, self.share, self.request_total = share.span(plan.quotas.total), share, plan.quotas.total
        self.quotas = plan.quotas.share(self.span)
        self.remaining = list(self.quotas.per_class) if self.quotas.per_class else None
        # Unconditional per-class quotas keep what the teacher assigns to unfilled classes: draw full batches.
        self.by_teacher = self.remaining is not None and not self.generator.conditional
        self.accepted = self.generated = 0
        self.limit = max(20 * self.quotas.total, self.quotas.total + 10_000)

    def __iter__(self):
        while self.accepted < self.quotas.total:
            if self.generated >= self.limit:
                raise UsageError(
                    f"only {self.accepted} of {self.quotas.total} images were accepted after generating "
                    f"{self.generated}; lower --min-confidence or --drop-worst, or ask for fewer images of the "
                    "rarest classes")
            n = BATCH_SIZE if self.by_teacher else min(BATCH_SIZE, self.quotas.total - self.accepted)
            numbers = self._numbers(torch.arange(self.generated, self.generated + n))
            seeds = self.seed * 2**32 + numbers
            classes = self._classes_to_make(numbers)
            images = self.generator.generate(seeds, classes)
            info = SampleInfo(n, classes, self.teacher.probabilities(images) if self.teacher else None)
            scores = self.realism.scores(images) if self.realism else None
            self.generated += n
            keep = self._accept(info, scores, n)
            if keep.any():
                self.accepted += int(keep.sum())
                yield images[keep], info.take(keep), seeds[keep], None if scores is None else scores[keep]

    def _numbers(self, local: Tensor) -> Tensor:
        """This share's candidates 0, 1, ... as numbers of the whole request."""
        first = len(self.span)
        past = self.request_total + (self.share.index - 1) + (local - first) * self.share.count
        return torch.where(local < first, self.span.start + local, past)

    def _classes_to_make(self, numbers: Tensor) -> Tensor | None:
        if not self.generator.conditional:
            return None
        if self.remaining is None:  # a plain count: cycle through the classes
            return numbers % self.generator.num_classes
        return torch.from_numpy(np.repeat(np.arange(len(self.remaining)), self.remaining)[:len(numbers)])

    def _accept(self, info: SampleInfo, scores: Tensor | None, n: int) -> Tensor:
        keep = torch.ones(n, dtype=torch.bool)
        if self.min_confidence is not None:
            keep &= self.labeller.confidence(info) >= self.min_confidence
        if scores is not None:
            assert self.realism is not None, "realism scores come from the realism filter"
            keep &= self.realism.keep(scores)
        if self.remaining is None:
            keep &= keep.cumsum(0) <= self.quotas.total - self.accepted
            return keep
        classes = info.classes()
        assert classes is not None, "per-class quotas are for a conditional run or a teacher that labels the images"
        for i, c in enumerate(classes.tolist()):
            if keep[i] and self.remaining[c] > 0:
                self.remaining[c] -= 1
            else:
                keep[i] = False
        return keep


class _Preview:
    """Keeps the first few images of each class (or the first 100) for preview.png; memory stays bounded."""

    def __init__(self, per_class: int = 10) -> None:
        self.per_class = per_class
        self.rows: dict[int, list[Tensor]] = {}

    def add(self, images: Tensor, classes: Tensor | None) -> None:
        for j, image in enumerate(images):
            key = -1 if classes is None else int(classes[j])
            row = self.rows.setdefault(key, [])
            if len(row) < (self.per_class if key >= 0 else self.per_class**2):
                row.append(image)

    def save(self, path: Path, class_names: Sequence[str] = ()) -> None:
        """One row per class (by the labels' class, named at its left) where images have one, else a plain grid."""
        if not self.rows:
            return
        blank = torch.zeros_like(next(iter(self.rows.values()))[0])
        cells = [image for key in sorted(self.rows) for image in
                 self.rows[key] + [blank] * ((-len(self.rows[key])) % self.per_class)]
        names = None if -1 in self.rows else [class_names[k] if k < len(class_names) else str(k)
                                              for k in sorted(self.rows)]
        save_image_grid(torch.stack(cells), self.per_class, path, names)


def _rows(first: int, seeds: Tensor, info: SampleInfo, realism: Tensor | None, generator: RunGenerator) -> pd.DataFrame:
    columns: dict[str, object] = {"index": np.arange(first, first + len(seeds)), "seed": seeds.numpy()}
    if info.generated_for is not None:
        columns["generated_for"] = info.generated_for.numpy()
    if info.teacher_probs is not None:
        probs = info.teacher_probs.numpy()
        columns["teacher_class"] = probs.argmax(1)
        columns["teacher_confidence"] = probs.max(1)
        columns.update(dict(zip(teacher_columns(probs.shape[1]), probs.T, strict=True)))
    if realism is not None:
        columns["realism"] = realism.numpy()
    columns["checkpoint"] = generator.checkpoint
    return pd.DataFrame(columns)


def _export_pngs(folder: Path, images: Tensor, indices: range, labeller: Labeller, info: SampleInfo,
                 folder_names: list[str]) -> None:
    """A class-per-folder PNG tree, for tools that read image folders (folder_names: from io.safe_names)."""
    assigned = labeller.assigned_class(info)
    fallback = "extra" if labeller.extra_output else "unlabelled"
    for j, (image, index) in enumerate(zip(images, indices, strict=True)):
        target = child(folder, folder_names[int(assigned[j])] if assigned is not None else fallback)
        target.mkdir(parents=True, exist_ok=True)
        pixels = image.permute(1, 2, 0).numpy()
        Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels).save(target / f"{index:07d}.png")
