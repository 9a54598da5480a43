"""`augment`: turn a run's generator into a labelled synthetic set on disk.

Images are generated in batches from per-image seeds, optionally scored by the
teacher, filtered (confidence, class quotas) and streamed into shards; the set
is assembled under a temporary name and renamed into place only when complete.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
from ganaug.io import child, new_folder, safe_names
from ganaug.labels import Labeller, Quotas, SampleInfo, create_labeller, default_strategy, plan_quotas
from ganaug.pictures import save_image_grid
from ganaug.runs.generator import RunGenerator
from ganaug.runs.synthset import FORMAT, MANIFEST, SynthSet, SynthSetWriter, teacher_columns
from ganaug.runs.teacher import Teacher, get_teacher
from ganaug.stages.augment.realism_filter import RealismFilter

FORMATS = ("csv", "parquet", "folder")
PREVIEW = "preview.png"
BATCH_SIZE = 256


@dataclass(frozen=True)
class AugmentResult:
    synthetic: SynthSet
    teacher: dict | None
    generated: int
    """Images generated, accepted or not."""
    seconds: float


def augment(run_dir: str | Path, out: str | Path, *, count: int | None = None,
            per_class: int | Mapping[int | str, int] | None = None, balance: bool = False, labels: str | None = None,
            min_confidence: float | None = None, drop_worst: float | None = None, formats: Sequence[str] = ("csv",),
            seed: int = 0, checkpoint: str | int | None = None, device: str = "auto", shard_size: int = 10_000,
            progress: bool = True) -> AugmentResult:
    """Write a synthetic set of `count` images, `per_class` per class, or enough to `balance` the classes."""
    started = time.perf_counter()
    out = Path(out)
    _check_request(out, formats, min_confidence, drop_worst, shard_size, seed)
    generator = RunGenerator.load(run_dir, checkpoint, device)
    split = generator.run.load_split()
    labeller = create_labeller(labels or default_strategy(generator.conditional))
    labeller.check(conditional=generator.conditional, has_teacher=True, where=f"run {str(run_dir)!r}")
    quotas = plan_quotas(count=count, per_class=per_class, balance=balance, class_names=generator.class_names,
                         train_counts=_train_counts(generator) if balance else ())
    teacher = None
    if (labeller.needs_teacher or min_confidence is not None or drop_worst is not None
            or (quotas.per_class is not None and not generator.conditional)):
        teacher = get_teacher(generator.run, generator.device, progress=progress)
    realism = None
    if drop_worst is not None:
        assert teacher is not None  # loaded above for --drop-worst
        realism = RealismFilter(generator, teacher, drop_worst, seed)
    sampler = _Sampler(generator, teacher, labeller, quotas, min_confidence, realism, seed)
    folder_names = safe_names(generator.class_names) if "folder" in formats else None
    with new_folder(out, what="synthetic set") as tmp:  # renamed onto `out` only when complete
        table, shards = _write_images(tmp, sampler, formats, shard_size, folder_names, progress)
        manifest = {
            "format": FORMAT, "ganaug": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "run": str(generator.run.root.resolve()), "run_id": generator.run.id, "split": split.id,
            "checkpoint": generator.checkpoint, "source": generator.source,
            "fingerprint": generator.fingerprint, "class_names": generator.class_names,
            "conditional": generator.conditional, "channels": generator.channels,
            "image_size": generator.image_size, "count": sampler.accepted, "labels": labeller.name,
            "teacher": teacher.info if teacher else None, "min_confidence": min_confidence,
            "drop_worst": drop_worst, "realism_threshold": realism.threshold if realism else None, "seed": seed,
            "generated": sampler.generated, "rejected": sampler.generated - sampler.accepted,
            "quotas": list(quotas.per_class or []) or quotas.total, "table": table, "shards": shards,
            **({"folder_names": folder_names} if folder_names else {}),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return AugmentResult(SynthSet(out), teacher.info if teacher else None, sampler.generated,
                         time.perf_counter() - started)


def _write_images(tmp: Path, sampler: _Sampler, formats: Sequence[str], shard_size: int,
                  folder_names: list[str] | None, progress: bool) -> tuple[str, list[dict]]:
    """Stream the sampler's images into shards, the table, the preview and (folder_names given) a PNG tree."""
    writer = SynthSetWriter(tmp, shard_size, "parquet" if "parquet" in formats else "csv")
    preview, labeller, generator = _Preview(), sampler.labeller, sampler.generator
    with tqdm(total=sampler.quotas.total, desc="augment", unit="img", disable=not progress) as bar:
        for images, info, seeds, scores in sampler:
            first = sampler.accepted - len(images)
            writer.add(images, _rows(first, seeds, info, scores, generator))
            if folder_names is not None:
                _export_pngs(tmp / "folder", images, range(first, sampler.accepted), labeller, info, folder_names)
            preview.add(images, labeller.assigned_class(info))
            bar.update(len(images))
            bar.set_postfix(accepted=f"{sampler.accepted / max(sampler.generated, 1):.0%}")
    shards = writer.close()
    preview.save(tmp / PREVIEW, generator.class_names)
    return writer.table_file, shards


