"""`fit`: train a GAN on a data source's training split into a run directory, resumably."""

from __future__ import annotations

import importlib.util
import platform
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ganaug import __version__
from ganaug.config import Recipe
from ganaug.data import ImagePool, InMemoryBatches, Split, load_pool, make_split
from ganaug.data.user import PYTHON
from ganaug.device import autocast_dtype, resolve_device
from ganaug.distributed import World, barrier, joined, rank_seed
from ganaug.errors import DataError, RunDirError, TrainingDiverged, UsageError
from ganaug.gan.ada import AdaptiveStrength
from ganaug.gan.diffaugment import DiffAugment
from ganaug.gan.ema import EmaGenerator
from ganaug.gan.lecam import LeCam
from ganaug.gan.loss_scaling import LossScalers
from ganaug.gan.losses import create_loss
from ganaug.gan.models import create_gan
from ganaug.gan.regularisers import create_regularisers
from ganaug.io import output_folder, write_text
from ganaug.pictures import fixed_noise
from ganaug.runs.checkpoint import GanParts, load_checkpoint
from ganaug.runs.run_dir import RunDir
from ganaug.runs.spec import gan_spec
from ganaug.seeding import seeded
from ganaug.stages.fit.evaluation import Evaluator
from ganaug.stages.fit.header import run_header
from ganaug.stages.fit.hooks import (
    Checkpointer,
    LossCurve,
    MetricsLog,
    ProgressBar,
    SampleGrids,
    TensorBoardLog,
    TimeEstimate,
)
from ganaug.stages.fit.step import GanStep
from ganaug.stages.fit.trainer import Hook, Trainer


@dataclass(frozen=True)
class FitResult:
    run: RunDir
    steps: int
    checkpoint: Path | None


def fit(recipe: Recipe, out: str | Path, *, dataset: object = None, device: str = "auto", resume: bool = False,
        progress: bool = True) -> FitResult:
    """Train (or with resume=True, continue) the recipe's GAN into the run directory `out`.

    dataset: a torchvision-style Dataset (items (PIL image or tensor, int label), with `classes`), or a
    (train, test) pair, trained on instead of recipe.data.source and split as usual; run.json records it as
    'python:<ClassName>'. The run keeps the decoded data (data/), so later commands need no source; resuming
    such a run needs the dataset again.

    Everything that can fail on bad input happens before anything is written. The run directory is
    locked while training; a new run that fails before its first checkpoint is removed again.
    """
    out, world = Path(out), World.from_environment()
    _check_world(recipe, world)
    _check_tensorboard(recipe)
    with joined(world, resolve_device(device)) as torch_device:  # torchrun: this process's device, group up
        return _fit(recipe, out, dataset, world, torch_device, device, resume, progress)


def _fit(recipe: Recipe, out: Path, dataset: object, world: World, torch_device: torch.device, device: str,
         resume: bool, progress: bool) -> FitResult:
    """Every rank checks the input; rank 0 alone sets the run up and writes to it, the others train beside it."""
    if resume:
        _check_resumable(RunDir.open(out), dataset)  # fails fast on a wrong path, before the data is read
    else:
        RunDir.check_new(out)
    pool = load_pool(recipe.data, dataset)
    _check_data(recipe, pool)
    barrier()  # every rank has checked `out` before rank 0 creates it
    if not world.is_main:
        barrier()  # rank 0 has set the run up
        run = RunDir.open(out)
        return _train(run, recipe, pool, run.load_split(), torch_device, resume, {}, False, world)
    resumable = lambda: RunDir(out).latest_checkpoint() is not None  # noqa: E731 - then worth keeping on failure
    with output_folder(out, what="run directory", keep_on_error=resumable):
        if resume:
            run, changed = _open_resumed(out, recipe)
            split = _resumed_split(run, pool, recipe)
        else:
            RunDir.check_new(out)  # again, now that this process holds the folder
            split, changed = _make_split(pool, recipe), {}
            run = RunDir.create(out, recipe)
            split.save(run.split)
        run.keep_data(pool)  # later commands (and this one's evaluation) read this, not the source
        if progress:
            precision = autocast_dtype(recipe.train.precision, torch_device)
            for line in run_header(recipe, pool, split, torch_device, device, precision, world.size):
                tqdm.write(line)
        barrier()
        return _train(run, recipe, pool, split, torch_device, resume, changed, progress, world)


