"""Every script in benchmarks/ runs for one tiny step and writes what it says it writes.

The scripts import ganaug's internals and run for hours, so nobody runs them after a change; here each one's
main(argv) runs in-process at the smallest sizes (one step, one seed, one epoch, a few images) on one tiny
experiment shared by all: a conditional digits run that evaluates (so it has a teacher, evaluations and a best
checkpoint), its evaluation, a synthetic set and a two-cell comparison. The shell scripts are parsed, and the
commands, options, recipes, recipe keys and scripts they name must exist.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import re
import shlex
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from types import ModuleType, SimpleNamespace

import click
import pandas as pd
import pytest

from ganaug.classify import TrainSettings
from ganaug.config import load_recipe
from ganaug.stages.augment import augment
from ganaug.stages.compare import compare
from ganaug.stages.compare.cell import ClassifierSettings
from ganaug.stages.compare.grid import parse_strategies
from ganaug.stages.evaluate import evaluate
from ganaug.stages.fit.run import fit

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
TINY = ["model.g_width=8", "model.d_width=8", "model.z_dim=16", "data.image_size=16", "train.batch_size=16",
        "train.precision=fp32", "log.grid_columns=4", "data.train_per_class=10"]
"""A GAN and a teacher that train in a fraction of a second: 16 px, width 8, 100 training images."""
SMOKE: dict[str, Callable] = {}


def smoke(test: Callable) -> Callable:
    """Marks test_<script> as the smoke test of benchmarks/<script>.py."""
    SMOKE[test.__name__.removeprefix("test_")] = test
    return test


def script(name: str) -> ModuleType:
    """benchmarks/<name>.py as a module (benchmarks/ is not a package), to call its main(argv)."""
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", autouse=True)
def one_epoch_teacher():
    from ganaug.runs import teacher

    patch = pytest.MonkeyPatch()
    patch.setattr(teacher, "SETTINGS", TrainSettings(epochs=1, batch_size=16, lr=3e-3, patience=1, seed=0))
    yield
    patch.undo()


@dataclass
class Experiment:
    runs: Path
    """Holds the run, named <data set>-<variant> as quality_over_training.sh names them."""
    run: Path
    synthetic: Path
    compare: Path
    """A compare folder: baseline and conditional x0.5, seed 0, one epoch (of the fewest batches, 16 images each)."""


@pytest.fixture(scope="module")
def experiment(tmp_path_factory) -> Experiment:
    root = tmp_path_factory.mktemp("experiment")
    recipe, _ = load_recipe("digits", [*TINY, "model.conditional=true", "train.steps=2", "eval.every=2",
                                       "eval.count=20", "log.checkpoint_every=2", "log.sample_every=2"])
    run = fit(recipe, root / "runs" / "digits-plain", device="cpu", progress=False).run.root
    evaluate(run, checkpoint="best", count=20, device="cpu", progress=False)
    synthetic = augment(run, root / "synthetic", count=200, labels="soft", progress=False).synthetic.root
    with warnings.catch_warnings():  # that the tiny test split cannot tell small differences apart
        warnings.simplefilter("ignore", UserWarning)
        compare(run, root / "compare" / "digits-10", synthetic=synthetic, strategies="baseline,conditional",
                ratios="0.5", seeds=1, classifier=ClassifierSettings(epochs=1, batch_size=16), device="cpu",
                progress=False)
    return Experiment(root / "runs", run, synthetic, root / "compare" / "digits-10")


def test_every_benchmark_script_has_a_smoke_test():
    assert {path.stem for path in BENCHMARKS.glob("*.py")} == set(SMOKE)


@smoke
def test_augment_throughput(experiment, tmp_path, monkeypatch):
    """Each augment runs in a child process of its own (for its own peak memory); here the child runs in-process,
    after checking the command that would have started it."""
    module = script("augment_throughput")
    children = []

    def run_child(command, **kwargs):
        assert command[:3] == [sys.executable, str(BENCHMARKS / "augment_throughput.py"), "--child"]
        children.append(command)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            module.child(*command[3:5], int(command[5]))
        return subprocess.CompletedProcess(command, 0, out.getvalue(), "")

    monkeypatch.setattr(module, "subprocess", SimpleNamespace(run=run_child))
    module.main(["--run", str(experiment.run), "--counts", "20", "--reference-images", "256",
                 "--out", str(tmp_path / "throughput")])
    [row] = json.loads((tmp_path / "throughput.json").read_text())["rows"]
    assert len(children) == 1 and row["count"] == 20
    assert row["images_per_s"] > 0 and row["bare_generator_images_per_s"] > 0
    assert "| 20 |" in (tmp_path / "throughput.md").read_text()


@smoke
def test_bf16_stability(tmp_path):
    module = script("bf16_stability")
    module.main(["--seeds", "0", "--steps", "1", "--count", "20", "--out", str(tmp_path / "bf16"),
                 *[arg for setting in TINY for arg in ("--set", setting)]])
    report = json.loads((tmp_path / "bf16.json").read_text())
    assert [(r["dtype"], r["finished"]) for r in report["runs"]] == [("fp32", True), ("bf16", True)]
    assert all(r["fid"] > 0 and 0 <= r["precision"] <= 1 for r in report["runs"])
    assert "--count 20" in report["command"] and (tmp_path / "bf16.png").stat().st_size > 0


@smoke
def test_bn_diagnosis(experiment, tmp_path):
    script("bn_diagnosis").main(["--run", str(experiment.run), "--synthetic", str(experiment.synthetic),
                                 "--out", str(tmp_path), "--cells", "1", "--epochs", "1", "--batch-size", "16"])
    [row] = pd.read_csv(tmp_path / "bn_diagnosis.csv").to_dict("records")
    assert row["cell"] == "extra+classic x2, seed 2" and 0 <= row["bn_from_real"] <= 1
    assert "| extra+classic x2, seed 2 |" in (tmp_path / "README.md").read_text()


@smoke
def test_compare_diagnostics(experiment, tmp_path):
    folder = shutil.copytree(experiment.compare, tmp_path / "digits-10")
    script("compare_diagnostics").main(["--root", str(tmp_path), "--count", "200"])
    diagnostics = json.loads((folder / "diagnostics.json").read_text())
    assert diagnostics["synthetic_measured"] == 200 and 0 <= diagnostics["teacher_agreement"] <= 1
    assert (folder / "closest_pairs.png").stat().st_size > 0
    assert "| digits-10 |" in (tmp_path / "diagnostics.md").read_text()


@smoke
def test_compare_pair(experiment, tmp_path):
    a, b = (shutil.copytree(experiment.compare, tmp_path / name) for name in ("a", "b"))
    script("compare_pair").main([str(a), str(b)])
    assert "| conditional | 0.5 | 1 | " in (a / "vs_b.md").read_text()


@smoke
def test_teacher_imbalance(tmp_path):
    settings = ("data.image_size=16", "data.train_per_class=20", "data.imbalance_ratio=10")
    script("teacher_imbalance").main(["--recipe", "digits", "--seeds", "1", "--out", str(tmp_path),
                                      *[arg for setting in settings for arg in ("--set", setting)]])
    report = json.loads((tmp_path / "teacher_imbalance.json").read_text())
    assert report["train_counts"][0] == 20 and report["train_counts"][-1] == 2
    assert [r["rebalance"] for r in report["rows"]] == [None, "oversample"]  # the plain teacher, then today's
    assert all(len(r["test_recall"]) == 10 and 0 <= r["val_balanced_accuracy"] <= 1 for r in report["rows"])
    assert "| class-balanced batches (now) |" in (tmp_path / "teacher_imbalance.md").read_text()
    assert (tmp_path / "teacher_imbalance.png").stat().st_size > 0


@smoke
def test_beat_classical_report(tmp_path):
    """Picks both rows on validation, never on test, and gives the target's verdict with the Holm-corrected p."""
    rows = []
    for seed in range(4):  # 'soft' wins on validation and test; 'argmax' wins on test only, and must not be chosen
        for strategy, val, test in (("baseline", 0.80, 0.80), ("classic", 0.85, 0.85), ("soft+classic", 0.90, 0.88),
                                    ("argmax+classic", 0.70, 0.99), ("cas", 0.95, 0.76)):
            # cas: best on validation of all, yet never a GAN row to choose; 2.5 points below baseline on test
            rows.append({"strategy": strategy, "ratio": 0.0 if strategy in ("baseline", "classic") else 1.0,
                         "seed": seed, "val_accuracy": val,
                         "test_accuracy": test + 0.01 * seed * (strategy in ("soft+classic", "cas")), "macro_f1": test})
    rows.append({"strategy": "extra+classic", "ratio": 1.0, "seed": 0, "val_accuracy": 0.99, "test_accuracy": 0.99,
                 "macro_f1": 0.99})  # a cell of an earlier grid in the folder: not this grid's, so left out
    rows.append({"strategy": "classic", "ratio": 0.0, "seed": 4, "val_accuracy": 0.99, "test_accuracy": 0.99,
                 "macro_f1": 0.99})  # the grid stopped during seed 4: judged on seeds 0-3 alone
    table = pd.DataFrame(rows)
    table["key"] = [f"{r.strategy}|{r.ratio:g}|{r.seed}" for r in table.itertuples()]
    for name in ("mnist5k-10", "mnist5k-50"):  # the same grid under two settings: CAS has a target at 50 only
        (tmp_path / name).mkdir()
        table.to_csv(tmp_path / name / "runs.csv", index=False)
        (tmp_path / name / "compare.json").write_text(json.dumps(
            {"strategies": "baseline,classic,soft+classic,argmax+classic,cas", "ratios": "1", "seeds": 5}))
    cas_only = tmp_path / "mnist5k-50-resnet"  # a grid of baseline and cas: in the CAS table alone
    cas_only.mkdir()
    table[table["strategy"].isin(["baseline", "cas"])].to_csv(cas_only / "runs.csv", index=False)
    (cas_only / "compare.json").write_text(json.dumps({"strategies": "baseline,cas", "ratios": "1", "seeds": 4}))
    script("beat_classical_report").main(["--results", str(tmp_path)])
    table = (tmp_path / "targets.md").read_text()
    assert "| mnist5k-50-resnet |" not in table.split("## CAS")[0]
    row = next(line for line in table.splitlines() if line.startswith("| mnist5k-10 |"))
    assert "classic: 85.00" in row and "soft+classic x1" in row and "argmax" not in row and "extra" not in row
    assert "cas" not in row and "(2) | 4 | met |" in row, row  # +4.5 points on 4 seeds, corrected over 2 GAN rows
    cas_rows = [line for line in table.split("## CAS")[1].splitlines() if line.startswith("| mnist5k-")]
    assert [line.split(" | ")[1:4] for line in cas_rows] == [["77.50", "80.00", "-2.50 [-4.55, -0.45]"]] * 3
    assert cas_rows[0].endswith("| 4 | - |") and cas_rows[1].endswith("| 4 | met |"), cas_rows
    assert cas_rows[2].startswith("| mnist5k-50-resnet |") and cas_rows[2].endswith("| 4 | met |")
    assert (tmp_path / "targets.png").stat().st_size > 1000
    summary = (tmp_path / "mnist5k-10" / "summary.md").read_text()  # compare never summarised the stopped grid
    assert "stopped: the 4 of 5 seeds" in summary and "| classic | - | 4 | 85.00" in summary
    assert (tmp_path / "mnist5k-10" / "accuracy.png").is_file()


