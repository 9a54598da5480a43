"""Bad input through the `ganaug` command: exit code 2, one line that names the problem, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch


@pytest.fixture
def fit_error(cli, cli_error, tiny_args):
    """Run `ganaug fit ...` expecting a user error; returns the error line."""

    def run(recipe, *args) -> str:
        result = cli(["fit", recipe, *tiny_args(), *args])  # the test's own --set come last and win
        assert result.exit_code == 2, result.output
        return cli_error(result)

    return run


@pytest.fixture
def small_run(tmp_path, cli, tiny_args) -> Path:
    out = tmp_path / "run"
    result = cli(["fit", "digits", "--out", out, "--steps", 2, *tiny_args(log__checkpoint_every=1)])
    assert result.exit_code == 0, result.output
    return out


# ---------------------------------------------------------------- recipe problems


def test_unknown_recipe_key(tmp_path, fit_error):
    out = tmp_path / "run"
    message = fit_error("digits", "--out", out, "--set", "train.stepz=3")
    assert "train.stepz" in message and "unknown key" in message
    assert not out.exists()  # refused before anything was written


def test_unknown_recipe_name(tmp_path, fit_error):
    message = fit_error("digitz", "--out", tmp_path / "run")
    assert "digitz" in message and "unknown recipe" in message
    assert "digits" in message.replace("digitz", "")  # lists the recipes that exist


def test_missing_recipe_file(tmp_path, fit_error):
    message = fit_error(str(tmp_path / "mine.toml"), "--out", tmp_path / "run")
    assert "mine.toml" in message and "does not exist" in message


def test_impossible_value(tmp_path, fit_error):
    message = fit_error("digits", "--out", tmp_path / "run", "--set", "data.image_size=48")
    assert "data.image_size" in message


def test_malformed_set(tmp_path, fit_error):
    message = fit_error("digits", "--out", tmp_path / "run", "--set", "steps=3")
    assert "steps=3" in message and "section.key=value" in message


# ---------------------------------------------------------------- data problems


def test_missing_image_folder(tmp_path, fit_error):
    missing = tmp_path / "no_images_here"
    message = fit_error("folder", "--out", tmp_path / "run", "--set", f"data.root={missing}")
    assert "no_images_here" in message and "does not exist" in message


def test_empty_class_folder(tmp_path, fit_error, write_image_folder):
    root = write_image_folder(tmp_path / "images", {"cat": [("L", (16, 16), "png")] * 5})
    (root / "dog").mkdir()
    message = fit_error("folder", "--out", tmp_path / "run", "--set", f"data.root={root}")
    assert "dog" in message and "at least one image" in message


def test_corrupt_image_file(tmp_path, fit_error, write_image_folder):
    root = write_image_folder(tmp_path / "images", {"cat": [("L", (16, 16), "png")] * 5,
                                                    "dog": [("RGB", (16, 16), "jpg")] * 5})
    (root / "dog" / "x.png").write_bytes(os.urandom(200))
    message = fit_error("folder", "--out", tmp_path / "run", "--set", f"data.root={root}")
    assert "x.png" in message and "cannot read image" in message


def test_truncated_image_file(tmp_path, fit_error, write_image_folder):
    root = write_image_folder(tmp_path / "images", {"cat": [("RGB", (40, 40), "png")] * 5})
    png = root / "cat" / "img3.png"
    png.write_bytes(png.read_bytes()[:200])
    message = fit_error("folder", "--out", tmp_path / "run", "--set", f"data.root={root}")
    assert "img3.png" in message


def test_class_with_a_single_image(tmp_path, fit_error, write_image_folder):
    root = write_image_folder(tmp_path / "images", {"cat": [("L", (16, 16), "png")] * 6,
                                                    "dog": [("L", (16, 16), "png")]})
    message = fit_error("folder", "--out", tmp_path / "run", "--set", f"data.root={root}")
    assert "'dog'" in message and "1 image" in message


def test_torchvision_data_set_not_found(tmp_path, fit_error):
    root = tmp_path / "data"
    root.mkdir()
    message = fit_error("digits", "--out", tmp_path / "run", "--set", "data.source=torchvision:MNIST",
                        "--set", f"data.root={root}")
    assert "MNIST" in message and "not found" in message and "download" in message
    assert list(root.iterdir()) == []  # nothing fetched or created


def test_torchvision_corrupt_files(tmp_path, fit_error, write_mnist):
    root = write_mnist(tmp_path / "data")
    (root / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"garbage, not an IDX file")
    message = fit_error("digits", "--out", tmp_path / "run", "--set", "data.source=torchvision:MNIST",
                        "--set", f"data.root={root}")
    assert "MNIST" in message and "cannot be read" in message


def test_torchvision_unknown_data_set(tmp_path, fit_error):
    message = fit_error("digits", "--out", tmp_path / "run", "--set", "data.source=torchvision:MNSIT",
                        "--set", f"data.root={tmp_path}")
    assert "MNSIT" in message


# ---------------------------------------------------------------- run directory problems


def test_existing_out_without_resume(small_run, fit_error, hash_files):
    before = hash_files(small_run)
    message = fit_error("digits", "--out", small_run, "--steps", 2)
    assert "already exists" in message and "--resume" in message
    assert hash_files(small_run) == before  # left exactly as it was


def test_resume_with_a_different_recipe_value(small_run, fit_error):
    message = fit_error("digits", "--out", small_run, "--resume", "--steps", 4, "--set", "train.lr_g=0.001")
    assert "train.lr_g" in message and "cannot resume" in message
    assert [line for line in (small_run / "metrics.jsonl").read_text().splitlines()][-1].startswith('{"step": 2,')


def test_resume_with_a_different_recipe(small_run, fit_error):
    message = fit_error("mnist5k", "--out", small_run, "--resume")
    assert "cannot resume" in message and "start a new --out" in message


def test_resume_on_a_folder_that_is_not_a_run(tmp_path, fit_error):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"x")
    message = fit_error("digits", "--out", folder, "--resume")
    assert "photos" in message and "not a ganaug run directory" in message
    assert sorted(p.name for p in folder.iterdir()) == ["holiday.jpg"]


def test_resume_on_a_missing_folder(tmp_path, fit_error):
    message = fit_error("digits", "--out", tmp_path / "nothing", "--resume")
    assert "not a ganaug run directory" in message


def test_resume_with_an_unreadable_config(tmp_path, fit_error):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.toml").write_text("this is = not = toml\n")
    message = fit_error("digits", "--out", folder, "--resume")
    assert "config.toml" in message and "not valid TOML" in message


def test_resume_with_a_corrupt_checkpoint(small_run, fit_error):
    newest = small_run / "checkpoints" / "step_0000002"
    (newest / "generator.safetensors").write_bytes(b"\x00" * 10)
    message = fit_error("digits", "--out", small_run, "--resume", "--steps", 3, "--set", "log.checkpoint_every=1")
    assert "step_0000002" in message and "not a readable safetensors file" in message
    assert "resume from an older one" in message


def test_resume_when_the_data_changed(tmp_path, cli, cli_error, tiny_args, write_image_folder):
    root = write_image_folder(tmp_path / "images", {"a": [("L", (16, 16), "png")] * 6,
                                                    "b": [("L", (16, 16), "png")] * 6})
    out = tmp_path / "run"
    assert cli(["fit", "folder", "--out", out, "--steps", 1, "--set", f"data.root={root}", *tiny_args()]).exit_code == 0
    write_image_folder(root, {"b": [("L", (16, 16), "png")] * 7})  # one more image
    result = cli(["fit", "folder", "--out", out, "--resume", "--steps", 2, "--set", f"data.root={root}", *tiny_args()])
    assert result.exit_code == 2
    assert "changed" in cli_error(result)


# ---------------------------------------------------------------- usage errors (click's own messages)


def test_resume_needs_out(cli):
    result = cli(["fit", "digits", "--resume"])
    assert result.exit_code == 2
    assert "--resume needs --out" in result.output
    assert "Traceback" not in result.output


def test_steps_must_be_positive(cli, tmp_path):
    result = cli(["fit", "digits", "--out", tmp_path / "run", "--steps", 0])
    assert result.exit_code == 2
    assert "--steps" in result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_cuda_requested_without_a_gpu(tmp_path, fit_error):
    message = fit_error("digits", "--out", tmp_path / "run", "--device", "cuda")
    assert "cuda" in message.lower() and "--device cpu" in message


# ---------------------------------------------------------------- a real process


def test_real_process_prints_one_line_and_no_traceback(tmp_path):
    """Outside click's test runner too: stderr is the one error line, the exit status 2."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-m", "ganaug", "fit", "digits", "--out", str(tmp_path / "r"),
                           "--set", "train.stepz=1"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("ganaug: error:") and "train.stepz" in proc.stderr
    assert proc.stdout == ""


def test_a_failed_start_leaves_no_run_directory(tmp_path):
    """Bad data is reported before the run directory exists, so the same --out works once fixed."""
    from click.testing import CliRunner

    from ganaug.cli.main import main

    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["fit", "folder", "--out", str(out),
                                       "--set", f"data.root={tmp_path / 'missing'}"])
    assert result.exit_code == 2
    assert not out.exists()
