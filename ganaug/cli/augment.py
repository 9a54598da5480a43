"""`ganaug augment RUN_DIR --out SYNTH_DIR`: write a labelled synthetic set from a run's generator."""

from __future__ import annotations

from pathlib import Path

import click

from ganaug.cli.choices import RegistryChoice, device_option
from ganaug.limits import SEED_MAX

LABELLERS = RegistryChoice("ganaug.labels.labellers:LABELLERS")


@click.command("augment")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="The synthetic set to write (must not exist).")
@click.option("--count", type=int, help="Generate this many images.")
@click.option("--per-class", type=int, help="Generate this many images of every class.")
@click.option("--balance", is_flag=True, help="Top every class up to the largest class's training count.")
@click.option("--labels", type=LABELLERS, help="Labelling strategy (default: conditional for "
              "conditional runs, else uniform). argmax and soft train the run's teacher if it has none yet.")
@click.option("--min-confidence", type=float, help="Keep only images the teacher gives at least this probability "
              "for their class.")
@click.option("--drop-worst", type=float, help="Leave out this fraction of the least realistic images (realism "
              "score in the teacher's feature space against the training split; the table records each score).")
@click.option("--format", "formats", multiple=True, type=click.Choice(["csv", "parquet", "folder"]),
              help="Table as csv (default) or parquet; folder also writes a class-per-folder PNG tree. Repeatable.")
@click.option("--seed", type=click.IntRange(0, SEED_MAX), default=0, show_default=True)
@click.option("--checkpoint", help="Checkpoint step, or best (lowest validation FID, when fit evaluated); "
              "default: the newest.")
@device_option
@click.option("--shard-size", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Images per shard file (memory use is about one shard).")
@click.option("--shard", metavar="I/N",
              help="Make only the I-th of N shares of the images (a cluster's job array), into OUT.parts/; then run "
                   "the same command without --shard to assemble OUT. Under torchrun every rank makes one share.")
def augment_command(run_dir: Path, out: Path, count: int | None, per_class: int | None, balance: bool,
                    labels: str | None, min_confidence: float | None, drop_worst: float | None,
                    formats: tuple[str, ...], seed: int,
                    checkpoint: str | None, device: str, shard_size: int, shard: str | None) -> None:
    """Generate labelled synthetic images from the run in RUN_DIR."""
    from ganaug.stages.augment import augment

    result = augment(run_dir, out, count=count, per_class=per_class, balance=balance, labels=labels,
                     min_confidence=min_confidence, drop_worst=drop_worst, formats=formats or ("csv",), seed=seed,
                     checkpoint=checkpoint, device=device, shard_size=shard_size, shard=shard)
    synthetic, m = result.synthetic, result.synthetic.manifest
    if result.part is not None:
        click.echo(f"part {result.part}: {synthetic.root} ({len(synthetic)} images, {m['rejected']} rejected, in "
                   f"{result.seconds:.1f} s); when every part is done, run this command without --shard to "
                   f"assemble {out}")
        return
    if result.teacher:
        t = result.teacher
        click.echo(f"teacher:   {t['architecture']}, validation accuracy {t['val_accuracy']:.3f} "
                   f"(trained on the run's {t['train_images']} training images)")
    click.echo(f"synthetic: {synthetic.root} ({len(synthetic)} images of {synthetic.num_classes} classes, "
               f"labels {m['labels']}, from {m['checkpoint']})")
    click.echo(f"preview:   {synthetic.root / 'preview.png'}")
    click.echo(f"generated: {result.generated} ({m['rejected']} rejected) in {result.seconds:.1f} s, "
               f"{len(synthetic) / max(result.seconds, 1e-9):.0f} images/s written")
