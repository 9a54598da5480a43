"""A new user's first runs on data ganaug has never seen: sizes from the data, facts said aloud, no silent traps."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from ganaug.config import load_recipe
from ganaug.data import load_pool


def _folder(root, sizes=(25, 25, 24, 26), classes=("a", "b"), mode="L"):
    rng = np.random.default_rng(0)
    for cls in classes:
        (root / cls).mkdir(parents=True)
        for i, size in enumerate(sizes * 2):
            shape = (size, size) if mode == "L" else (size, size, 3)
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(root / cls / f"{i}.png")
    return root


def _fit_args(root, out, *extra):
    return ["fit", "folder", "--out", out, "--steps", 2, "--set", f"data.root={root}", "--set", "model.g_width=8",
            "--set", "model.d_width=8", "--set", "train.batch_size=8", "--set", "model.z_dim=8", *extra]


# ---------------------------------------------------------------- 2: sizes and times from the data


@pytest.mark.parametrize("sides, expected", [((25, 25, 24, 26), 32), ((8, 8, 8, 8), 16), ((47, 50, 45, 49), 64),
                                             ((90, 100, 95, 100), 128)])
def test_image_size_is_the_power_of_two_nearest_the_median_side(tmp_path, sides, expected):
    root = _folder(tmp_path / "images", sides)
    pool = load_pool(load_recipe("folder", [f"data.root={root}"])[0].data)
    assert pool.image_size == expected and pool.median_side == int(np.median(sides * 2))
    fixed = load_pool(load_recipe("folder", [f"data.root={root}", "data.image_size=64"])[0].data)
    assert fixed.image_size == 64, "a size that is set is kept"


def test_fit_prints_what_the_run_will_take_after_its_first_steps(tmp_path, cli, tiny_args):
    result = cli(["fit", "digits", "--out", tmp_path / "r", "--steps", 60, *tiny_args()])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if line.startswith("estimate:"))
    assert "more steps at" in line and "steps/s" in line and "about" in line


# ---------------------------------------------------------------- 3: facts said aloud


def test_fit_starts_with_a_header_of_facts(tmp_path, cli):
    root = _folder(tmp_path / "images")
    (root / "a" / "notes.txt").write_text("not an image")
    result = cli(_fit_args(root, tmp_path / "run", "--device", "auto"))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "data:       folder:" in out and "2 classes (a, b)" in out and "1 channel" in out
    assert "32x32 (auto: the power of two nearest the images' median side, 25 px)" in out
    assert "split:" in out and "train /" in out and "validation /" in out
    assert "left out:   1 files that are not images (a/notes.txt)" in out
    assert "device:     cpu (auto: no CUDA GPU visible)" in out or "cuda" in out
    assert "precision:  " in out and "model:" in out
    data = json.loads((tmp_path / "run" / "run.json").read_text())["data"]
    assert data["skipped"] == ["a/notes.txt"] and data["unreadable"] == []


# ---------------------------------------------------------------- 7: one corrupt image need not stop fit


def test_a_corrupt_image_stops_fit_with_the_way_out_named(tmp_path, cli, cli_error):
    root = _folder(tmp_path / "images")
    (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not a png")
    message = cli_error(cli(_fit_args(root, tmp_path / "run")))
    assert "broken.png" in message and "data.on_error = 'skip'" in message
    assert not (tmp_path / "run").exists()


def test_on_error_skip_leaves_corrupt_images_out_and_lists_them(tmp_path, cli):
    root = _folder(tmp_path / "images")
    (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not a png")
    result = cli(_fit_args(root, tmp_path / "run", "--set", "data.on_error=skip"))
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "run" / "run.json").read_text())["data"]
    assert len(data["unreadable"]) == 1 and data["unreadable"][0].startswith("b/broken.png: ")
    assert "1 unreadable images" in result.stdout
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    assert len(split["train"]) + len(split["val"]) + len(split["test"]) == 16, "the 16 good images, not 17"


# ---------------------------------------------------------------- 8: resume from the run's own recipe


def test_resume_needs_no_recipe_and_still_refuses_a_different_one(tmp_path, cli, cli_error, tiny_args):
    out = tmp_path / "run"
    assert cli(["fit", "digits", "--out", out, "--steps", 2, *tiny_args(log__checkpoint_every=2)]).exit_code == 0
    result = cli(["fit", "--resume", "--out", out, "--steps", 4])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3, 4]
    message = cli_error(cli(["fit", "--resume", "--out", out, "--steps", 6, "--set", "model.g_width=16"]))
    assert "model.g_width" in message and "cannot resume" in message
    assert "RECIPE" in cli_error(cli(["fit", "--out", tmp_path / "other"]))


# ---------------------------------------------------------------- 5 and 9: warnings before time is spent


def test_balance_on_a_nearly_balanced_split_says_how_little_it_adds(tmp_path, cli, tiny_runs):
    result = cli(["augment", tiny_runs["conditional"], "--out", tmp_path / "s", "--balance"])
    assert result.exit_code == 0, result.output
    warning = next(line for line in result.stderr.splitlines() if line.startswith("ganaug: warning:"))
    assert "already nearly balanced" in warning and "--balance adds only" in warning


def test_compare_warns_about_a_test_split_too_small_to_resolve_differences(tmp_path, cli, tiny_runs):
    result = cli(["compare", tiny_runs["conditional"], "--out", tmp_path / "res", "--strategies", "baseline",
                  "--seeds", 1, "--epochs", 1, "--device", "cpu"])
    assert result.exit_code == 0, result.output
    warning = next(line for line in result.stderr.splitlines() if "the test split has only" in line)
    assert warning.startswith("ganaug: warning:") and "270 images" in warning and "0.37 points" in warning
