"""`ganaug compare RUN_DIR --out RESULTS_DIR`: does GAN augmentation help, and which labelling wins?"""

from __future__ import annotations

from pathlib import Path

import click

from ganaug.cli.choices import device_option


class StrategiesOption(click.Option):
    """--strategies, whose help names the strategies from the registries when it is shown (reading them loads
    torch, which `ganaug --help` need not)."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from ganaug.stages.compare.grid import strategy_choices

        self.help = f"Comma-separated: {strategy_choices()}."
        return super().get_help_record(ctx)


@click.command("compare")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="Results folder (a restarted comparison skips finished cells).")
@click.option("--synthetic", type=click.Path(path_type=Path),
              help="A set from ganaug augment (default: generate one into RESULTS_DIR/synthetic).")
@click.option("--strategies", cls=StrategiesOption, default="baseline,classic,uniform,uniform+classic",
              show_default=True)
@click.option("--ratios", default="0.5,1,2", show_default=True, help="Synthetic images per real image.")
@click.option("--seeds", type=click.IntRange(1, 1000), default=5, show_default=True,
              help="Seeds 0..N-1, the same for every strategy.")
@click.option("--model", default="small-cnn", show_default=True, help="small-cnn or any timm model name.")
@click.option("--epochs", type=click.IntRange(min=1), default=30, show_default=True,
              help="Epochs per cell; the one with the best validation accuracy is kept.")
@click.option("--patience", type=click.IntRange(min=1),
              help="Stop a cell after this many epochs without a better validation accuracy (default: never; "
                   "stopping early also stops the learning-rate decay).")
@click.option("--schedule", default="cosine", show_default=True, type=click.Choice(["cosine", "constant"]),
              help="Learning rate over the epochs: cosine decay to 0, or constant (the protocol before 0.2).")
@click.option("--checkpoint", help="The generator of the set compare makes: a checkpoint step, or best (lowest "
              "validation FID, when fit evaluated); default: the newest. Not with --synthetic.")
@click.option("--jobs", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Cells trained at once, each in a process of its own (on a GPU of its own where there are "
                   "several); the results do not depend on it.")
@click.option("--shard", metavar="I/N",
              help="Train only the I-th of N fixed shares of the grid (a cluster's job array, --array=1-N) into "
                   "RESULTS_DIR/shards/; then run the same command without --shard to merge and summarise.")
@device_option
def compare_command(run_dir: Path, out: Path, synthetic: Path | None, strategies: str, ratios: str, seeds: int,
                    model: str, epochs: int, patience: int | None, schedule: str, checkpoint: str | None,
                    jobs: int, shard: str | None, device: str) -> None:
    """Train a classifier per strategy, ratio and seed on the run's split and report test accuracy."""
    from ganaug.stages.compare import ClassifierSettings, compare

    result = compare(run_dir, out, synthetic=synthetic, strategies=strategies, ratios=ratios, seeds=seeds,
                     classifier=ClassifierSettings(model=model, epochs=epochs, patience=patience, schedule=schedule),
                     checkpoint=checkpoint, device=device, jobs=jobs, shard=shard)
    if shard is not None:
        click.echo(f"shard {shard}: {len(result.runs)} cells in {result.out}/shards/; when every shard has "
                   "finished, run this command again without --shard to merge them and write the summary")
        return
    click.echo((result.out / "summary.md").read_text(encoding="utf-8"))
    click.echo(f"results: {result.out} (runs.csv, summary.csv, summary.md, accuracy.png)")