def test_beat_classical_report_stopping_rule(tmp_path):
    """A verdict fixed to the first N seeds is taken on those alone, while the grid's summary keeps every seed."""
    rows = [{"strategy": strategy, "ratio": 0.0 if strategy == "classic" else 1.0, "seed": seed,
             "val_accuracy": 0.9, "test_accuracy": 0.85 + (strategy != "classic") * (0.05 if seed < 3 else -0.1),
             "macro_f1": 0.85} for seed in range(5) for strategy in ("classic", "soft+classic")]
    table = pd.DataFrame(rows)  # ahead by 5 points on seeds 0-2, behind by 10 on seeds 3-4
    table["key"] = [f"{r.strategy}|{r.ratio:g}|{r.seed}" for r in table.itertuples()]
    (tmp_path / "grid").mkdir()
    table.to_csv(tmp_path / "grid" / "runs.csv", index=False)
    (tmp_path / "grid" / "compare.json").write_text(json.dumps(
        {"strategies": "classic,soft+classic", "ratios": "1", "seeds": 5}))
    report = script("beat_classical_report")
    report.TARGETS["grid"] = report.Target("test_accuracy", 2.0, 0.05, verdict_seeds=3)
    report.main(["--results", str(tmp_path)])
    row = next(line for line in (tmp_path / "targets.md").read_text().splitlines() if line.startswith("| grid |"))
    assert "| +5.00 [+5.00, +5.00] |" in row and row.endswith("| 3 | met |"), row
    report.TARGETS["grid"] = report.Target("test_accuracy", 2.0, 0.05)
    report.main(["--results", str(tmp_path)])
    row = next(line for line in (tmp_path / "targets.md").read_text().splitlines() if line.startswith("| grid |"))
    assert "| 5 | missed" in row, row


