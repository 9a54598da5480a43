"""`log.tensorboard = true`: the losses, D scores, evaluations and sample grids in RUN_DIR/tensorboard."""

import importlib.util

import pytest
from conftest import TINY
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ganaug.config import load_recipe
from ganaug.errors import UsageError
from ganaug.stages.fit.run import fit


def recipe(steps: int, **extra: str):
    settings = dict(TINY, **{"train.steps": str(steps), "log.every": "5", "log.sample_every": "10",
                             "log.checkpoint_every": "10", "eval.every": "10", "eval.count": "40",
                             "log.tensorboard": "true", "model.conditional": "true"}, **extra)
    return load_recipe("digits", [f"{k}={v}" for k, v in settings.items()])[0]


def events(run) -> EventAccumulator:
    return EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0, "images": 0}).Reload()


def test_a_run_writes_losses_evaluations_and_grids_and_a_resume_continues_them(tmp_path):
    run = fit(recipe(20), tmp_path / "r", device="cpu", progress=False).run.root
    seen = events(run)
    assert {"train/loss_d", "train/loss_g", "train/d_real", "train/d_fake", "eval/fid", "eval/recall"} <= set(
        seen.Tags()["scalars"])
    assert [e.step for e in seen.Scalars("train/loss_d")] == list(range(1, 21))
    assert [e.step for e in seen.Scalars("eval/fid")] == [10, 20]
    assert [e.step for e in seen.Images("samples")] == [10, 20]
    assert seen.Images("samples")[0].width > 16

    fit(recipe(30), tmp_path / "r", device="cpu", progress=False, resume=True)
    steps = [e.step for e in events(run).Scalars("train/loss_d")]
    assert steps == list(range(1, 31))  # continued, each step once


def test_without_the_package_it_says_what_to_install_before_writing_anything(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(UsageError, match=r"pip install 'ganaug\[tensorboard\]'"):
        fit(recipe(10), tmp_path / "r", device="cpu", progress=False)
    assert not (tmp_path / "r").exists()
