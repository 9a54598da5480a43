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
    m = result.metrics
    mem, sanity = m["memorisation"], m["sanity"]
    click.echo(f"checkpoint:  {m['checkpoint']} ({m['generated']} images vs the {m['real_reference']})")
    click.echo(f"FID:         {with_note(m, 'fid')}")
    click.echo(f"             real vs real {sanity['fid_validation_halves']:.3f}, "
               f"shuffled pixels {sanity['fid_shuffled_pixels']:.1f}")
    kid = f"{m['kid']:.4f} ± {m['kid_std']:.4f}"
    click.echo(f"KID:         {with_note(m, 'kid', kid)}")
    knn = (f"precision:   {m['precision']:.3f}   recall: {m['recall']:.3f}   density: {m['density']:.3f}   "
           f"coverage: {m['coverage']:.3f}")
    click.echo(with_note(m, "precision", knn))  # the four k-NN figures share one note
    click.echo(f"diversity:   {with_note(m, 'diversity', diversity_text(m['diversity']))}")
    click.echo(f"near-copies: {mem['generated_near_copy_fraction']:.1%} (held-out real {mem['heldout_near_copy_fraction']:.1%})")
    if "label_agreement" in m:
        click.echo(f"label agreement: {m['label_agreement']['overall']:.1%}")
    click.echo(f"written:     {result.folder} (metrics.json, summary.md, samples.png, closest_pairs.png)")
    for warning in m["warnings"]:
        click.echo(warning, err=True)