@smoke
def test_compare_report(experiment, tmp_path):
    """On the committed results (quality files from before diversity was measured) it makes the committed
    overview again; on a fresh comparison it reads today's quality file."""
    committed = ROOT / "results" / "compare"
    for path in [*committed.glob("*/summary.csv"), *committed.glob("*/synthetic_quality.json")]:
        (tmp_path / "committed" / path.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, tmp_path / "committed" / path.parent.name / path.name)
    module = script("compare_report")
    module.main(["--root", str(tmp_path / "committed")])
    assert (tmp_path / "committed" / "overview.md").read_text() == (committed / "overview.md").read_text()
    fresh = shutil.copytree(experiment.compare, tmp_path / "fresh" / "digits-10").parent
    module.main(["--root", str(fresh)])
    assert "| digits-10 | 200 |" in (fresh / "overview.md").read_text()  # the quality table


@smoke
def test_early_stop_diagnosis(experiment, tmp_path):
    folder = shutil.copytree(experiment.compare, tmp_path / "digits-10")
    script("early_stop_diagnosis").main(["--compare", str(folder), "--cells", "1"])
    rows = pd.read_csv(folder / "early_stop_diagnosis.csv")
    assert list(rows["cell"]) == ["conditional x0.5, seed 0", "baseline x0, seed 0"]
    assert rows["early_stopping"].tolist() == pytest.approx(rows["runs_csv_val"].tolist(), abs=1e-5)  # as compare did
    assert "| conditional x0.5, seed 0 |" in (folder / "early_stop_diagnosis.md").read_text()


