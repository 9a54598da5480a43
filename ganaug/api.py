"""The Python face of the `ganaug` commands: ganaug.load_recipe, fit, augment, evaluate and compare.

Each takes Python values (sequences and mappings, not the CLI's comma-separated
text), checks its arguments before any work, and returns the stage's own result.
A wrong type is a WrongTypeError (a TypeError); a value that cannot be used a
UsageError or ConfigError (ValueErrors); a missing or damaged run a RunDirError;
each with a one-line message that says what to pass instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from ganaug.classify.train import SCHEDULES
from ganaug.config import Recipe, apply_overrides, validate
from ganaug.config import load_recipe as read_recipe
from ganaug.errors import UsageError
from ganaug.labels import LABELLERS
from ganaug.limits import SEED_MAX
from ganaug.runs.run_dir import RunDir
from ganaug.stages.augment import AugmentResult
from ganaug.stages.augment import augment as augment_stage
from ganaug.stages.compare import ClassifierSettings, CompareResult
from ganaug.stages.compare import compare as compare_stage
from ganaug.stages.compare.grid import MAX_SEEDS
from ganaug.stages.evaluate import Evaluation
from ganaug.stages.evaluate import evaluate as evaluate_stage
from ganaug.stages.fit.run import FitResult
from ganaug.stages.fit.run import fit as fit_stage
from ganaug.stages.wrap.arguments import (
    MAX_IMAGES,
    check_bool,
    check_choice,
    check_number,
    check_path,
    check_per_class,
    wrong_type,
)

Overrides = Mapping[str, Any] | Sequence[str]
"""{"section.key": value}, or "section.key=value" strings as `ganaug fit --set` takes them."""
RunLike = str | os.PathLike | RunDir | FitResult
"""A run folder from fit: its path, its RunDir, or the FitResult fit returned."""


def load_recipe(recipe: str | os.PathLike, overrides: Overrides = ()) -> Recipe:
    """A recipe read, overridden and validated, for fit or to inspect.

    Args:
        recipe: a built-in recipe name ("digits", "mnist5k", "cifar10", ...) or the path of a .toml file.
        overrides: {"section.key": value}, e.g. {"train.lr_g": 1e-4}, or "section.key=value" strings.

    Returns:
        The validated, immutable Recipe.

    Raises:
        ConfigError: an unknown recipe, a file that is not a recipe, or an invalid value.
    """
    return read_recipe(_recipe_path(recipe), _overrides(overrides))[0]


def fit(recipe: str | os.PathLike | Recipe | None, out: str | os.PathLike | None = None, *,
        overrides: Overrides = (), steps: int | None = None, seed: int | None = None,
        device: str | torch.device = "auto", resume: bool = False, progress: bool = True,
        dataset: Any = None) -> FitResult:
    """Train a (conditional) GAN on a data set's training split into a run folder, as `ganaug fit` does.

    Args:
        recipe: a built-in recipe name, the path of a .toml file, or a Recipe (see load_recipe); None only with
            resume=True, to continue with the run's own recipe.
        out: the run folder to create (or, with resume=True, to continue); None: runs/RECIPE-TIME.
        overrides: recipe values to change, as load_recipe takes them.
        steps: total training steps (train.steps); a resumed run continues up to this.
        seed: the training seed (train.seed).
        device: "auto" (the first GPU, else the CPU), "cpu", "cuda" or "cuda:N".
        resume: continue the run in `out` from its newest checkpoint.
        progress: show progress bars.
        dataset: a torchvision-style Dataset (items (image, int label), with `classes`) to train on instead of
            the recipe's data.source, passed to the fit stage as it is (see ganaug.stages.fit.run.fit).

    Returns:
        The FitResult: `run` (the RunDir), the `steps` trained and the last `checkpoint`.
    """
    resume, progress = check_bool("resume", resume), check_bool("progress", progress)
    out = None if out is None else check_path("out", out, what="the run folder to write")
    shortcuts: dict[str, int] = {}
    if steps is not None:
        shortcuts["train.steps"] = check_number("steps", steps, minimum=1, integer=True, meaning="training steps")
    if seed is not None:
        shortcuts["train.seed"] = _seed("seed", seed)
    overrides = _with(_overrides(overrides), shortcuts)
    device = _device(device)
    if recipe is None:
        if not resume or out is None:
            raise UsageError("recipe is None, which only resume=True with out (the run to continue) allows; pass a "
                             "recipe name, a .toml path or a Recipe")
        recipe = RunDir.open(out).config  # the run's own resolved recipe
    if isinstance(recipe, Recipe):
        config, name = _overridden(recipe, overrides), "recipe"
    else:
        config, name = read_recipe(_recipe_path(recipe), overrides)
    if out is None:
        if resume:
            raise UsageError("resume=True needs out, the run folder to continue")
        out = RunDir.default_path(name)
    given = {} if dataset is None else {"dataset": dataset}
    return fit_stage(config, out, device=device, resume=resume, progress=progress, **given)


def augment(run: RunLike, out: str | os.PathLike, *, count: int | None = None,
            per_class: int | Mapping[int | str, int] | None = None, balance: bool = False, labels: str | None = None,
            min_confidence: float | None = None, drop_worst: float | None = None, formats: Sequence[str] = ("csv",),
            seed: int = 0, checkpoint: str | int | None = None, device: str | torch.device = "auto",
            shard_size: int = 10_000, shard: str | None = None, progress: bool = True) -> AugmentResult:
    """Write a labelled synthetic set from a run's generator, as `ganaug augment` does.

    Args:
        run: the run, as fit made it (its path, RunDir or FitResult).
        out: the synthetic set's folder (must not exist yet).
        count: how many images; or give per_class or balance instead.
        per_class: images of each class: one number for every class, or {class name or index: number}.
        balance: top every class up to the largest class's count in the training split.
        labels: the labelling strategy (ganaug.labels.LABELLERS); None: conditional for conditional runs,
            else uniform. argmax and soft train the run's teacher if it has none yet.
        min_confidence: keep only images the teacher gives at least this probability for their class.
        drop_worst: leave out this fraction of the least realistic images.
        formats: the table as "csv" or "parquet"; "folder" also writes a class-per-folder PNG tree.
        seed: the seed of the images' noise.
        checkpoint: a step number, a checkpoint folder or "best"; None: the newest.
        device: "auto", "cpu", "cuda" or "cuda:N".
        shard_size: images per shard file.
        shard: "I/N" makes only the I-th of N shares of the images, into `out`.parts/ (`part` is then set and
            `synthetic` is that share); a call without it assembles the shares into `out`, making any missing.
        progress: show a progress bar.

    Returns:
        The AugmentResult: `synthetic` (the set, its `root` for SyntheticDataset or AugmentedDataset), the
        `teacher`'s record, how many images were `generated` and the `seconds` taken.
    """
    return augment_stage(
        _run_path(run), check_path("out", out, what="the synthetic set to write"),
        count=None if count is None else check_number("count", count, minimum=1, maximum=MAX_IMAGES, integer=True,
                                                      meaning="synthetic images"),
        per_class=None if per_class is None else check_per_class("per_class", per_class),
        balance=check_bool("balance", balance),
        labels=check_choice("labels", labels, LABELLERS.names(), optional=True, meaning="a labelling strategy"),
        min_confidence=None if min_confidence is None else check_number("min_confidence", min_confidence),
        drop_worst=None if drop_worst is None else check_number("drop_worst", drop_worst),
        formats=_texts("formats", formats, "['csv', 'folder']"), seed=_seed("seed", seed),
        checkpoint=_checkpoint(checkpoint), device=_device(device),
        shard_size=check_number("shard_size", shard_size, minimum=1, integer=True, meaning="images per shard"),
        shard=_shard(shard), progress=check_bool("progress", progress))


def evaluate(run: RunLike, *, checkpoint: str | int | None = None, count: int = 2000, features: str = "teacher",
             seed: int = 0, device: str | torch.device = "auto", progress: bool = True) -> Evaluation:
    """Measure a run's generator against its validation split, as `ganaug evaluate` does.

    Args:
        run: the run, as fit made it (its path, RunDir or FitResult).
        checkpoint: a step number, a checkpoint folder or "best"; None: the newest.
        count: images to generate and measure (20 to 100,000).
        features: the feature space: "teacher" (the run's), or "package.module:function" returning an nn.Module
            that maps uint8 images to N x D features.
        seed: the seed of the generated images and the metrics' sampling.
        device: "auto", "cpu", "cuda" or "cuda:N".
        progress: show progress bars.

    Returns:
        The Evaluation: its `report` (what RUN/evaluation/CHECKPOINT/metrics.json holds) and that `folder`.
    """
    if not isinstance(features, str):
        raise wrong_type("features", features, '"teacher" or "package.module:function"')
    return evaluate_stage(
        _run_path(run), checkpoint=_checkpoint(checkpoint),
        count=check_number("count", count, integer=True, meaning="images to generate and measure"),
        features=features, device=_device(device), seed=_seed("seed", seed), progress=check_bool("progress", progress))


def compare(run: RunLike, out: str | os.PathLike, *, synthetic: str | os.PathLike | AugmentResult | None = None,
            strategies: Sequence[str] = ("baseline", "classic", "uniform", "uniform+classic"),
            ratios: Sequence[float] = (0.5, 1, 2), seeds: int | Sequence[int] = 5, model: str = "small-cnn",
            epochs: int = 30, patience: int | None = None, schedule: str = "cosine",
            checkpoint: str | int | None = None, device: str | torch.device = "auto",
            progress: bool = True, jobs: int = 1, shard: str | None = None) -> CompareResult:
    """Train a classifier per strategy, ratio and seed on the run's split and report test accuracy, as
    `ganaug compare` does; a comparison stopped part-way continues when called again with the same `out`.

    Args:
        run: the run, as fit made it (its path, RunDir or FitResult).
        out: the results folder (runs.csv, summary.csv, summary.md, accuracy.png).
        synthetic: a set from augment (its path or AugmentResult) made from this run; None: one is generated.
        strategies: "baseline", a classical policy ("classic", "trivialaugment", "randaugment"), an imbalance fix
            ("oversample", "reweight"), "cas" (synthetic images only), any labelling strategy (with @USE for how
            its images are used: fresh, pretrain, confident, balance), or a combination with a policy (e.g.
            "uniform+classic", "soft@pretrain+classic", "oversample+trivialaugment"); `ganaug compare --help`
            lists them.
        ratios: synthetic images per real image.
        seeds: how many seeds (0 to n-1), or which; every strategy trains from the same ones.
        model: "small-cnn" or any timm model name.
        epochs: epochs per cell; the one with the best validation accuracy is kept.
        patience: stop a cell after this many epochs without a better validation accuracy; None: never.
        schedule: the learning rate over the epochs, "cosine" or "constant".
        checkpoint: the generator of the set compare makes (not with `synthetic`): a step, "best" (lowest
            validation FID) or None for the newest.
        device: "auto", "cpu", "cuda" or "cuda:N".
        progress: show progress bars.
        jobs: cells trained at once, each in a process of its own; the results do not depend on it.
        shard: "I/N" trains only the I-th of N fixed shares of the grid (no summary: `summary` is empty); a
            call without it over the same `out` merges the shards' cells and summarises.

    Returns:
        The CompareResult: `out`, `runs` (one row per cell) and `summary` (per strategy and ratio), as DataFrames.
    """
    if isinstance(synthetic, AugmentResult):
        synthetic = synthetic.synthetic.root
    elif synthetic is not None:
        synthetic = check_path("synthetic", synthetic, what="a synthetic set from ganaug.augment (or its result)")
    if isinstance(seeds, Sequence) and not isinstance(seeds, str):
        seeds = [_seed(f"seeds[{i}]", seed) for i, seed in enumerate(seeds)]
    else:
        seeds = check_number("seeds", seeds, minimum=1, maximum=MAX_SEEDS, integer=True, meaning="how many seeds",
                             hint="or pass the seeds themselves, e.g. [0, 1, 2]")
    if not isinstance(model, str):
        raise wrong_type("model", model, 'a classifier name, "small-cnn" or a timm model such as "resnet18"')
    check_choice("schedule", schedule, SCHEDULES, meaning="the learning-rate schedule")
    classifier = ClassifierSettings(
        model=model, epochs=check_number("epochs", epochs, minimum=1, integer=True, meaning="epochs per cell"),
        patience=None if patience is None else check_number("patience", patience, minimum=1, integer=True,
                                                            meaning="epochs without improvement"),
        schedule=schedule)
    ratios = [check_number(f"ratios[{i}]", ratio, meaning="synthetic images per real image")
              for i, ratio in enumerate(_sequence("ratios", ratios, "[0.5, 1, 2]"))]
    return compare_stage(_run_path(run), check_path("out", out, what="the results folder"), synthetic=synthetic,
                         strategies=_texts("strategies", strategies, "['baseline', 'uniform']"), ratios=ratios,
                         seeds=seeds, classifier=classifier, checkpoint=_checkpoint(checkpoint),
                         device=_device(device), progress=check_bool("progress", progress),
                         jobs=check_number("jobs", jobs, minimum=1, integer=True, meaning="processes"),
                         shard=_shard(shard))


def _recipe_path(recipe: Any) -> str:
    if isinstance(recipe, (str, os.PathLike)) and isinstance(os.fspath(recipe), str):
        return os.fspath(recipe)
    raise wrong_type("recipe", recipe, "a built-in recipe name, the path of a .toml file, or a Recipe",
                     "see ganaug.load_recipe")


def _overrides(overrides: Any) -> dict[str, Any] | list[str]:
    if isinstance(overrides, Mapping):
        for key in overrides:
            if not isinstance(key, str):
                raise wrong_type(f"overrides key {key!r}", key, 'a str "section.key", e.g. "train.lr_g"')
        return dict(overrides)
    return _texts("overrides", overrides, "['train.steps=500'], or a mapping {'train.steps': 500}")


def _with(overrides: dict[str, Any] | list[str], extra: dict[str, Any]) -> dict[str, Any] | list[str]:
    """`extra` ({"section.key": value}) added to overrides given in either form, after them (so it wins)."""
    if isinstance(overrides, dict):
        return {**overrides, **extra}
    return [*overrides, *(f"{key}={value}" for key, value in extra.items())]


def _overridden(recipe: Recipe, overrides: dict[str, Any] | list[str]) -> Recipe:
    if not overrides:
        return recipe
    raw = recipe.model_dump()
    return validate(raw, source="the Recipe passed to fit", overrides=apply_overrides(raw, overrides))


def _run_path(run: Any) -> Path:
    if isinstance(run, FitResult):
        return run.run.root
    if isinstance(run, RunDir):
        return run.root
    return check_path("run", run, what="a run folder from ganaug.fit (or the FitResult it returned)")


def _sequence(name: str, value: Any, example: str) -> list[Any]:
    """A list or tuple; a lone str is refused rather than read letter by letter."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise wrong_type(name, value, f"a sequence such as {example}")
    return list(value)


def _texts(name: str, value: Any, example: str) -> list[str]:
    items = _sequence(name, value, example)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise wrong_type(f"{name}[{i}]", item, f"a str (as in {example})")
    return items


def _seed(name: str, value: Any) -> int:
    seed = check_number(name, value, integer=True, meaning="a seed")
    if not 0 <= seed <= SEED_MAX:
        raise UsageError(f"{name} must be from 0 to {SEED_MAX}, not {seed}")
    return seed


def _checkpoint(checkpoint: Any) -> str | int | None:
    if checkpoint is None or isinstance(checkpoint, str):
        return checkpoint
    if isinstance(checkpoint, os.PathLike):
        return os.fspath(checkpoint)
    return check_number("checkpoint", checkpoint, minimum=0, integer=True, meaning="a step number",
                        hint='or pass a checkpoint folder, "best", or None for the newest')


def _shard(shard: Any) -> str | None:
    if shard is not None and not isinstance(shard, str):
        raise wrong_type("shard", shard, '"I/N", e.g. "2/4" for the second of four shares, or None')
    return shard


def _device(device: Any) -> str:
    if isinstance(device, torch.device):
        return str(device)
    if not isinstance(device, str):
        raise wrong_type("device", device, '"auto", "cpu", "cuda" or "cuda:N" (or a torch.device)')
    return device