def _train(run: RunDir, recipe: Recipe, pool: ImagePool, split: Split, device: torch.device, resume: bool,
           changed: dict, progress: bool, world: World) -> FitResult:
    parts = build_parts(recipe, pool, device)
    train = torch.tensor(split.train)
    batches = InMemoryBatches(pool.images[train].to(device), pool.labels[train].to(device),
                              recipe.train.batch_size // world.size, recipe.train.seed, recipe.train.channels_last,
                              recipe.train.class_balance)
    start, continued = 0, world.is_main
    checkpoint = run.latest_checkpoint() if resume else None
    if checkpoint is not None:
        start, continued = load_checkpoint(checkpoint, parts, batches, world.rank, world.size)
        for opt, lr in ((parts.opt_g, recipe.train.lr_g), (parts.opt_d, recipe.train.lr_d)):
            for group in opt.param_groups:  # a resume may lower the learning rates (after a divergence)
                group["lr"] = lr
    if not continued:  # a start, or a resume on another number of processes than wrote the checkpoint
        rank_streams(parts, batches, recipe.train.seed + start, world)
    if world.is_main:
        run.truncate_logs(start)
        _record_session(run, recipe, pool, device, changed, world)  # only once nothing on the input can fail

    step = build_step(recipe, parts, batches, device)
    hooks = _hooks(run, recipe, pool, parts, batches, progress, world)
    log = recipe.log  # rank 0's hooks flush on these schedules; every rank does, for the same collectives
    trainer = Trainer(step, recipe.train.steps, hooks, log.every, start, recipe.train.batch_size,
                      flush_at=(log.sample_every, log.checkpoint_every, recipe.eval.every))
    try:
        trainer.fit()
    except TrainingDiverged as e:
        raise TrainingDiverged(f"{e}; {_divergence_advice(run, recipe)}") from None
    return FitResult(run, trainer.step, run.latest_checkpoint())


def _hooks(run: RunDir, recipe: Recipe, pool: ImagePool, parts: GanParts, batches: InMemoryBatches,
           progress: bool, world: World) -> list[Hook]:
    """Rank 0 writes everything; the other ranks only hand the checkpointer their random streams."""
    log, classes = recipe.log, pool.num_classes if recipe.model.conditional else 0
    checkpointer = Checkpointer(run, parts, batches, log.checkpoint_every, log.keep_checkpoints, world)
    if not world.is_main:
        return [checkpointer]
    noise, labels = fixed_noise(classes, log.grid_columns, recipe.model.z_dim, recipe.train.seed)
    row_names = None if labels is None else [pool.class_names[i] for i in labels[::log.grid_columns].tolist()]
    hooks: list[Hook] = [ProgressBar(), TimeEstimate()] if progress else []
    hooks += [
        MetricsLog(run),
        SampleGrids(run, parts, noise, labels, log.grid_columns, log.sample_every, row_names),
        LossCurve(run, log.checkpoint_every),
        checkpointer,
    ]
    if log.tensorboard:  # last: it reads what the others wrote
        hooks.append(TensorBoardLog(run, log.sample_every, recipe.eval.every))
    if recipe.eval.every:  # first, so the teacher it may train shows its progress before the fit bar starts
        hooks.insert(0, Evaluator(run, parts, recipe.eval.every, recipe.eval.count, classes, recipe.model.z_dim,
                                  recipe.train.seed, progress))
    return hooks


def _divergence_advice(run: RunDir, recipe: Recipe) -> str:
    last = run.latest_checkpoint()
    lower = f"--set train.lr_g={recipe.train.lr_g / 10:g} --set train.lr_d={recipe.train.lr_d / 10:g}"
    if last is None:
        return f"no checkpoint was written, so nothing was kept; start again with lower learning rates ({lower})"
    return (f"the last good checkpoint, {last}, is intact: continue from it with lower learning rates, "
            f"ganaug fit --resume --out {run.root} {lower}")


def build_parts(recipe: Recipe, pool: ImagePool, device: torch.device) -> GanParts:
    """Models initialised from train.seed, optimisers, the training step's own random stream, the spec, the
    LeCam and ADA state (off unless the recipe turns them on) and fp16's loss scalers."""
    t = recipe.train
    spec = gan_spec(recipe, pool.channels, pool.image_size, pool.num_classes)
    memory_format = torch.channels_last if t.channels_last else torch.contiguous_format
    with seeded(t.seed):
        G, D = create_gan(recipe.model.name, spec)
        G, D = G.to(device, memory_format=memory_format), D.to(device, memory_format=memory_format)
    betas = (t.beta1, t.beta2)
    ema = EmaGenerator(G, t.ema_decay, spec.z_dim, spec.num_classes)
    return GanParts(G, D, ema, torch.optim.Adam(G.parameters(), t.lr_g, betas=betas),
                    torch.optim.Adam(D.parameters(), t.lr_d, betas=betas),
                    torch.Generator(device).manual_seed(t.seed), spec, LeCam(recipe.loss.lecam_weight, device),
                    AdaptiveStrength(t.ada_target, t.ada_interval, t.ada_kimg, device),
                    LossScalers(device.type, enabled=autocast_dtype(t.precision, device) == torch.float16))


def build_step(recipe: Recipe, parts: GanParts, batches: InMemoryBatches, device: torch.device) -> GanStep:
    """The recipe's training iteration over these models and batches."""
    return GanStep(parts, create_loss(recipe.loss.name, recipe.loss.gp_weight, recipe.loss.clip), batches,
                   DiffAugment(recipe.train.diffaugment_policies, parts.rng, parts.ada.strength), recipe.train.d_steps,
                   recipe.model.ac_weight, autocast_dtype(recipe.train.precision, device),
                   create_regularisers(recipe.model.g_regularisers), recipe.train.compile)


