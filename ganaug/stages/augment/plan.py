"""One augment request as every share of it sees it: the generator, the labeller, the quotas and the filters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ganaug.labels import Labeller, Quotas, create_labeller, default_strategy, plan_quotas
from ganaug.runs.generator import RunGenerator
from ganaug.runs.teacher import Teacher, get_teacher


@dataclass(frozen=True)
class Plan:
    """One request, as every share of it sees it: the generator, how images are counted, labelled and filtered."""

    generator: RunGenerator
    labeller: Labeller
    quotas: Quotas
    needs_teacher: bool
    min_confidence: float | None
    drop_worst: float | None
    seed: int
    formats: tuple[str, ...]
    shard_size: int

    @classmethod
    def make(cls, run_dir: str | Path, checkpoint: str | int | None, device: str, *, count: int | None,
             per_class: int | Mapping[int | str, int] | None, balance: bool, labels: str | None,
             min_confidence: float | None, drop_worst: float | None, seed: int, formats: Sequence[str],
             shard_size: int) -> Plan:
        generator = RunGenerator.load(run_dir, checkpoint, device)
        labeller = create_labeller(labels or default_strategy(generator.conditional))
        labeller.check(conditional=generator.conditional, has_teacher=True, where=f"run {str(run_dir)!r}")
        quotas = plan_quotas(count=count, per_class=per_class, balance=balance, class_names=generator.class_names,
                             train_counts=generator.run.train_counts() if balance else ())
        needs_teacher = (labeller.needs_teacher or min_confidence is not None or drop_worst is not None
                         or (quotas.per_class is not None and not generator.conditional))
        return cls(generator, labeller, quotas, needs_teacher, min_confidence, drop_worst, seed, tuple(formats),
                   shard_size)

    def get_teacher(self, progress: bool) -> Teacher | None:
        """The run's teacher (trained now if it has none) where labels, filters or quotas need one."""
        return get_teacher(self.generator.run, self.generator.device, progress=progress) if self.needs_teacher else None

    def request(self) -> dict:
        """What every share must agree on (the images and how the set is written): shares of one request fit
        together only if this is the same for each."""
        return {"run_id": self.generator.run.id, "checkpoint": self.generator.checkpoint, "count": self.quotas.total,
                "per_class": list(self.quotas.per_class or []), "labels": self.labeller.name,
                "min_confidence": self.min_confidence, "drop_worst": self.drop_worst, "seed": self.seed,
                "formats": sorted(self.formats), "shard_size": self.shard_size}
