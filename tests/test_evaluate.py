"""`ganaug evaluate`, fit's evaluation hook and the best checkpoint: outputs, split hygiene, resume, offline."""

import json
import socket
import textwrap
from pathlib import Path

import pytest
import torch

from ganaug.config import load_recipe
from ganaug.runs import quality as measure_module
from ganaug.runs.quality import QualityReport
from ganaug.runs.run_dir import RunDir
from ganaug.stages.augment import augment
from ganaug.stages.compare.report import quality_markdown
from ganaug.stages.evaluate.report import EvaluationReport, summary_markdown
from ganaug.stages.fit.run import fit

RESULTS = Path(__file__).resolve().parents[1] / "results"
COMMITTED_REPORTS = [*sorted(RESULTS.glob("**/metrics.json")), *sorted(RESULTS.glob("**/synthetic_quality.json"))]

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
    assert all(0 < sanity[f"training_{name}"] <= 1 for name in ("precision", "recall", "coverage"))
    assert f"the {sanity['training_images']} training images themselves" in (folder / "summary.md").read_text()
    assert f"recall: {sanity['training_recall']:.3f}" in result.output
    assert len(metrics["label_agreement"]["per_class"]) == len(metrics["per_class_fid"]) == 10
    assert 0 <= metrics["memorisation"]["generated_near_copy_fraction"] <= 1
    for picture in ("samples.png", "closest_pairs.png", "per_class.png"):
        assert (folder / picture).stat().st_size > 0
    assert "FID" in (folder / "summary.md").read_text() and "FID" in result.output
    text = (folder / "metrics.json").read_text()
    assert json.dumps(EvaluationReport.from_json(json.loads(text)).to_json(), indent=1) + "\n" == text  # read back


def test_unconditional_runs_have_no_label_agreement(run_copy):
    from ganaug.stages.evaluate import evaluate

    result = evaluate(run_copy("unconditional"), count=50, progress=False)
    quality = result.report.quality
    assert quality.label_agreement is None and quality.per_class_fid is None
    metrics = json.loads((result.folder / "metrics.json").read_text())
    assert "label_agreement" not in metrics and "per_class_fid" not in metrics
    assert list(metrics) == ["run", "checkpoint", "generated", "features", "real_reference", "fid", "kid", "kid_std",
                             "precision", "recall", "density", "coverage", "memorisation", "diversity",
                             "reliability", "warnings", "sanity", "seconds"]  # as before the report was typed


@pytest.mark.parametrize("path", COMMITTED_REPORTS, ids=lambda path: str(path.relative_to(RESULTS)))
def test_committed_reports_from_earlier_versions_still_read(path):
    """Every committed report reads back with every key and value it has: those written before diversity,
    reliability notes and warnings were measured get none of them; compare's and evaluate's summaries render them."""
    data = json.loads(path.read_text())
    if path.name == "metrics.json":
        report = EvaluationReport.from_json(data)
        quality, again = report.quality, report.to_json()
        assert "| FID |" in summary_markdown(report, [str(c) for c in range(10)])
    else:
        quality = QualityReport.from_json(data)
        again = {"synthetic": data["synthetic"], **quality.to_json()}
        assert "near-copies" in quality_markdown(quality)
    added = {key: again.pop(key) for key in set(again) - set(data)}
    assert json.dumps(again) == json.dumps(data)
    if "diversity" in data:  # written by this version: it reads back exactly, nothing added
        assert not added and quality.diversity is not None
    else:
        assert added == {"reliability": {}, "warnings": []} and quality.diversity is None


def test_evaluation_measures_against_validation_and_never_sees_the_test_split(run_copy, monkeypatch):
    from ganaug.stages.evaluate import evaluate

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
    from ganaug.stages.evaluate import evaluate

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
    metrics = json.loads((run / "evaluation" / "step_0000020" / "metrics.json").read_text())
    assert metrics["features"] == "my_features:build"


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


# --- mode collapse and small samples --------------------------------------------------------------------------------

