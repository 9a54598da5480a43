"""Running a comparison's cells in several processes (`--jobs N`) or on several machines (`--shard I/N`).

Every cell trains from its own seed and reads only the run's data and the synthetic set, so its row does not depend
on which process trained it: one process, N jobs or N shards merged give the same runs.csv (up to row order and
`seconds`), as long as each cell has the same number of CPU threads (runs.csv's `threads`). On a CPU the kernels sum
in an order that depends on the threads, which moved the same seed's cell by up to 1.2 accuracy points between 1 and
2 threads in bf16 (results/beat_classical/README.md); N jobs split the threads N ways. Jobs are worker processes of
one compare call; only the calling process writes runs.csv, so rows cannot race. A shard is a whole compare call
that trains a fixed 1/N of the grid (every N-th cell, so each shard gets every strategy and seed) and writes its
rows to shards/I-of-N.csv, its own file; an unsharded call over the same folder reads all of them (the merge),
trains what is still missing and writes runs.csv and the summary.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

import torch

from ganaug.errors import UsageError
from ganaug.runs.run_dir import RunDir
from ganaug.runs.synthset import SynthSet
from ganaug.sharding import Shard
from ganaug.stages.compare.cell import ClassifierSettings, run_cell
from ganaug.stages.compare.data import CompareData
from ganaug.stages.compare.grid import Cell

SHARDS_FOLDER = "shards"
MAX_JOBS = 256


def rows_file(shard: Shard, out: Path) -> Path:
    """Where a compare shard writes its rows."""
    return out / SHARDS_FOLDER / f"{shard.name}.csv"


def check_jobs(jobs: int) -> int:
    if not isinstance(jobs, int) or isinstance(jobs, bool) or not 1 <= jobs <= MAX_JOBS:
        raise UsageError(f"--jobs must be a whole number of processes from 1 to {MAX_JOBS} (got {jobs!r})")
    return jobs


def shard_row_files(out: Path) -> list[Path]:
    """The rows sharded calls left in `out`, in a fixed order."""
    return sorted((out / SHARDS_FOLDER).glob("*-of-*.csv"))


def train_cells(run: RunDir, data: CompareData, cells: Sequence[Cell], classifier: ClassifierSettings,
                device: torch.device, jobs: int) -> Iterator[dict]:
    """Each cell's row as it finishes: in this process when jobs is 1, else in `jobs` worker processes (each
    with its share of this process's threads, or on a GPU of its own when `device` names none and there are
    several)."""
    if jobs == 1 or len(cells) <= 1:
        for cell in cells:
            yield run_cell(data, cell, classifier, device)
        return
    jobs = min(jobs, len(cells))
    context = multiprocessing.get_context("spawn")  # fork would copy torch's thread pools and CUDA state
    worker_ids = context.Queue()
    for worker in range(jobs):
        worker_ids.put(worker)
    synthetic = str(data.synthetic.root) if data.synthetic is not None else None
    threads = max(1, torch.get_num_threads() // jobs)
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_worker,
                             initargs=(str(run.root), synthetic, str(device), threads, worker_ids)) as pool:
        pending: set[Future] = {pool.submit(_train_one, cell, classifier) for cell in cells}
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield future.result()  # a worker's error is raised here, after the rows before it were kept
        finally:
            for future in pending:
                future.cancel()


_WORKER: dict = {}
"""A worker process's data and device, loaded once by _start_worker, used by every cell it trains."""


def _start_worker(run_root: str, synthetic: str | None, device: str, threads: int, worker_ids) -> None:
    torch.set_num_threads(threads)
    torch_device = torch.device(device)
    if torch_device.type == "cuda" and torch_device.index is None and torch.cuda.device_count() > 1:
        torch_device = torch.device("cuda", worker_ids.get() % torch.cuda.device_count())
    data = CompareData.load(RunDir.open(Path(run_root)), SynthSet(synthetic) if synthetic else None)
    _WORKER.update(data=data, device=torch_device)


def _train_one(cell: Cell, classifier: ClassifierSettings) -> dict:
    return run_cell(_WORKER["data"], cell, classifier, _WORKER["device"])