class _Sampler:
    """Yields accepted (images, info, seeds, realism scores or None) batches until the quotas are met, or gives up."""

    def __init__(self, generator: RunGenerator, teacher: Teacher | None, labeller: Labeller, quotas: Quotas,
                 min_confidence: float | None, realism: RealismFilter | None, seed: int) -> None:
        self.generator, self.teacher, self.labeller = generator, teacher, labeller
        self.quotas, self.min_confidence, self.realism, self.seed = quotas, min_confidence, realism, seed
        self.remaining = list(quotas.per_class) if quotas.per_class else None
        # Unconditional per-class quotas keep what the teacher assigns to unfilled classes: draw full batches.
        self.by_teacher = self.remaining is not None and not generator.conditional
        self.accepted = self.generated = 0
        self.limit = max(20 * quotas.total, quotas.total + 10_000)

    def __iter__(self):
        while self.accepted < self.quotas.total:
            if self.generated >= self.limit:
                raise UsageError(
                    f"only {self.accepted} of {self.quotas.total} images were accepted after generating "
                    f"{self.generated}; lower --min-confidence or --drop-worst, or ask for fewer images of the "
                    "rarest classes")
            n = BATCH_SIZE if self.by_teacher else min(BATCH_SIZE, self.quotas.total - self.accepted)
            seeds = self.seed * 2**32 + torch.arange(self.generated, self.generated + n)
            classes = self._classes_to_make(n)
            images = self.generator.generate(seeds, classes)
            info = SampleInfo(n, classes, self.teacher.probabilities(images) if self.teacher else None)
            scores = self.realism.scores(images) if self.realism else None
            self.generated += n
            keep = self._accept(info, scores, n)
            if keep.any():
                self.accepted += int(keep.sum())
                yield images[keep], info.take(keep), seeds[keep], None if scores is None else scores[keep]

    def _classes_to_make(self, n: int) -> Tensor | None:
        if not self.generator.conditional:
            return None
        if self.remaining is None:  # a plain count: cycle through the classes
            return torch.arange(self.generated, self.generated + n) % self.generator.num_classes
        return torch.from_numpy(np.repeat(np.arange(len(self.remaining)), self.remaining)[:n])

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


def _train_counts(generator: RunGenerator) -> list[int]:
    pool, split = generator.run.load_data()
    train = torch.tensor(split.train)
    return torch.bincount(pool.labels[train], minlength=pool.num_classes).tolist()


def _check_new(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{str(out)!r} already exists; choose another --out or delete it first "
                         "(a synthetic set is never overwritten)")


def _check_request(out: Path, formats: Sequence[str], min_confidence: float | None, drop_worst: float | None,
                   shard_size: int, seed: int) -> None:
    _check_new(out)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise UsageError(f"--format {unknown[0]!r} is not one of {', '.join(FORMATS)}")
    if "parquet" in formats:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise UsageError("--format parquet needs pyarrow: pip install 'ganaug[parquet]', or use csv") from None
    if min_confidence is not None and not 0 < min_confidence <= 1:
        raise UsageError(f"--min-confidence must be in (0, 1], not {min_confidence}")
    if drop_worst is not None and not 0 < drop_worst < 1:
        raise UsageError(f"--drop-worst is the fraction of images to leave out, in (0, 1), not {drop_worst}")
    if not 0 <= seed < 2**31:
        raise UsageError(f"--seed must be from 0 to 2**31 - 1, not {seed}")
    if shard_size < 1:
        raise UsageError(f"shard_size must be at least 1, not {shard_size}")
