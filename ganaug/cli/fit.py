"""`ganaug fit RECIPE`: train a GAN from a recipe into a run directory."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ganaug.cli.choices import device_option


@click.command("fit")
@click.argument("recipe", required=False)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Run directory (default: runs/RECIPE-TIME).")
@click.option("--steps", type=click.IntRange(min=1),
              help="Total steps of the run (a resumed run continues up to this).")
@click.option("--seed", type=int, help="Training seed (train.seed).")
@device_option
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe value, e.g. --set train.lr_g=1e-4.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its newest checkpoint.")
def fit_command(recipe: str, out: Path | None, steps: int | None, seed: int | None, device: str,
                overrides: tuple[str, ...], resume: bool) -> None:
    """Train a (conditional) GAN on a data set's training split.

    RECIPE is a built-in recipe name (digits, mnist5k, cifar10, folder, dcgan64) or a path to a .toml file.
    With --resume it may be left out: the run continues from its own config.toml (plus any --set).
    """
    from ganaug.config import load_recipe
    from ganaug.distributed import World
    from ganaug.runs.run_dir import RunDir
    from ganaug.stages.fit.run import fit

    world = World.from_environment()

    if resume and out is None:
        raise click.UsageError("--resume needs --out RUN_DIR (the run to continue)")
    if recipe is None:
        if not resume:
            raise click.UsageError("give a RECIPE (a built-in name or a .toml file); only --resume may leave it out")
        recipe = str(RunDir.open(out).config)  # the run's own resolved recipe
    extra = (list(overrides) + ([f"train.steps={steps}"] if steps else [])
             + ([f"train.seed={seed}"] if seed is not None else []))
    config, name = load_recipe(recipe, extra)
    if out is None:
        if world.size > 1:  # each process would name its own folder after its own clock
            raise click.UsageError("give --out RUN_DIR when training on several processes (torchrun)")
        out = RunDir.default_path(name)
    started = time.perf_counter()
    result = fit(config, out, device=device, resume=resume)
    if not world.is_main:
        return  # rank 0 reports
    run = result.run
    click.echo(f"run:        {run.root} (step {result.steps}, {time.perf_counter() - started:.0f} s)")
    click.echo(f"samples:    {run.samples / 'latest.png'}")
    click.echo(f"loss curve: {run.loss_curve}")
    click.echo(f"checkpoint: {result.checkpoint}")
