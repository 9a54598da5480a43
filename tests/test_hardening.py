"""Defects a hostile test battery found in fit and augment, each pinned by a test that fails without its fix."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
import tomllib
import torch
from safetensors.torch import load_file

from ganaug.config import load_recipe, validate
from ganaug.errors import RunDirError
from ganaug.io import new_folder, output_folder, remove_stale_temporaries
from ganaug.stages.augment import augment
from ganaug.stages.fit.run import fit
from ganaug.stages.fit.step import GanStep

EVALUATED = {"train.steps": "10", "log.checkpoint_every": "5", "log.sample_every": "5", "eval.every": "5",
             "eval.count": "40", "model.conditional": "true"}


def _recipe(tiny_overrides, **extra):
    return load_recipe("digits", tiny_overrides(**extra))[0]


def _rows(run: Path, name: str = "metrics.jsonl") -> list[dict]:
    rows = [json.loads(line) for line in (run / name).read_text().splitlines()]
    return [{k: v for k, v in row.items() if k != "images_per_s"} for row in rows]


# ---------------------------------------------------------------- 11: no component touches the global RNG


def test_resume_is_exact_when_killed_after_the_teacher_but_before_a_checkpoint(tmp_path, tiny_overrides):
    recipe = _recipe(tiny_overrides, **{k.replace(".", "__"): v for k, v in EVALUATED.items()})
    whole = fit(recipe, tmp_path / "whole", device="cpu", progress=False).run.root
    # A run killed after fit trained its teacher (at the first evaluation's start) and before step 5's checkpoint:
    killed = Path(shutil.copytree(whole, tmp_path / "killed"))
    for leftover in ("checkpoints", "samples", "evaluation"):
        shutil.rmtree(killed / leftover, ignore_errors=True)
    for log in ("metrics.jsonl", "evaluations.jsonl"):
        (killed / log).unlink()
    assert (killed / "teacher" / "teacher.json").is_file()
    torch.manual_seed(12345)  # whatever the caller's global RNG holds must not matter either
    fit(recipe, killed, device="cpu", resume=True, progress=False)
    assert _rows(killed) == _rows(whole)
    for name in ("generator", "discriminator", "ema_generator"):
        a, b = (load_file(r / "checkpoints" / "step_0000010" / f"{name}.safetensors") for r in (whole, killed))
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_training_leaves_the_global_rng_alone(tmp_path, tiny_overrides):
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    fit(_recipe(tiny_overrides, train__steps=3), tmp_path / "r", device="cpu", progress=False)
    assert torch.equal(torch.rand(3), expected)


# ---------------------------------------------------------------- 10: divergence


def test_a_nan_is_caught_before_any_sample_grid_even_with_a_rare_log_flush(tmp_path, cli, tiny_args, cli_error,
                                                                         break_loss):
    break_loss(3, "loss_d", float("inf"))
    out = tmp_path / "run"
    result = cli(["fit", "digits", "--out", out, "--steps", 20,
                  *tiny_args(log__every=50, log__sample_every=3, log__checkpoint_every=2)])
    message = cli_error(result)
    assert "loss_d became inf at step 3" in message
    assert not (out / "samples" / "step_0000003.png").exists(), "no grid drawn from a diverged step"
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step_0000002"]


def test_non_finite_buffers_are_never_checkpointed(tmp_path, cli, tiny_args, cli_error, monkeypatch):
    """Batch-norm running statistics are not parameters, but a checkpoint with inf in them is as broken."""
    original = GanStep.__call__

    def step(self):
        out = original(self)
        if self.parts.ema.updates == 3:
            buffer = next(b for n, b in self.parts.generator.named_buffers() if "running_var" in n)
            buffer.fill_(float("inf"))
        return out

    monkeypatch.setattr(GanStep, "__call__", step)
    out = tmp_path / "run"
    message = cli_error(cli(["fit", "digits", "--out", out, "--steps", 10, *tiny_args(log__checkpoint_every=2)]))
    assert "running_var is not finite at step 4" in message
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step_0000002"]


def test_resume_may_lower_the_learning_rates_and_run_json_records_it(tmp_path, cli, tiny_args):
    out = tmp_path / "run"
    assert cli(["fit", "digits", "--out", out, "--steps", 4, *tiny_args(log__checkpoint_every=2)]).exit_code == 0
    result = cli(["fit", "digits", "--out", out, "--resume", "--steps", 6,
                  *tiny_args(log__checkpoint_every=2, train__lr_d="2e-05")])
    assert result.exit_code == 0, result.output
    sessions = json.loads((out / "run.json").read_text())["sessions"]
    assert sessions[-1]["changed"] == {"train.lr_d": [0.0002, 2e-05], "train.steps": [4, 6]}
    assert sessions[-1]["lr_d"] == 2e-05 and sessions[0]["lr_d"] == 0.0002
    assert validate(tomllib.loads((out / "config.toml").read_text())).train.lr_d == 2e-05
    state = json.loads((out / "checkpoints" / "step_0000006" / "state.json").read_text())
    assert state["optimizers"]["opt_d"]["param_groups"][0]["lr"] == 2e-05


def test_a_failed_resume_records_no_session(tmp_path, cli, tiny_args):
    out = tmp_path / "run"
    assert cli(["fit", "digits", "--out", out, "--steps", 2, *tiny_args(log__checkpoint_every=2)]).exit_code == 0
    (out / "checkpoints" / "step_0000002" / "state.json").write_text("{}")
    assert cli(["fit", "digits", "--out", out, "--resume", "--steps", 4,
                *tiny_args(log__checkpoint_every=2)]).exit_code == 2
    assert len(json.loads((out / "run.json").read_text())["sessions"]) == 1


def test_a_new_run_that_fails_before_its_first_checkpoint_leaves_nothing(tmp_path, cli, tiny_args, break_loss):
    break_loss(2)
    out = tmp_path / "deep" / "run"
    assert cli(["fit", "digits", "--out", out, "--steps", 5, *tiny_args()]).exit_code == 2
    assert list(tmp_path.iterdir()) == [], "the run directory and the parent made for it are removed"


# ---------------------------------------------------------------- 1: names from data never leave their folder


def test_class_names_that_are_paths_stay_inside_the_exported_folder(tmp_path, run_copy):
    run = run_copy("conditional")
    evil = ["../../escaped", "/tmp/abs", ".", "..", "a/b", "ok", "ok", "x", "y", "z"]
    for name, key in (("run.json", "data"), ("split.json", None)):
        data = json.loads((run / name).read_text())
        (data[key] if key else data)["classes"] = evil
        (run / name).write_text(json.dumps(data))
    with pytest.raises(RunDirError, match="class names repeat"):  # run.json holds two "ok" classes
        augment(run, tmp_path / "out" / "s", count=20, formats=("folder",), progress=False)
    evil[6] = "ok2"
    for name, key in (("run.json", "data"), ("split.json", None)):
        data = json.loads((run / name).read_text())
        (data[key] if key else data)["classes"] = evil
        (run / name).write_text(json.dumps(data))
    synthetic = augment(run, tmp_path / "out" / "s", count=20, formats=("folder",), progress=False).synthetic
    folders = sorted(p.name for p in (synthetic.root / "folder").iterdir())
    assert folders == sorted(synthetic.manifest["folder_names"])
    assert all("/" not in f and f not in (".", "..") for f in folders)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["s"] and not Path("/tmp/abs").exists()
    assert not list(tmp_path.rglob("escaped")) and not (tmp_path.parent / "escaped").exists()
    assert len(list((synthetic.root / "folder").rglob("*.png"))) == 20


# ---------------------------------------------------------------- 12: permissions


def test_weights_follow_the_umask_like_every_other_file(tmp_path, tiny_overrides, umask_022):
    run = fit(_recipe(tiny_overrides, train__steps=2), tmp_path / "r", device="cpu", progress=False).run.root
    files = list(run.rglob("*.safetensors"))
    assert files and {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o644}


# ---------------------------------------------------------------- the output-folder primitives


def test_output_folder_is_exclusive_and_cleans_up_what_it_created(tmp_path):
    from ganaug.errors import OutputError

    out = tmp_path / "a" / "b"
    with output_folder(out) as held:
        assert held == out and out.is_dir()
        with pytest.raises(OutputError, match="another ganaug process"), output_folder(out):
            pass
        (out / "half.txt").write_text("x")
    assert out.is_dir()  # success keeps it
    with pytest.raises(RuntimeError), output_folder(tmp_path / "c" / "d"):
        (tmp_path / "c" / "d" / "half.txt").write_text("x")
        raise RuntimeError("failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"], "what the failed call created is gone"


def test_output_folder_made_by_another_process_meanwhile_is_shared_not_refused(tmp_path, monkeypatch):
    """torchrun ranks open one parts folder at once (wait=True): the rank whose mkdir loses the race must wait
    its turn, not stop with "cannot create", and must not remove, on an error, a folder the other rank made."""
    out, real_mkdir = tmp_path / "synth.parts", Path.mkdir

    def other_rank_first(self, *args, **kwargs):
        if self == out and not self.exists():
            real_mkdir(self)  # the other rank, between this one's check and its mkdir
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", other_rank_first)
    with pytest.raises(RuntimeError, match="this rank failed"), output_folder(out, wait=True) as held:
        assert held == out
        raise RuntimeError("this rank failed")
    assert out.is_dir(), "the folder another process made is not removed"


def test_stale_temporaries_of_dead_processes_are_removed_live_ones_kept(tmp_path):
    dead = tmp_path / ".x.999999999-0123456789abcdef.tmp"  # no such pid
    legacy = tmp_path / "sub" / ".y.0123456789abcdef.tmp"  # written before temporaries named their process
    mine = tmp_path / f".z.{os.getpid()}-0123456789abcdef.tmp"
    for path in (dead, legacy, mine):
        path.parent.mkdir(exist_ok=True)
        path.write_text("x")
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted([dead, legacy])
    assert mine.exists()


def test_new_folder_never_replaces_a_finished_one(tmp_path):
    from ganaug.errors import OutputError

    target = tmp_path / "set"
    with pytest.raises(OutputError, match="appeared"), new_folder(target) as tmp:
        (tmp / "mine").write_text("x")
        target.mkdir()
        (target / "theirs").write_text("y")  # someone finished the same set meanwhile
    assert [p.name for p in target.iterdir()] == ["theirs"]
    assert [p.name for p in tmp_path.iterdir()] == ["set"]


def test_garbage_lines_in_the_metrics_log_lose_rows_not_the_run(tmp_path, cli, tiny_args):
    out = tmp_path / "run"
    assert cli(["fit", "digits", "--out", out, "--steps", 4, *tiny_args(log__checkpoint_every=2)]).exit_code == 0
    lines = (out / "metrics.jsonl").read_text().splitlines()
    garbage = ["not json", "[1, 2]", '{"step": "x"}', '{"loss_d": 1.0}', '{"step": 2.5}', '{"step": 3, "x": NaN}']
    (out / "metrics.jsonl").write_text("\n".join(lines[:2] + garbage + lines[2:]) + "\n")
    result = cli(["fit", "digits", "--out", out, "--resume", "--steps", 6, *tiny_args(log__checkpoint_every=2)])
    assert result.exit_code == 0, result.output
    assert [row["step"] for row in _rows(out)] == [1, 2, 3, 4, 5, 6]
