"""`ganaug evaluate`: measure one checkpoint of a run and write RUN_DIR/evaluation/<checkpoint>/.

Sanity figures are computed beside every result so a reader can tell what
"good" means on this data at this sample size: FID between two halves of the
validation split (the floor) and FID of pixel-shuffled validation images, and
the precision, recall and coverage of the GAN's own training images (what reproducing
the training data would score).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ganaug.errors import UsageError
from ganaug.io import output_folder
from ganaug.limits import SEED_MAX
from ganaug.metrics.features import TEACHER
from ganaug.metrics.reliability import below_floor
from ganaug.runs.generator import RunGenerator
from ganaug.runs.quality import Reference, measure
from ganaug.stages.evaluate.report import EvaluationReport, write_report

EVAL_SEED = 1 << 40
"""Evaluation images use seeds from here on, so they never coincide with `augment`'s default seeds 0, 1, 2, ..."""
MIN_COUNT = 20
MAX_COUNT = 100_000


@dataclass
class Evaluation:
    report: EvaluationReport
    """What metrics.json holds."""
    folder: Path


def evaluate(run_dir: str | Path, *, checkpoint: str | int | None = None, count: int = 2000, features: str = TEACHER,
             device: str = "auto", seed: int = 0, progress: bool = True) -> Evaluation:
    """FID/KID, precision/recall/density/coverage, memorisation, diversity (mode collapse) and (conditional runs)
    label agreement, each figure with a reliability note where its sample is too small to trust."""
    if not MIN_COUNT <= count <= MAX_COUNT:
        raise UsageError(f"--count must be at least {MIN_COUNT} for the metrics to mean anything and at most "
                         f"{MAX_COUNT} (memory), not {count}")
    if not 0 <= seed <= SEED_MAX:
        raise UsageError(f"--seed must be from 0 to {SEED_MAX}, not {seed}")
    started = time.perf_counter()
    generator = RunGenerator.load(run_dir, checkpoint, device)
    with output_folder(generator.run.root / "evaluation", what="evaluation folder"):  # one evaluate at a time
        return _evaluate(generator, count, features, seed, started, progress)


def _evaluate(generator: RunGenerator, count: int, features: str, seed: int, started: float,
              progress: bool) -> Evaluation:
    reference = Reference.for_run(generator.run, generator.device, features=features, progress=progress)
    labels = torch.arange(count) % generator.num_classes if generator.conditional else None
    images = torch.cat([generator.generate(torch.arange(start, min(start + 512, count)) + EVAL_SEED + seed,
                                           None if labels is None else labels[start:start + 512])
                        for start in range(0, count, 512)])
    quality, memorisation = measure(reference, images, labels, seed=seed)
    sanity = reference.sanity(seed)
    quality = replace(quality, reliability=below_floor(quality.reliability, quality.fid, sanity.fid_validation_halves))
    report = EvaluationReport(str(generator.run.root), generator.checkpoint, quality, sanity,
                              round(time.perf_counter() - started, 2))
    folder = generator.run.root / "evaluation" / Path(generator.checkpoint).name
    write_report(folder, report, images, labels, generator.class_names, memorisation, reference.train)
    return Evaluation(report, folder)
