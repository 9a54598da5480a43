"""`fit`: train a GAN on a data source's training split into a run directory, resumably."""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

from ganaug import __version__
from ganaug.config import Recipe
from ganaug.data import InMemoryBatches, ImagePool, Split, load_pool, make_split
from ganaug.errors import RunDirError, TrainingDiverged
from ganaug.fit.device import autocast_dtype, resolve_device
from ganaug.fit.checkpoint import load_checkpoint
from ganaug.fit.evaluation import Evaluator
from ganaug.fit.hooks import Checkpointer, LossCurve, MetricsLog, ProgressBar, SampleGrids
from ganaug.fit.pictures import fixed_noise
from ganaug.fit.run_dir import RunDir
from ganaug.fit.step import GanParts, GanStep
from ganaug.fit.trainer import Trainer
from ganaug.gan.diffaugment import DiffAugment
from ganaug.gan.ema import EmaGenerator
from ganaug.gan.losses import create_loss
from ganaug.gan.models import GanSpec, create_gan


@dataclass(frozen=True)
class FitResult:
    run: RunDir
    steps: int
    checkpoint: Path | None


def fit(recipe: Recipe, out: Path, *, device: str = "auto", resume: bool = False, progress: bool = True) -> FitResult:
    """Train (or with resume=True, continue) the recipe's GAN into the run directory `out`."""
    torch_device = resolve_device(device)
    if resume:
        run = _open_resumed(out, recipe)
        pool = load_pool(recipe.data)
        split = _resumed_split(run, pool, recipe)
    else:  # everything that can fail on bad input happens before the run directory exists
        RunDir.check_new(out)
        pool = load_pool(recipe.data)
        split = _make_split(pool, recipe)
        run = RunDir.create(out, recipe)
        split.save(run.split)
    _record_session(run, recipe, pool, torch_device)

    torch.manual_seed(recipe.train.seed)
    parts = build_parts(recipe, pool, torch_device)
    train = torch.tensor(split.train)
    batches = InMemoryBatches(pool.images[train].to(torch_device), pool.labels[train].to(torch_device),
                              recipe.train.batch_size, recipe.train.seed, recipe.train.channels_last)
    start = 0
    checkpoint = run.latest_checkpoint() if resume else None
    if checkpoint is not None:
        start = load_checkpoint(checkpoint, parts, batches)
    run.truncate_logs(start)

    step = GanStep(parts, create_loss(recipe.loss.name, recipe.loss.gp_weight, recipe.loss.clip), batches,
                   DiffAugment(recipe.train.diffaugment_policies), recipe.train.d_steps, recipe.model.ac_weight,
                   autocast_dtype(recipe.train.precision, torch_device))
    noise, labels = fixed_noise(pool.num_classes if recipe.model.conditional else 0, recipe.log.grid_columns,
                                recipe.model.z_dim, recipe.train.seed)
    log = recipe.log
    hooks = [ProgressBar()] if progress else []
    hooks += [
        MetricsLog(run),
        SampleGrids(run, parts, noise, labels, log.grid_columns, log.sample_every),
        LossCurve(run, log.checkpoint_every),
        Checkpointer(run, parts, batches, log.checkpoint_every, log.keep_checkpoints),
    ]
    if recipe.eval.every:  # first, so the teacher it may train shows its progress before the fit bar starts
        hooks.insert(0, Evaluator(run, parts, recipe.eval.every, recipe.eval.count,
                                  pool.num_classes if recipe.model.conditional else 0, recipe.model.z_dim,
                                  recipe.train.seed, progress))
    trainer = Trainer(step, recipe.train.steps, hooks, log.every, start, recipe.train.batch_size)
    try:
        trainer.fit()
    except TrainingDiverged as e:
        last = run.latest_checkpoint()
        where = f"the last good checkpoint, {last}, is intact" if last else "no checkpoint was written yet"
        raise TrainingDiverged(f"{e}; {where}. Lower train.lr_d / train.lr_g or try loss.name = 'hinge', then --resume") from None
    return FitResult(run, trainer.step, run.latest_checkpoint())


def gan_spec(recipe: Recipe, channels: int, image_size: int, num_classes: int) -> GanSpec:
    """The architecture a recipe asks for, on data of this shape (num_classes: the data's classes)."""
    m = recipe.model
    return GanSpec(
        channels=channels, image_size=image_size, num_classes=num_classes if m.conditional else 0,
        z_dim=m.z_dim, g_width=m.g_width, d_width=m.d_width, d_norm=recipe.d_norm,
        spectral_norm=m.spectral_norm, aux_classifier=m.ac_weight > 0,
    )


def build_parts(recipe: Recipe, pool: ImagePool, device: torch.device) -> GanParts:
    t = recipe.train
    spec = gan_spec(recipe, pool.channels, pool.image_size, pool.num_classes)
    memory_format = torch.channels_last if t.channels_last else torch.contiguous_format
    G, D = (net.to(device, memory_format=memory_format) for net in create_gan(recipe.model.name, spec))
    betas = (t.beta1, t.beta2)
    return GanParts(G, D, EmaGenerator(G, t.ema_decay), torch.optim.Adam(G.parameters(), t.lr_g, betas=betas),
                    torch.optim.Adam(D.parameters(), t.lr_d, betas=betas))


def _open_resumed(out: Path, recipe: Recipe) -> RunDir:
    run = RunDir.open(out)
    saved = run.load_recipe().model_dump()
    wanted = recipe.model_dump()
    saved["train"].pop("steps"), wanted["train"].pop("steps")
    for section, values in wanted.items():
        for key, value in (values.items() if isinstance(values, dict) else [("", values)]):
            old = saved[section][key] if key else saved[section]
            if old != value:
                name = f"{section}.{key}" if key else section
                raise RunDirError(f"cannot resume {str(out)!r}: {name} is {value!r} here but {old!r} in the run; "
                                  "resume with the run's recipe (only --steps may change) or start a new --out")
    return run


def _make_split(pool: ImagePool, recipe: Recipe) -> Split:
    d = recipe.data
    return make_split(pool, d.val_fraction, d.test_fraction, d.train_per_class, d.split_seed)


def _resumed_split(run: RunDir, pool: ImagePool, recipe: Recipe) -> Split:
    if not run.split.is_file():  # stopped before the split was written: nothing trained on it yet
        split = _make_split(pool, recipe)
        split.save(run.split)
        return split
    split = Split.load(run.split)
    if split.fingerprint != pool.fingerprint():
        raise RunDirError(f"the data under {recipe.data.source} changed since {run.root} was started "
                          "(fingerprint mismatch); restore it or start a new run")
    return split


def _record_session(run: RunDir, recipe: Recipe, pool: ImagePool, device: torch.device) -> None:
    info = run.read_info()
    info["data"] = {"source": pool.source, "classes": pool.class_names, "channels": pool.channels,
                    "image_size": pool.image_size, "fingerprint": pool.fingerprint()}
    info.setdefault("sessions", []).append({
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv, "steps": recipe.train.steps, "device": str(device),
        "precision": str(autocast_dtype(recipe.train.precision, device) or torch.float32).replace("torch.", ""),
        "ganaug": __version__, "torch": torch.__version__, "python": platform.python_version(),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
    })
    run.write_info(info)
