"""What a crash, a second writer or a full disk may and may not do: real processes, real signals, a real tmpfs.

- A SIGKILL at any moment leaves either the old state or a resumable one, never a half-written file under
  its final name; the next run cleans the dead process's temporaries and completes.
- Two processes never write one output: the second gets a one-line error, and a killed holder's lock is
  released by the kernel (no stale lock).
- A full disk is a one-line error and leaves no partial output.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from conftest import TINY

TINY_ARGS = [arg for key, value in TINY.items() for arg in ("--set", f"{key}={value}")]


def ganaug(*args: object) -> list[str]:
    return [sys.executable, "-m", "ganaug", *map(str, args)]


def start(*args: object) -> subprocess.Popen:
    return subprocess.Popen(ganaug(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for(condition, process: subprocess.Popen, what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"the process ended before {what}: {process.stderr.read()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def kill(process: subprocess.Popen) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def one_line_error(*args: object) -> str:
    proc = subprocess.run(ganaug(*args), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = [line.split("\r")[-1].strip() for line in proc.stderr.splitlines()]
    lines = [line for line in lines if line]
    assert "Traceback" not in proc.stderr and lines and lines[-1].startswith("ganaug: error:"), proc.stderr
    assert sum(line.startswith("ganaug: error:") for line in lines) == 1
    return lines[-1]


def temporaries(folder: Path) -> list[Path]:
    return list(folder.rglob(".*.tmp"))


def compare_args(seeds: int) -> list[str]:
    """A comparison of `seeds` one-epoch baseline cells (the seed count may change between runs of one folder)."""
    return ["--strategies", "baseline", "--seeds", str(seeds), "--epochs", "1", "--device", "cpu"]


LONG = compare_args(1000)
"""Far more cells than any test waits for: the process is always killed mid-grid."""


# ---------------------------------------------------------------- SIGKILL mid-write


def test_compare_killed_mid_write_keeps_finished_cells_and_a_rerun_completes(tmp_path, tiny_runs):
    out = tmp_path / "res"
    process = start("compare", tiny_runs["conditional"], "--out", out, *LONG)
    wait_for(lambda: (out / "runs.csv").is_file(), process, "the first cell finished")
    kill(process)  # while the next cells train and runs.csv is rewritten after each
    finished = pd.read_csv(out / "runs.csv")  # whole: written under a temporary name, then renamed
    assert len(finished) >= 1 and finished["test_accuracy"].notna().all()
    seeds = len(finished) + 2  # the rerun finishes the grid of these seeds, training only the missing cells
    subprocess.run(ganaug("compare", tiny_runs["conditional"], "--out", out, *compare_args(seeds)), check=True,
                   capture_output=True, timeout=600)
    rows = pd.read_csv(out / "runs.csv")
    assert sorted(rows["seed"]) == list(range(seeds))
    pd.testing.assert_frame_equal(rows.iloc[: len(finished)].drop(columns="seconds"),
                                  finished.drop(columns="seconds"), check_dtype=False)  # kept, not retrained
    assert temporaries(out) == [], "the rerun removes the killed process's temporaries"


def test_compare_killed_during_set_up_leaves_a_folder_a_rerun_accepts(tmp_path, tiny_runs):
    """Killed before any cell finished, even a rerun with other settings takes the folder over."""
    out = tmp_path / "res"
    process = start("compare", tiny_runs["conditional"], "--out", out, "--strategies", "baseline,uniform",
                    "--seeds", "1", "--epochs", "1", "--device", "cpu")
    wait_for(lambda: (out / "compare.json").is_file(), process, "compare.json was written")
    kill(process)
    assert not (out / "runs.csv").exists()
    subprocess.run(ganaug("compare", tiny_runs["conditional"], "--out", out, "--strategies", "baseline", "--seeds",
                          "1", "--epochs", "1", "--model", "small-cnn", "--schedule", "constant", "--device", "cpu"),
                   check=True, capture_output=True, timeout=600)
    assert len(pd.read_csv(out / "runs.csv")) == 1
    assert not (out / "synthetic").exists(), "the killed set-up's synthetic set was cleared, not kept"


# ---------------------------------------------------------------- one writer per output


def test_a_second_writer_is_refused_and_a_killed_holder_leaves_no_lock(tmp_path):
    out = tmp_path / "run"
    holder = start("fit", "digits", "--out", out, "--steps", "100000", *TINY_ARGS, "--set", "log.checkpoint_every=5")
    try:
        wait_for(lambda: (out / "checkpoints" / "step_0000005").is_dir(), holder, "the first checkpoint")
        message = one_line_error("fit", "digits", "--out", out, "--resume", *TINY_ARGS, "--set",
                                 "log.checkpoint_every=5")
        assert "another ganaug process is writing" in message
    finally:
        kill(holder)
    # the kernel released the lock with the process: the run resumes at once
    last = int(sorted((out / "checkpoints").glob("step_*"))[-1].name.split("_")[1])
    subprocess.run(ganaug("fit", "digits", "--out", out, "--resume", "--steps", last + 2, *TINY_ARGS, "--set",
                          "log.checkpoint_every=5"), check=True, capture_output=True, timeout=300)
    assert (out / "checkpoints" / f"step_{last + 2:07d}").is_dir() and temporaries(out) == []


def test_two_augments_into_one_set_and_two_compares_on_one_folder(tmp_path, tiny_runs):
    out = tmp_path / "s"
    first = start("augment", tiny_runs["unconditional"], "--out", out, "--count", "200000", "--shard-size", "200",
                  "--device", "cpu")
    try:
        wait_for(lambda: list(tmp_path.glob(".s.*/shards")), first, "the first augment started writing")
        message = one_line_error("augment", tiny_runs["unconditional"], "--out", out, "--count", "10")
        assert "another ganaug process is writing" in message
    finally:
        kill(first)

    results = tmp_path / "res"
    first = start("compare", tiny_runs["conditional"], "--out", results, *LONG)
    try:
        wait_for(lambda: (results / "compare.json").is_file(), first, "the first compare started")
        message = one_line_error("compare", tiny_runs["conditional"], "--out", results, *LONG)
        assert "another ganaug process is writing" in message
    finally:
        kill(first)


# ---------------------------------------------------------------- a full disk


def _fill(disk: Path, leave: int) -> None:
    """Leave about `leave` bytes free on `disk` (grows the filler file)."""
    filler = disk / "filler"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with filler.open("ab") as f:
        f.write(b"\0" * max(free - leave, 0))


def test_full_disk_fails_in_one_line_and_leaves_nothing(tmp_path, tiny_runs, small_disk):
    _fill(small_disk, 64 * 1024)
    before = sorted(p.name for p in small_disk.iterdir())
    message = one_line_error("augment", tiny_runs["unconditional"], "--out", small_disk / "s", "--count", "5000",
                             "--shard-size", "100", "--device", "cpu")
    assert "No space left on device" in message
    message = one_line_error("fit", "digits", "--out", small_disk / "run", "--steps", "20", *TINY_ARGS)
    assert "No space left on device" in message
    _fill(small_disk, 0)
    message = one_line_error("compare", tiny_runs["conditional"], "--out", small_disk / "res", *compare_args(1))
    assert "No space left on device" in message
    (small_disk / "filler").unlink()
    before.remove("filler")
    assert sorted(p.name for p in small_disk.iterdir()) == before, "no partial output and no temporaries"