@smoke
def test_quality_report(experiment, tmp_path):
    script("quality_report").main(["--runs", str(experiment.runs), "--out", str(tmp_path)])
    summary = (tmp_path / "summary.md").read_text()
    assert summary.count("| digits-plain | 2 |") == 2  # the evaluations during training and the best, evaluated
    assert (tmp_path / "quality_over_training.png").stat().st_size > 0
    assert (tmp_path / "digits-plain" / "metrics.json").is_file() and (tmp_path / "samples_digits-plain.png").is_file()


@smoke
def test_ema_statistics(experiment, tmp_path):
    out = tmp_path / "ema"
    script("ema_statistics").main([f"{experiment.run}:2", f"{experiment.run}:best", "--count", "20", "--out", str(out)])
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    step = ["as saved", "u, v re-estimated", "statistics re-measured", "live statistics", "both re-estimated"]
    assert [r["buffers"] for r in rows] == step + [b for b in step if b != "live statistics"]  # best: no live G
    scores = {r["buffers"]: r["fid"] for r in rows[:5]}
    assert scores["as saved"] == pytest.approx(scores["both re-estimated"], rel=1e-3), "saved re-estimated"
    assert scores["live statistics"] != scores["both re-estimated"]
    assert "| both re-estimated |" in out.with_suffix(".md").read_text()