def rank_streams(parts: GanParts, batches: InMemoryBatches, seed: int, world: World) -> None:
    """Ranks other than 0 draw their own noise and batches (rank 0 keeps what it has: one process is unchanged)."""
    if not world.is_main:
        own = rank_seed(seed, world.rank)
        parts.rng.manual_seed(own)
        batches.reseed(own)


RESUMABLE_CHANGES = ("train.steps", "train.lr_g", "train.lr_d")
"""What a resume may change: the length of the run, and the learning rates (e.g. lowered after a divergence)."""


def _open_resumed(out: Path, recipe: Recipe) -> tuple[RunDir, dict[str, list]]:
    """The run to continue, and what this resume changes ({'train.lr_d': [old, new]}); any other change is refused."""
    run = RunDir.open(out)
    saved, wanted = run.load_recipe().model_dump(), recipe.model_dump()
    changed = {}
    for section, values in wanted.items():
        for key, value in (values.items() if isinstance(values, dict) else [("", values)]):
            old = saved[section][key] if key else saved[section]
            name = f"{section}.{key}" if key else section
            if old == value:
                continue
            if name not in RESUMABLE_CHANGES:
                raise RunDirError(f"cannot resume {str(out)!r}: {name} is {value!r} here but {old!r} in the run; "
                                  f"resume with the run's recipe (only {', '.join(RESUMABLE_CHANGES)} may change) "
                                  "or start a new --out")
            changed[name] = [old, value]
    return run, changed


def _check_resumable(run: RunDir, dataset: object) -> None:
    """A run trained on a Python Dataset is resumed with that dataset: no recipe can read it again."""
    recorded = run.recorded_source()
    if dataset is None and recorded is not None and recorded.startswith(f"{PYTHON}:"):
        raise RunDirError(f"cannot resume {str(run.root)!r}: it was trained on a Python Dataset ({recorded}); "
                          "resume it in Python with fit(recipe, out, resume=True, dataset=...)")


def _make_split(pool: ImagePool, recipe: Recipe) -> Split:
    d = recipe.data
    return make_split(pool, d.val_fraction, d.test_fraction, d.train_per_class, d.split_seed, d.imbalance_ratio)


def _resumed_split(run: RunDir, pool: ImagePool, recipe: Recipe) -> Split:
    if not run.split.is_file():  # stopped before the split was written: nothing trained on it yet
        split = _make_split(pool, recipe)
        split.save(run.split)
        return split
    split = run.load_split()
    if split.fingerprint != pool.fingerprint():
        raise RunDirError(f"the data under {recipe.data.source} changed since {run.root} was started "
                          "(fingerprint mismatch); restore it or start a new run")
    split.check(pool, run.split)
    return split


def _check_tensorboard(recipe: Recipe) -> None:
    if recipe.log.tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise UsageError("log.tensorboard = true needs the tensorboard package: pip install 'ganaug[tensorboard]' "
                         "(or set log.tensorboard = false)")


def _check_world(recipe: Recipe, world: World) -> None:
    """train.batch_size is the global batch: each of the world's processes takes an equal share of it."""
    if recipe.train.batch_size % world.size:
        raise UsageError(f"train.batch_size {recipe.train.batch_size} does not split evenly over {world.size} "
                         f"processes; use a multiple of {world.size} (--set train.batch_size=...) or another "
                         "--nproc_per_node")


def _check_data(recipe: Recipe, pool: ImagePool) -> None:
    """What the recipe asks of the data: a conditional GAN needs classes to condition on."""
    if recipe.model.conditional and pool.num_classes < 2:
        raise DataError(f"{pool.source} has one class ({pool.class_names[0]!r}), so a conditional GAN has nothing to "
                        "condition on; add class folders, or set model.conditional = false")


def _record_session(run: RunDir, recipe: Recipe, pool: ImagePool, device: torch.device, changed: dict,
                    world: World) -> None:
    """run.json: the data's facts and this session (with what a resume changed); config.toml: the recipe now."""
    info = run.read_info()
    info["data"] = {"source": pool.source, "classes": pool.class_names, "channels": pool.channels,
                    "image_size": pool.image_size, "fingerprint": pool.fingerprint(),
                    "skipped": list(pool.skipped), "unreadable": list(pool.unreadable)}
    info.setdefault("sessions", []).append({
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv, "steps": recipe.train.steps, "lr_g": recipe.train.lr_g, "lr_d": recipe.train.lr_d,
        "changed": changed, "device": str(device),
        "precision": str(autocast_dtype(recipe.train.precision, device) or torch.float32).replace("torch.", ""),
        "ganaug": __version__, "torch": torch.__version__, "python": platform.python_version(),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads", "processes": world.size,
    })
    run.write_info(info)
    if changed:
        write_text(run.config, recipe.to_toml())
