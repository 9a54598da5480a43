"""`ganaug evaluate RUN_DIR`: FID/KID, precision/recall, diversity, memorisation and label agreement of a run's
generator; each figure with a note where too few images make it unreliable, and mode-collapse warnings on stderr."""

from __future__ import annotations

from pathlib import Path

import click

from ganaug.cli.choices import device_option
from ganaug.limits import SEED_MAX


@click.command("evaluate")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--checkpoint", help="Checkpoint step, or best (kept by fit when it evaluates); default: the newest.")
@click.option("--count", type=int, default=2000, show_default=True, help="Images to generate and measure.")
@click.option("--features", default="teacher", show_default=True,
              help="Feature space: the run's teacher, or package.module:function returning an nn.Module "
                   "that maps uint8 images to N x D features.")
@click.option("--seed", type=click.IntRange(0, SEED_MAX), default=0, show_default=True)
@device_option
def evaluate_command(run_dir: Path, checkpoint: str | None, count: int, features: str, seed: int, device: str) -> None:
    """Measure the run's generator against its validation split; write RUN_DIR/evaluation/<checkpoint>/."""
    from ganaug.stages.evaluate import evaluate
    from ganaug.stages.evaluate.report import diversity_text, with_note

    result = evaluate(run_dir, checkpoint=checkpoint, count=count, features=features, device=device, seed=seed)
    report = result.report
    q, sanity, mem, notes = report.quality, report.sanity, report.quality.memorisation, report.quality.reliability
    click.echo(f"checkpoint:  {report.checkpoint} ({q.generated} images vs the {q.real_reference})")
    click.echo(f"FID:         {with_note(q.fid, notes.fid)}")
    click.echo(f"             real vs real {sanity.fid_validation_halves:.3f}, "
               f"shuffled pixels {sanity.fid_shuffled_pixels:.1f}")
    click.echo(f"KID:         {with_note(f'{q.kid:.4f} ± {q.kid_std:.4f}', notes.kid)}")
    knn = (f"precision:   {q.precision:.3f}   recall: {q.recall:.3f}   density: {q.density:.3f}   "
           f"coverage: {q.coverage:.3f}")
    click.echo(with_note(knn, notes.precision))  # the four k-NN figures share one note
    if sanity.training_recall is not None:
        click.echo(f"             the {sanity.training_images} training images themselves: "
                   f"precision: {sanity.training_precision:.3f}   "
                   f"recall: {sanity.training_recall:.3f}   coverage: {sanity.training_coverage:.3f}")
    if q.diversity is not None:
        click.echo(f"diversity:   {with_note(diversity_text(q.diversity), notes.diversity)}")
    click.echo(f"near-copies: {mem.generated_near_copy_fraction:.1%} "
               f"(held-out real {mem.heldout_near_copy_fraction:.1%})")
    if q.label_agreement is not None:
        click.echo(f"label agreement: {q.label_agreement.overall:.1%}")
    click.echo(f"written:     {result.folder} (metrics.json, summary.md, samples.png, closest_pairs.png)")
    for warning in q.warnings:
        click.echo(warning, err=True)
