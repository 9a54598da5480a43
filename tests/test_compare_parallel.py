"""`compare --jobs N` and `--shard I/N`: the same rows as one process, no race on runs.csv, shards merged by a rerun."""

import shutil
import threading
import time

import pandas as pd
import pytest
import torch

from ganaug.errors import UsageError
from ganaug.io import output_folder
from ganaug.sharding import Shard
from ganaug.stages.compare import compare
from ganaug.stages.compare.cell import ClassifierSettings
from ganaug.stages.compare.grid import build_grid, parse_strategies
from ganaug.stages.compare.parallel import check_jobs
from ganaug.stages.compare.report import threads_note

QUICK = ClassifierSettings(epochs=1, batch_size=128)
GRID = {"strategies": "baseline,uniform,soft@fresh", "ratios": "1", "seeds": 2}
SAME = ["strategy", "ratio", "seed", "key", "test_accuracy", "macro_f1", "val_accuracy", "best_epoch", "threads"]
"""What must not depend on how the grid was run (seconds do)."""


@pytest.fixture(scope="module")
def conditional_run(tiny_runs, tmp_path_factory):
    return shutil.copytree(tiny_runs["conditional"], tmp_path_factory.mktemp("par") / "run")


@pytest.fixture
def one_thread():
    """Every process on one thread, so convolutions sum in the same order in all of them."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _rows(path) -> pd.DataFrame:
    return pd.read_csv(path)[SAME].sort_values("key").reset_index(drop=True)


def test_shards_partition_the_grid_whatever_is_done():
    cells = build_grid(parse_strategies(GRID["strategies"]), [1.0], 3)
    shares = [Shard.parse(f"{i}/3").select(cells) for i in (1, 2, 3)]
    keys = [c.key for share in shares for c in share]
    assert sorted(keys) == sorted(c.key for c in cells) and len(set(keys)) == len(keys)
    halves = [Shard.parse(f"{i}/2").select(cells) for i in (1, 2)]
    assert {c.strategy for c in halves[0]} == {"baseline", "uniform", "soft@fresh"}  # spread over the grid
    assert {c.seed for c in halves[1]} == {0, 1, 2}
    assert Shard.parse(" 2 / 3 ") == Shard(2, 3)


@pytest.mark.parametrize("text", ["0/2", "3/2", "2", "a/b", "1/0", "-1/2"])
def test_a_bad_shard_is_refused_in_one_line(text):
    with pytest.raises(UsageError, match="--shard must be I/N"):
        Shard.parse(text)


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True, 10_000])
def test_bad_jobs_are_refused(jobs):
    with pytest.raises(UsageError, match="--jobs"):
        check_jobs(jobs)


def test_bad_shard_through_the_cli(cli, cli_error, conditional_run, tmp_path):
    line = cli_error(cli(["compare", conditional_run, "--out", tmp_path / "r", "--shard", "5/4"]))
    assert "--shard must be I/N" in line
    assert not (tmp_path / "r").exists()


def test_jobs_and_shards_give_the_rows_of_one_process(conditional_run, tmp_path, one_thread):
    sharded = tmp_path / "sharded"
    first = compare(conditional_run, sharded, **GRID, classifier=QUICK, progress=False, shard="1/2")
    made = (sharded / "synthetic" / "manifest.json").stat().st_mtime_ns
    assert first.summary.empty and not (sharded / "summary.csv").exists() and not (sharded / "runs.csv").exists()
    assert len(pd.read_csv(sharded / "shards" / "1-of-2.csv")) == 3
    second = compare(conditional_run, sharded, **GRID, classifier=QUICK, progress=False, shard="2/2")
    assert len(second.runs) == 3
    assert (sharded / "synthetic" / "manifest.json").stat().st_mtime_ns == made  # set up once, used by both
    merged = compare(conditional_run, sharded, **GRID, classifier=QUICK, progress=False)  # trains nothing
    assert (sharded / "summary.csv").is_file() and len(pd.read_csv(sharded / "runs.csv")) == 6

    synthetic = sharded / "synthetic"
    alone = compare(conditional_run, tmp_path / "alone", synthetic=synthetic, **GRID, classifier=QUICK,
                    progress=False)
    compare(conditional_run, tmp_path / "jobs", synthetic=synthetic, **GRID, classifier=QUICK, progress=False,
            jobs=2)
    pd.testing.assert_frame_equal(_rows(tmp_path / "alone" / "runs.csv"), _rows(sharded / "runs.csv"))
    pd.testing.assert_frame_equal(_rows(tmp_path / "alone" / "runs.csv"), _rows(tmp_path / "jobs" / "runs.csv"))
    columns = ["strategy", "ratio", "mean", "std", "vs_baseline"]
    pd.testing.assert_frame_equal(alone.summary[columns], merged.summary[columns])  # in the grid's order too
    assert "different numbers of CPU threads" not in (sharded / "summary.md").read_text()


def test_a_grid_whose_cells_ran_with_different_thread_counts_says_so(conditional_run, tmp_path, one_thread):
    out = tmp_path / "mixed"
    compare(conditional_run, out, **GRID, classifier=QUICK, progress=False)
    runs = pd.read_csv(out / "runs.csv")
    runs.loc[runs["seed"] == 1, "threads"] = 2  # as if seed 1 had been trained by a resume with other threads
    runs.to_csv(out / "runs.csv", index=False)
    compare(conditional_run, out, **GRID, classifier=QUICK, progress=False)  # trains nothing, summarises again
    assert "different numbers of CPU threads (1, 2" in (out / "summary.md").read_text()
    assert threads_note(pd.DataFrame({"threads": [None, None]})) == ""  # GPU cells: no thread count
    assert threads_note(pd.DataFrame({"test_accuracy": [0.9]})) == ""  # a runs.csv from before the column


def test_a_shard_continues_after_a_stop_and_skips_cells_done_elsewhere(conditional_run, tmp_path, one_thread):
    out = tmp_path / "r"
    compare(conditional_run, out, **GRID, classifier=QUICK, progress=False)  # the whole grid, unsharded
    before = (out / "runs.csv").read_bytes()
    result = compare(conditional_run, out, **GRID, classifier=QUICK, progress=False, shard="1/2")
    assert result.runs.empty and not (out / "shards" / "1-of-2.csv").exists()  # nothing left for it to do
    assert (out / "runs.csv").read_bytes() == before


def test_a_shard_waits_for_the_folder_instead_of_failing(tmp_path):
    entered = []

    def second():
        with output_folder(tmp_path / "f", wait=True):
            entered.append(time.monotonic())

    with output_folder(tmp_path / "f"):
        waiting = threading.Thread(target=second)
        waiting.start()
        time.sleep(0.5)
        assert not entered  # still waiting while the first holds the folder
        released = time.monotonic()
    waiting.join(10)
    assert entered and entered[0] >= released
