"""`ganaug fit` end to end: run directory, data sources, exact resume, divergence."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import tomllib
import torch
from PIL import Image
from safetensors.torch import load_file

from ganaug.config import load_recipe, validate
from ganaug.data import load_pool, make_split
from ganaug.runs.checkpoint import load_checkpoint
from ganaug.stages.fit import run as run_module
from ganaug.stages.fit.run import build_parts, fit
from ganaug.stages.fit.step import GanStep

CHECKPOINT_FILES = {"generator.safetensors", "discriminator.safetensors", "ema_generator.safetensors",
                    "training_state.safetensors", "state.json"}
METRIC_KEYS = {"step", "loss_d", "loss_g", "d_real", "d_fake", "images_per_s"}


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def png_size(path: Path) -> tuple[int, int]:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        assert image.format == "PNG"
        image.verify()
    with Image.open(path) as image:
        image.load()
        return image.size


def grid_side(images: int, size: int = 16) -> int:
    """Pixels along one side of a torchvision grid of `images` tiles (padding 2), enlarged to 64-pixel tiles."""
    return (64 // size) * (images * (size + 2) + 2)


def losses(rows: list[dict]) -> list[tuple]:
    return [(r["step"], r["loss_d"], r["loss_g"], r["d_real"], r["d_fake"]) for r in rows]


# ---------------------------------------------------------------- a plain run


def test_fit_digits_writes_a_complete_run_directory(tmp_path, cli, tiny_args):
    out = tmp_path / "run"
    result = cli(["fit", "digits", "--out", out, "--steps", 6, *tiny_args(
        log__every=4, log__checkpoint_every=2, log__sample_every=3, log__keep_checkpoints=2)])
    assert result.exit_code == 0, result.output
    assert str(out) in result.stdout and "step 6" in result.stdout

    # config.toml: the validated recipe with every override in it
    recipe = validate(tomllib.loads((out / "config.toml").read_text()))
    assert recipe.train.steps == 6 and recipe.model.g_width == 8 and recipe.data.image_size == 16
    assert recipe == load_recipe("digits", ["train.steps=6", "model.g_width=8", "model.d_width=8",
                                            "model.z_dim=16", "data.image_size=16", "train.batch_size=16",
                                            "train.precision=fp32", "log.grid_columns=4", "log.every=4",
                                            "log.checkpoint_every=2", "log.sample_every=3",
                                            "log.keep_checkpoints=2"])[0]

    info = json.loads((out / "run.json").read_text())
    assert info["data"]["classes"] == [str(c) for c in range(10)]
    assert info["data"]["channels"] == 1 and info["data"]["image_size"] == 16
    assert len(info["sessions"]) == 1 and info["sessions"][0]["steps"] == 6

    split = json.loads((out / "split.json").read_text())
    assert set(split) == {"train", "val", "test", "fingerprint", "classes", "train_counts"}
    assert split["classes"] == info["data"]["classes"]
    assert split["fingerprint"] == info["data"]["fingerprint"]

    rows = metrics(out)
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert all(set(r) == METRIC_KEYS for r in rows)
    assert all(torch.isfinite(torch.tensor([r["loss_d"], r["loss_g"]])).all() for r in rows)

    png_size(out / "loss_curve.png")
    # unconditional grid: grid_columns x grid_columns tiles
    assert png_size(out / "samples" / "latest.png") == (grid_side(4), grid_side(4))
    assert {p.name for p in (out / "samples").iterdir()} == {"latest.png", "step_0000003.png", "step_0000006.png"}

    # checkpoints every 2 steps, the newest 2 kept
    checkpoints = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert checkpoints == ["step_0000004", "step_0000006"]
    newest = out / "checkpoints" / "step_0000006"
    assert {p.name for p in newest.iterdir()} == CHECKPOINT_FILES
    state = json.loads((newest / "state.json").read_text())
    assert state["step"] == 6 and state["ema_updates"] == 6
    assert "checkpoint:" in result.stdout and "step_0000006" in result.stdout

    # the checkpoint restores into freshly built models
    pool = load_pool(recipe.data)
    parts = build_parts(recipe, pool, torch.device("cpu"))
    train = torch.tensor(json.loads((out / "split.json").read_text())["train"])
    batches = run_module.InMemoryBatches(pool.images[train], pool.labels[train], 16, 0)
    assert load_checkpoint(newest, parts, batches).step == 6
    saved = load_file(newest / "generator.safetensors")
    for name, value in parts.generator.state_dict().items():
        assert torch.equal(value, saved[name])
    ema = load_file(newest / "ema_generator.safetensors")
    assert not all(torch.equal(saved[k], ema[k]) for k in saved if saved[k].is_floating_point())


def test_fit_api_returns_the_result(tmp_path, tiny_overrides):
    recipe, _ = load_recipe("digits", tiny_overrides(train__steps=3, log__checkpoint_every=100))
    result = fit(recipe, tmp_path / "r", device="cpu", progress=False)
    assert result.steps == 3
    assert result.run.root == tmp_path / "r"
    assert result.checkpoint == tmp_path / "r" / "checkpoints" / "step_0000003"  # the final step is always saved
    assert [r["step"] for r in result.run.read_metrics()] == [1, 2, 3]


def test_conditional_sample_grid_has_one_row_per_class(tmp_path, cli, tiny_args):
    out = tmp_path / "cond"
    result = cli(["fit", "digits", "--out", out, "--steps", 2,
                  *tiny_args(model__conditional="true", model__ac_weight=0.5, loss__name="hinge",
                             train__diffaugment="color,translation,cutout")])
    assert result.exit_code == 0, result.output
    width, height = png_size(out / "samples" / "latest.png")
    assert height == grid_side(10) and width > grid_side(4)  # 10 class rows of 4, the class names at the left
    assert [r["step"] for r in metrics(out)] == [1, 2]


def test_training_uses_exactly_the_saved_train_split(tmp_path, tiny_overrides, monkeypatch):
    recipe, _ = load_recipe("digits", tiny_overrides(train__steps=4, data__train_per_class=5,
                                                     data__split_seed=4, train__batch_size=8))
    seen = {}

    class Spy(run_module.InMemoryBatches):
        def __init__(self, images, labels, *args, **kwargs):
            seen["images"], seen["labels"] = images.clone(), labels.clone()
            seen["drawn"] = []
            super().__init__(images, labels, *args, **kwargs)

        def next_indices(self):
            idx = super().next_indices()
            seen["drawn"].append(idx)
            return idx

    monkeypatch.setattr(run_module, "InMemoryBatches", Spy)
    out = tmp_path / "r"
    fit(recipe, out, device="cpu", progress=False)

    pool = load_pool(recipe.data)
    expected = make_split(pool, recipe.data.val_fraction, recipe.data.test_fraction, 5, 4)
    saved = json.loads((out / "split.json").read_text())
    assert saved == {"train": expected.train, "val": expected.val, "test": expected.test,
                     "fingerprint": pool.fingerprint(), "classes": pool.class_names, "train_counts": [5] * 10}
    assert len(expected.train) == 50
    # the sampler holds the training images and nothing else
    assert torch.equal(seen["images"], pool.images[expected.train])
    assert torch.equal(seen["labels"], pool.labels[expected.train])
    drawn = torch.cat(seen["drawn"])
    assert len(drawn) == 4 * 8 and drawn.max() < 50


def test_fit_on_an_image_folder(tmp_path, cli, tiny_args, write_image_folder):
    spec = {name: [("RGB" if i % 3 == 0 else "L", (12 + 4 * i, 20), "png" if i % 2 else "jpg") for i in range(7)]
            for name in ("ant", "bee", "cow")}
    root = write_image_folder(tmp_path / "images", spec)
    out = tmp_path / "run"
    result = cli(["fit", "folder", "--out", out, "--steps", 3, "--set", f"data.root={root}", *tiny_args()])
    assert result.exit_code == 0, result.output
    info = json.loads((out / "run.json").read_text())
    assert info["data"]["classes"] == ["ant", "bee", "cow"]
    assert info["data"]["channels"] == 3  # some images are RGB
    split = json.loads((out / "split.json").read_text())
    assert len(split["train"]) + len(split["val"]) + len(split["test"]) == 21
    assert [r["step"] for r in metrics(out)] == [1, 2, 3]
    # the folder recipe is conditional: one grid row per class
    width, height = png_size(out / "samples" / "latest.png")
    assert height == grid_side(3) and width > grid_side(4)  # named rows in a margin at the left
    assert (out / "checkpoints" / "step_0000003" / "state.json").is_file()


def test_fit_on_torchvision_mnist_files(tmp_path, cli, tiny_args, write_mnist):
    root = write_mnist(tmp_path / "data", train_per_class=10, test_per_class=3)
    out = tmp_path / "run"
    result = cli(["fit", "digits", "--out", out, "--steps", 3,
                  "--set", "data.source=torchvision:MNIST", "--set", f"data.root={root}", *tiny_args()])
    assert result.exit_code == 0, result.output
    info = json.loads((out / "run.json").read_text())
    assert info["data"]["source"] == "torchvision:MNIST"
    assert len(info["data"]["classes"]) == 10
    split = json.loads((out / "split.json").read_text())
    assert split["test"] == list(range(100, 130))  # MNIST's own test images, all of them
    assert sorted(split["train"] + split["val"]) == list(range(100))
    assert [r["step"] for r in metrics(out)] == [1, 2, 3]
    # nothing was downloaded next to the files the test wrote
    assert sorted(p.name for p in (root / "MNIST" / "raw").iterdir()) == sorted(
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])


# ---------------------------------------------------------------- resume

RESUME = dict(log__every=3, log__checkpoint_every=2, log__keep_checkpoints=10, log__sample_every=100,
              train__diffaugment="color,translation,cutout")


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory, cli, tiny_args) -> Path:
    """An uninterrupted 8-step run, the reference for every resumed one."""
    out = tmp_path_factory.mktemp("straight") / "run"
    result = cli(["fit", "digits", "--out", out, "--steps", 8, *tiny_args(**RESUME)])
    assert result.exit_code == 0, result.output
    return out


def assert_same_weights(a: Path, b: Path) -> None:
    for name in ("generator", "discriminator", "ema_generator"):
        wa, wb = load_file(a / f"{name}.safetensors"), load_file(b / f"{name}.safetensors")
        assert wa.keys() == wb.keys()
        for key in wa:
            assert torch.equal(wa[key], wb[key]), (name, key)


def test_resume_continues_exactly(tmp_path, cli, tiny_args, straight_run):
    out = tmp_path / "run"
    first = cli(["fit", "digits", "--out", out, "--steps", 4, *tiny_args(**RESUME)])
    assert first.exit_code == 0, first.output
    assert [r["step"] for r in metrics(out)] == [1, 2, 3, 4]
    resumed = cli(["fit", "digits", "--out", out, "--resume", "--steps", 8, *tiny_args(**RESUME)])
    assert resumed.exit_code == 0, resumed.output
    rows, reference = metrics(out), metrics(straight_run)
    assert [r["step"] for r in rows] == list(range(1, 9))
    assert losses(rows) == losses(reference)
    assert_same_weights(out / "checkpoints" / "step_0000008", straight_run / "checkpoints" / "step_0000008")
    info = json.loads((out / "run.json").read_text())
    assert [s["steps"] for s in info["sessions"]] == [4, 8]


def test_resume_after_a_crash(tmp_path, cli, tiny_args, straight_run):
    out = tmp_path / "run"
    first = cli(["fit", "digits", "--out", out, "--steps", 6, *tiny_args(**RESUME)])
    assert first.exit_code == 0, first.output
    # Simulate a kill: the newest checkpoint never finished (its state.json is missing and a
    # half-written temporary folder is left), and the metrics log ends in a torn line.
    checkpoints = out / "checkpoints"
    assert (checkpoints / "step_0000006").is_dir()
    shutil.rmtree(checkpoints / "step_0000006")
    (checkpoints / "step_0000004" / "state.json").unlink()
    (checkpoints / ".step_0000008.abc.tmp").mkdir()
    (checkpoints / ".step_0000008.abc.tmp" / "generator.safetensors").write_bytes(b"half")
    with open(out / "metrics.jsonl", "a") as f:
        f.write('{"step": 7, "loss_d": 0.69')

    resumed = cli(["fit", "digits", "--out", out, "--resume", "--steps", 8, *tiny_args(**RESUME)])
    assert resumed.exit_code == 0, resumed.output
    rows = metrics(out)  # every line parses: the torn one is gone
    assert [r["step"] for r in rows] == list(range(1, 9))
    assert losses(rows) == losses(metrics(straight_run))  # continued from step 2, exactly
    assert_same_weights(checkpoints / "step_0000008", straight_run / "checkpoints" / "step_0000008")


def test_a_class_balanced_long_tailed_run_says_so_and_resumes_exactly(tmp_path, cli, tiny_args):
    settings = tiny_args(**RESUME, data__imbalance_ratio=20, train__class_balance="true")
    straight, out = tmp_path / "straight", tmp_path / "run"
    result = cli(["fit", "digits", "--out", straight, "--steps", 6, *settings])
    assert result.exit_code == 0, result.output
    assert "class-balanced (train.class_balance)" in result.output
    plain = tmp_path / "plain"
    assert cli(["fit", "digits", "--out", plain, "--steps", 6, *tiny_args(**RESUME, data__imbalance_ratio=20)]
               ).exit_code == 0
    assert losses(metrics(plain)) != losses(metrics(straight))  # the batches differ
    assert cli(["fit", "digits", "--out", out, "--steps", 4, *settings]).exit_code == 0
    resumed = cli(["fit", "digits", "--out", out, "--resume", "--steps", 6, *settings])
    assert resumed.exit_code == 0, resumed.output
    assert losses(metrics(out)) == losses(metrics(straight))
    assert_same_weights(out / "checkpoints" / "step_0000006", straight / "checkpoints" / "step_0000006")


def test_resume_of_a_finished_run_with_more_steps_then_nothing_to_do(tmp_path, cli, tiny_args):
    out = tmp_path / "run"
    assert cli(["fit", "digits", "--out", out, "--steps", 2, *tiny_args()]).exit_code == 0
    again = cli(["fit", "digits", "--out", out, "--resume", "--steps", 2, *tiny_args()])
    assert again.exit_code == 0, again.output
    assert [r["step"] for r in metrics(out)] == [1, 2]
    more = cli(["fit", "digits", "--out", out, "--resume", "--steps", 3, *tiny_args()])
    assert more.exit_code == 0, more.output
    assert [r["step"] for r in metrics(out)] == [1, 2, 3]


# ---------------------------------------------------------------- divergence

DIVERGE = dict(log__every=100, log__checkpoint_every=2, log__keep_checkpoints=10, log__sample_every=100)


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_checkpoint(tmp_path, cli, tiny_args, cli_error,
                                                                          hash_files, break_loss):
    clean = tmp_path / "clean"
    assert cli(["fit", "digits", "--out", clean, "--steps", 4, *tiny_args(**DIVERGE)]).exit_code == 0

    break_loss(5)
    out = tmp_path / "run"
    result = cli(["fit", "digits", "--out", out, "--steps", 10, *tiny_args(**DIVERGE)])
    assert result.exit_code == 2
    message = cli_error(result)
    assert "diverged" in message and "loss_g" in message and "step 5" in message
    assert "step_0000004" in message and "--resume" in message
    # nothing after the divergence was saved; the good checkpoints are exactly as a clean run writes them
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step_0000002", "step_0000004"]
    last = out / "checkpoints" / "step_0000004"
    assert hash_files(last) == hash_files(clean / "checkpoints" / "step_0000004")
    assert [r["step"] for r in metrics(out)] == [1, 2, 3, 4]

    recipe = validate(tomllib.loads((out / "config.toml").read_text()))
    pool = load_pool(recipe.data)
    parts = build_parts(recipe, pool, torch.device("cpu"))
    train = torch.tensor(json.loads((out / "split.json").read_text())["train"])
    batches = run_module.InMemoryBatches(pool.images[train], pool.labels[train], 16, 0)
    assert load_checkpoint(last, parts, batches).step == 4
    assert all(p.isfinite().all() for p in parts.generator.parameters())


def test_non_finite_weights_are_caught_before_a_checkpoint(tmp_path, cli, tiny_args, cli_error, monkeypatch):
    original = GanStep.__call__

    def step(self):
        out = original(self)
        if self.parts.ema.updates == 4:  # this step's losses are finite, but a weight breaks
            with torch.no_grad():
                next(self.parts.discriminator.parameters()).view(-1)[0] = float("inf")
        return out

    monkeypatch.setattr(GanStep, "__call__", step)
    out = tmp_path / "run"
    result = cli(["fit", "digits", "--out", out, "--steps", 10, *tiny_args(**DIVERGE)])
    message = cli_error(result)
    assert "diverged" in message and "not finite" in message and "step 4" in message
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step_0000002"]


def test_absurd_learning_rate_diverges(tmp_path, cli, tiny_args, cli_error, hash_files):
    settings = dict(loss__name="wgan-gp", train__lr_d="1e6", train__lr_g="1e6", log__every=1,
                    log__checkpoint_every=1, log__keep_checkpoints=10)
    clean = tmp_path / "clean"
    assert cli(["fit", "digits", "--out", clean, "--steps", 1, *tiny_args(**settings)]).exit_code == 0
    out = tmp_path / "run"
    result = cli(["fit", "digits", "--out", out, "--steps", 20, *tiny_args(**settings)])
    assert result.exit_code == 2
    message = cli_error(result)
    assert "diverged" in message and ("inf" in message or "nan" in message)
    checkpoints = sorted((out / "checkpoints").iterdir())
    assert checkpoints, "the steps before the divergence were checkpointed"
    assert checkpoints[-1].name in message
    assert hash_files(checkpoints[0]) == hash_files(clean / "checkpoints" / "step_0000001")
    steps = [r["step"] for r in metrics(out)]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) < 20


# ---------------------------------------------------------------- other settings


def test_same_seed_same_run_other_seed_other_run(tmp_path, cli, tiny_args):
    def run(name: str, seed: int) -> list[tuple]:
        result = cli(["fit", "digits", "--out", tmp_path / name, "--steps", 3, "--seed", seed,
                      *tiny_args(train__diffaugment="translation,cutout")])
        assert result.exit_code == 0, result.output
        return losses(metrics(tmp_path / name))

    first = run("a", 1)
    assert run("b", 1) == first
    assert run("c", 2) != first


def test_bf16_two_discriminator_steps_and_wgan_gp(tmp_path, cli, tiny_args):
    out = tmp_path / "run"
    result = cli(["fit", "digits", "--out", out, "--steps", 3,
                  *tiny_args(train__precision="bf16", train__d_steps=2, loss__name="wgan-gp",
                             train__channels_last="false")])
    assert result.exit_code == 0, result.output
    info = json.loads((out / "run.json").read_text())
    assert info["sessions"][0]["precision"] == "bfloat16"
    assert [r["step"] for r in metrics(out)] == [1, 2, 3]
    recipe = validate(tomllib.loads((out / "config.toml").read_text()))
    parts = build_parts(recipe, load_pool(recipe.data), torch.device("cpu"))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in parts.discriminator.modules())  # auto: none


def test_default_out_is_under_runs(tmp_path, cli, tiny_args, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli(["fit", "digits", "--steps", 1, *tiny_args()])
    assert result.exit_code == 0, result.output
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and runs[0].name.startswith("digits-")
    assert (runs[0] / "checkpoints" / "step_0000001" / "state.json").is_file()
