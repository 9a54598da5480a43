"""`augment`: turn a run's generator into a labelled synthetic set on disk.

Images are generated in batches from per-image seeds, optionally scored by the
teacher, filtered (confidence, class quotas) and streamed into shards; the set
is assembled under a temporary name and renamed into place only when complete.
A request can be split into shares made by separate jobs or torchrun ranks and
assembled afterwards (ganaug.stages.augment.parts).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ganaug.device import resolve_device
from ganaug.distributed import World, barrier, joined
from ganaug.errors import UsageError
from ganaug.io import new_folder
from ganaug.runs.synthset import SynthSet
from ganaug.sharding import Shard
from ganaug.stages.augment.parts import Parts
from ganaug.stages.augment.plan import Plan
from ganaug.stages.augment.writer import write_set

FORMATS = ("csv", "parquet", "folder")


@dataclass(frozen=True)
class AugmentResult:
    synthetic: SynthSet
    teacher: dict | None
    generated: int
    """Images generated, accepted or not."""
    seconds: float
    part: Shard | None = None
    """Set when only this share of the images was written (--shard, a torchrun rank): synthetic is that part."""


def augment(run_dir: str | Path, out: str | Path, *, count: int | None = None,
            per_class: int | Mapping[int | str, int] | None = None, balance: bool = False, labels: str | None = None,
            min_confidence: float | None = None, drop_worst: float | None = None, formats: Sequence[str] = ("csv",),
            seed: int = 0, checkpoint: str | int | None = None, device: str = "auto", shard_size: int = 10_000,
            shard: str | Shard | None = None, progress: bool = True) -> AugmentResult:
    """Write a synthetic set of `count` images, `per_class` per class, or enough to `balance` the classes.

    shard "I/N" writes only the I-th of N shares of the images, into OUT.parts/ (ganaug.stages.augment.parts); the
    same call without it assembles the parts into `out`, making any that is missing. Under torchrun every rank
    makes one share and rank 0 assembles them. Without filters the assembled set equals the one-process set."""
    started = time.perf_counter()
    out, shard, world = Path(out), Shard.of(shard), World.from_environment()
    _check_request(out, formats, min_confidence, drop_worst, shard_size, seed)
    if shard is not None and world.size > 1:
        raise UsageError("--shard splits augment across separate jobs, but this is one rank of a torchrun launch, "
                         "where every rank already makes its own share: drop --shard")
    with joined(world, resolve_device(device)) as torch_device:
        plan = Plan.make(run_dir, checkpoint, str(torch_device), count=count, per_class=per_class, balance=balance,
                         labels=labels, min_confidence=min_confidence, drop_worst=drop_worst, seed=seed,
                         formats=formats, shard_size=shard_size)
        parts = Parts(out, plan.request())
        if shard is None and world.size == 1 and not parts.started():  # the usual case: one process, one set
            teacher = plan.get_teacher(progress)
            with new_folder(out, what="synthetic set") as tmp:  # renamed onto `out` only when complete
                generated = write_set(tmp, plan, teacher, Shard(1, 1), progress)
            return AugmentResult(SynthSet(out), teacher.info if teacher else None, generated,
                                 time.perf_counter() - started)
        mine = shard or (Shard(world.rank + 1, world.size) if world.size > 1 else None)
        if mine is not None:
            part, generated = parts.make(plan, mine, progress and world.is_main)
            barrier()  # torchrun: every rank's part is written before rank 0 assembles them
            if shard is not None or not world.is_main:
                return AugmentResult(part, part.manifest["teacher"], generated, time.perf_counter() - started, mine)
        synthetic, generated = parts.assemble(plan, progress)
        return AugmentResult(synthetic, synthetic.manifest["teacher"], generated, time.perf_counter() - started)


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
