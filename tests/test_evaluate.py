"""`ganaug evaluate`, fit's evaluation hook and the best checkpoint: outputs, split hygiene, resume, offline."""

import json
import socket
import textwrap

import pytest
import torch

from ganaug.augment import augment
from ganaug.config import load_recipe
from ganaug.evaluate import measure as measure_module
from ganaug.fit.run import fit
from ganaug.fit.run_dir import RunDir

TINY = {"model.g_width": "8", "model.d_width": "8", "model.z_dim": "16", "data.image_size": "16",
        "train.batch_size": "16", "model.conditional": "true", "log.sample_every": "10"}


def test_evaluate_writes_metrics_summary_and_pictures(cli, run_copy):
    run = run_copy("conditional")
    result = cli(["evaluate", run, "--count", 200])
    assert result.exit_code == 0, result.output
    folder = run / "evaluation" / "step_0000020"
    metrics = json.loads((folder / "metrics.json").read_text())
    for key in ("fid", "kid", "precision", "recall", "density", "coverage"):
        assert key in metrics and metrics[key] == metrics[key]  # present and not NaN
    sanity = metrics["sanity"]
    assert sanity["fid_validation_halves"] < sanity["fid_shuffled_pixels"]  # the metric separates real from noise
    assert len(metrics["label_agreement"]["per_class"]) == len(metrics["per_class_fid"]) == 10
    assert 0 <= metrics["memorisation"]["generated_near_copy_fraction"] <= 1
    for picture in ("samples.png", "closest_pairs.png", "per_class.png"):
        assert (folder / picture).stat().st_size > 0
    assert "FID" in (folder / "summary.md").read_text() and "FID" in result.output


def test_unconditional_runs_have_no_label_agreement(run_copy):
    from ganaug.evaluate import evaluate

    metrics = evaluate(run_copy("unconditional"), count=50, progress=False).metrics
    assert "label_agreement" not in metrics and "per_class_fid" not in metrics


def test_evaluation_measures_against_validation_and_never_sees_the_test_split(run_copy, monkeypatch):
    from ganaug.evaluate import evaluate

    run = RunDir(run_copy("conditional"))
    pool, split = run.load_data()
    test_rows = {tuple(img.flatten().tolist()) for img in pool.images[torch.tensor(split.test)]}
    val = pool.images[torch.tensor(split.val)]
    embedded = []
    real_embed = measure_module.embed
    monkeypatch.setattr(measure_module, "embed", lambda ex, images: embedded.append(images) or real_embed(ex, images))
    evaluate(run.root, count=40, progress=False)
    assert any(torch.equal(images, val) for images in embedded)
    seen = {tuple(img.flatten().tolist()) for images in embedded for img in images}
    assert not seen & test_rows


def test_nothing_is_downloaded(run_copy, monkeypatch):
    from ganaug.evaluate import evaluate

    def refuse(*args, **kwargs):
        raise AssertionError("evaluate tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    evaluate(run_copy("conditional"), count=40, progress=False)


def test_a_user_feature_module_replaces_the_teacher(cli, run_copy, tmp_path, monkeypatch):
    (tmp_path / "my_features.py").write_text(textwrap.dedent("""
        import torch
        class Flat(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.projection = torch.nn.Linear(256, 8, bias=False)
                torch.nn.init.normal_(self.projection.weight, generator=torch.Generator().manual_seed(0))
            def forward(self, images):
                return self.projection(images.float().flatten(1) / 255)
        def build():
            return Flat()
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    run = run_copy("conditional")
    result = cli(["evaluate", run, "--count", 60, "--features", "my_features:build"])
    assert result.exit_code == 0, result.output
    assert json.loads((run / "evaluation" / "step_0000020" / "metrics.json").read_text())["features"] == "my_features:build"


@pytest.mark.parametrize("args, message", [
    (["--count", "5"], "--count must be at least 20"),
    (["--features", "no_such_module:build"], "cannot import"),
    (["--features", "teacherish"], "package.module:function"),
    (["--checkpoint", "best"], "no best checkpoint"),
])
def test_bad_requests_fail_with_one_line(cli, cli_error, tiny_runs, args, message):
    assert message in cli_error(cli(["evaluate", tiny_runs["conditional"], *args]))


@pytest.fixture(scope="module")
def evaluated_run(tmp_path_factory):
    settings = dict(TINY, **{"train.steps": "30", "log.checkpoint_every": "10", "eval.every": "10", "eval.count": "60"})
    recipe, _ = load_recipe("digits", [f"{k}={v}" for k, v in settings.items()])
    return fit(recipe, tmp_path_factory.mktemp("eval") / "run", device="cpu", progress=False).run


def test_fit_evaluates_on_schedule_and_keeps_the_lowest_fid(evaluated_run):
    rows = evaluated_run.read_evaluations()
    assert [r["step"] for r in rows] == [10, 20, 30]
    best = min(rows, key=lambda r: r["fid"])
    assert evaluated_run.best_step() == best["step"]
    assert (evaluated_run.root / "evaluation.png").stat().st_size > 0
    assert [r["best"] for r in rows] == [r["fid"] == min(x["fid"] for x in rows[:i + 1]) for i, r in enumerate(rows)]


def test_augment_samples_from_the_best_checkpoint(evaluated_run, tmp_path):
    synthetic = augment(evaluated_run.root, tmp_path / "s", count=20, checkpoint="best", progress=False).synthetic
    assert synthetic.manifest["checkpoint"] == "checkpoints/best"


def test_resume_drops_evaluations_and_a_best_from_after_the_checkpoint(evaluated_run, tmp_path):
    import shutil

    run = RunDir(shutil.copytree(evaluated_run.root, tmp_path / "run"))
    shutil.rmtree(run.checkpoints / "step_0000030")  # as if killed after evaluating step 30, before checkpointing it
    best_before = run.best_step()
    settings = dict(TINY, **{"train.steps": "30", "log.checkpoint_every": "10", "eval.every": "10", "eval.count": "60"})
    recipe, _ = load_recipe("digits", [f"{k}={v}" for k, v in settings.items()])
    fit(recipe, run.root, device="cpu", resume=True, progress=False)
    rows = run.read_evaluations()
    assert [r["step"] for r in rows] == [10, 20, 30]  # step 30 evaluated once, not twice
    assert run.best_step() == min(rows, key=lambda r: r["fid"])["step"]
    assert best_before is not None
    fit(recipe, run.root, device="cpu", resume=True, progress=False)  # already finished: nothing evaluated again
    assert run.read_evaluations() == rows