def _collapse(images: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """What a collapsed generator makes: each class's first image again and again, with +-2 grey levels of noise."""
    labels = torch.zeros(len(images), dtype=torch.long) if labels is None else labels
    noise = torch.randint(-2, 3, images.shape, generator=torch.Generator().manual_seed(0))
    firsts = torch.stack([images[labels == c][0] for c in labels.tolist()])
    return (firsts.int() + noise).clamp(0, 255).to(torch.uint8)


def test_a_collapsed_generator_is_warned_about_on_stderr_and_in_the_summary(cli, run_copy, monkeypatch):
    from ganaug.runs.generator import RunGenerator

    original = RunGenerator.generate
    monkeypatch.setattr(RunGenerator, "generate", lambda self, seeds, labels=None:
                        _collapse(original(self, seeds, labels), labels))
    run = run_copy("conditional")
    result = cli(["evaluate", run, "--count", 200])
    assert result.exit_code == 0, result.output
    folder = run / "evaluation" / "step_0000020"
    metrics = json.loads((folder / "metrics.json").read_text())
    names = [str(c) for c in range(10)]
    assert metrics["diversity"]["collapsed"] == names and metrics["diversity"]["per_class"]["3"] < 0.1
    warnings = [line for line in result.stderr.splitlines() if "mode collapse" in line]
    assert len(warnings) == 10
    assert warnings[0].startswith("warning: mode collapse in class '0': generated images are 0.0")
    assert warnings[0].endswith("x as varied as real ones") and "mode collapse" not in result.stdout
    summary = (folder / "summary.md").read_text()
    assert all(warning in summary for warning in warnings)
    val = len(RunDir(run).load_split().val)
    note = f"(unreliable: {val} real validation images and 200 generated images, needs at least 500 of each)"
    assert metrics["reliability"]["fid"] == note[1:-1]
    assert f"FID:         {metrics['fid']:.3f} {note}" in result.stdout
    assert f"| {metrics['fid']:.3f} {note} |" in summary


def test_a_generator_that_copies_training_images_is_not_collapsed_but_lands_below_the_fid_floor(cli, run_copy,
                                                                                               monkeypatch):
    from ganaug.runs.generator import RunGenerator

    run = run_copy("conditional")
    pool, split = RunDir(run).load_data()
    train = pool.images[torch.tensor(split.train)]
    by_class = [train[pool.labels[torch.tensor(split.train)] == c] for c in range(10)]
    monkeypatch.setattr(RunGenerator, "generate", lambda self, seeds, labels=None: torch.stack(
        [by_class[c][s % len(by_class[c])] for s, c in zip(seeds.tolist(), labels.tolist(), strict=True)]))
    result = cli(["evaluate", run, "--count", 1000])
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "evaluation" / "step_0000020" / "metrics.json").read_text())
    assert metrics["diversity"]["collapsed"] == [] and "mode collapse" not in result.output
    assert metrics["fid"] < metrics["sanity"]["fid_validation_halves"]
    assert "below the real-vs-real floor" in metrics["reliability"]["fid"]
    fid_line = next(line for line in result.stdout.splitlines() if line.startswith("FID:"))
    assert "below the real-vs-real floor" in fid_line


def test_a_generator_that_returns_its_training_set_scores_the_training_reference(run_copy, monkeypatch):
    from ganaug.runs.generator import RunGenerator
    from ganaug.stages.evaluate import evaluate
    from ganaug.stages.evaluate.run import EVAL_SEED

    run = run_copy("conditional")
    pool, split = RunDir(run).load_data()
    train = pool.images[torch.tensor(split.train)]
    monkeypatch.setattr(RunGenerator, "generate", lambda self, seeds, labels=None: train[seeds - EVAL_SEED])
    report = evaluate(run, count=len(train), progress=False).report
    assert report.quality.recall == pytest.approx(report.sanity.training_recall)
    assert report.quality.precision == pytest.approx(report.sanity.training_precision)
    assert report.quality.coverage == pytest.approx(report.sanity.training_coverage)
    assert report.sanity.training_recall > 0.5


def test_fit_warns_of_mode_collapse_once_per_evaluation_and_logs_it_as_numbers(tmp_path, monkeypatch, capsys):
    from ganaug.metrics.diversity import COLLAPSE_RATIO
    from ganaug.stages.fit.evaluation import Evaluator

    original = Evaluator._generate
    monkeypatch.setattr(Evaluator, "_generate", lambda self: _collapse(original(self), self.labels))
    settings = dict(TINY, **{"train.steps": "20", "log.checkpoint_every": "10", "eval.every": "10", "eval.count": "60"})
    recipe, _ = load_recipe("digits", [f"{k}={v}" for k, v in settings.items()])
    run = fit(recipe, tmp_path / "run", device="cpu", progress=False).run
    rows = run.read_evaluations()  # rows with anything but numbers would be dropped here
    assert [r["step"] for r in rows] == [10, 20]
    assert all(r["collapsed_classes"] == 10 and 0 <= r["min_diversity"] < COLLAPSE_RATIO for r in rows)
    warnings = [line for line in capsys.readouterr().out.splitlines() if "mode collapse" in line]
    assert [line.split(":")[0] for line in warnings] == ["step 10", "step 20"]
    assert warnings[0].startswith("step 10: warning: mode collapse in 10 classes: generated images are '0' 0.0")