@smoke
def test_parallel_speed(tmp_path):
    """Both measurements, each with 1 and 2 processes, at the smallest sizes."""
    out = tmp_path / "parallel"
    script("parallel_speed").main(["--rounds", "1", "--fit-steps", "12", "--seeds", "1", "--epochs", "1",
                                   "--setup-steps", "10", "--count", "300", "--out", str(out),
                                   *(a for s in TINY for a in ("--set", s))])
    facts = json.loads(out.with_suffix(".json").read_text())
    assert len(facts["fit_images_per_s"]["2 processes (torchrun)"]) == 1 and facts["compare_speedup"] > 0
    assert len(facts["compare_seconds"]["--jobs 1, one thread"]) == 1 and facts["compare_threads_speedup"] > 0
    assert "| compare, 6 cells x 1 epochs" in out.with_suffix(".md").read_text()
    assert "`--jobs 2` against `--jobs 1` on one thread" in out.with_suffix(".md").read_text()


@smoke
def test_train_throughput(tmp_path):
    script("train_throughput").main(["--rounds", "1", "--steps", "1", "--warmup", "0", "--out", str(tmp_path / "t"),
                                     "--profile", "--set", "train.batch_size=2"])
    report = json.loads((tmp_path / "t.json").read_text())
    assert len(report["images_per_s"]) == 3 and all(rates[0] > 0 for rates in report["images_per_s"].values())
    assert "--set train.batch_size=2" in report["command"] and "| textbook (fp32) |" in (tmp_path / "t.md").read_text()
    assert report["profile"].keys() == report["images_per_s"].keys()
    assert all(0 < p["convolution_share"] < 1 and p["cpu_seconds"] > 0 for p in report["profile"].values())
    assert "ceiling vs textbook" in (tmp_path / "t.md").read_text()


# --- the shell scripts -----------------------------------------------------------------------------------------------

SHELL_SCRIPTS = sorted(BENCHMARKS.glob("*.sh"))


def logical_lines(path: Path) -> list[str]:
    """The script's lines with backslash continuations joined and comments dropped."""
    text = path.read_text().replace("\\\n", " ")
    return [line for line in (raw.split(" #")[0].strip() for raw in text.splitlines()) if line and line[0] != "#"]


@pytest.mark.parametrize("path", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_shell_script_parses_and_names_what_exists(path):
    from ganaug.cli.main import main

    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0
    variables = dict(re.findall(r'^(\w+)="([^"$]*)"$', path.read_text(), re.M))
    commands = 0
    for line in logical_lines(path):
        for name, rest in re.findall(r"\bganaug (\w+)(.*?)(?:;;|\|\||&&|$)", line):
            command = main.get_command(click.Context(main), name)
            assert command is not None, f"{path.name}: no command `ganaug {name}`"
            known = {opt for param in command.params for opt in param.opts + param.secondary_opts}
            words = shlex.split(rest)
            for option, value in zip(words, [*words[1:], ""], strict=True):
                if option.startswith("--"):
                    assert option.split("=")[0] in known, f"{path.name}: `ganaug {name}` has no {option}"
                if option == "--strategies":
                    parse_strategies(variables.get(value.lstrip("$"), value))
            commands += 1
        fit_call = re.match(r"^(?:[\w-]+\)\s*)?fit (\S+) (\S+)(.*)", line)  # the scripts' own fit NAME RECIPE [--set]
        if fit_call:
            words = shlex.split(fit_call.group(3))
            load_recipe(fit_call.group(2), [value for option, value in pairwise(words) if option == "--set"])
    assert commands > 0
    for named in re.findall(r"benchmarks/\w+\.py", path.read_text()):
        assert (ROOT / named).is_file(), f"{path.name} names {named}, which does not exist"
