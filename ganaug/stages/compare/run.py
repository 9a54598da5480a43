"""`compare`: does adding GAN images help a classifier, with which labels and how many? Train the grid, report.

RESULTS_DIR/
  compare.json     the exact command, settings, versions and machine
  synthetic/       the synthetic set used (generated here unless --synthetic names one)
  runs.csv         one row per (strategy, ratio, seed) cell, written after every cell
  summary.csv/.md  mean ± std, 95% interval, paired differences to baseline, classic and the best classical
                   strategy (chosen on validation; Holm-corrected) with p-values
  accuracy.png     accuracy against ratio per strategy
  synthetic_quality.json  FID, precision/recall, memorisation, label agreement of the synthetic set used

A restarted comparison skips the cells already in runs.csv.
"""

from __future__ import annotations

import math
import platform
import shutil
import sys
import warnings
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from ganaug import __version__
from ganaug.classify.models import check_classifier
from ganaug.device import resolve_device
from ganaug.errors import OutputError, RunDirError, UsageError
from ganaug.io import atomic_path, output_folder, read_json, write_json
from ganaug.labels import fill_smallest
from ganaug.runs.generator import checkpoint_folder
from ganaug.runs.quality import QualityReport, Reference, measure
from ganaug.runs.run_dir import RunDir
from ganaug.runs.synthset import MANIFEST, SynthSet
from ganaug.sharding import Shard
from ganaug.stages.augment import augment
from ganaug.stages.compare.cell import ClassifierSettings
from ganaug.stages.compare.data import CompareData
from ganaug.stages.compare.grid import Cell, build_grid, parse_ratios, parse_seeds, parse_strategies
from ganaug.stages.compare.parallel import check_jobs, rows_file, shard_row_files, train_cells
from ganaug.stages.compare.report import plot_accuracy, write_summary
from ganaug.stages.compare.stats import summarise

SETTINGS_FILE = "compare.json"
SET_UP = "set_up"
"""compare.json's mark that the synthetic set and its quality are complete (shards started later use them)."""
QUALITY_FILE = "synthetic_quality.json"
QUALITY_IMAGES = 5000
OVERSAMPLE = 2
"""The generated set holds this many times the largest ratio's need, so seeds draw different images."""
CONFIDENT_SHARE = 0.5
"""For `confident` cells the set is made as if only this share of its images passed the teacher's filter."""


DEFAULT_CLASSIFIER = ClassifierSettings()
"""compare's classifier settings when none are given (frozen, so one shared default is safe)."""


@dataclass(frozen=True)
class CompareResult:
    out: Path
    runs: pd.DataFrame
    summary: pd.DataFrame


def compare(run_dir: str | Path, out: str | Path, *, synthetic: str | Path | None = None,
            strategies: str | Sequence[str] = ("baseline", "classic", "uniform"),
            ratios: str | Sequence[float] = (0.5, 1, 2), seeds: int | Sequence[int] = 5,
            classifier: ClassifierSettings = DEFAULT_CLASSIFIER, checkpoint: str | int | None = None,
            device: str = "auto", progress: bool = True, jobs: int = 1, shard: str | Shard | None = None,
            ) -> CompareResult:
    """Train the grid of (strategy, ratio, seed) cells into `out`; ganaug.compare is its Python face.

    strategies and ratios: sequences, or the CLI's comma-separated text; seeds: how many (0 to n-1), or which.
    checkpoint: the generator that makes the synthetic set when none is given: a step, "best" (lowest validation
    FID, the honest choice) or None for the newest. jobs: cells trained at once, each in a process of its own.
    shard: "I/N" trains only the I-th of N fixed shares of the grid into out/shards/ (no summary); a call without
    a shard then merges every shard's rows, trains what is missing and summarises (ganaug.stages.compare.parallel).
    """
    run, out, torch_device = RunDir.open(Path(run_dir)), Path(out), resolve_device(device)
    if checkpoint is not None:
        if synthetic is not None:
            raise UsageError("--checkpoint picks the generator of the set compare makes; a --synthetic set was "
                             "made already (from the checkpoint its manifest names): give one or the other")
        checkpoint_folder(run, checkpoint)
    cells = build_grid(parse_strategies(strategies), parse_ratios(ratios), seeds)
    shard, jobs = Shard.of(shard), check_jobs(jobs)
    check_classifier(classifier.model)
    fixed = {"run": str(run.root.resolve()), "synthetic": str(Path(synthetic).resolve()) if synthetic else None,
             **asdict(classifier), **({"checkpoint": str(checkpoint)} if checkpoint is not None else {})}
    # Bad data, or a --synthetic set from another run or split, fail before anything is written.
    data = CompareData.load(run, SynthSet(synthetic) if synthetic is not None else None)
    _check_settings(out, fixed)
    # A shard holds the folder only to set it up (others wait meanwhile); its cells write a file of their own.
    with output_folder(out, what="results folder", keep_on_error=lambda: bool(_read_runs(out)), wait=bool(shard)):
        if _check_settings(out, fixed):  # again, now that this process holds the folder
            _clear_setup(out)
        set_up = (out / SETTINGS_FILE).is_file() and read_json(out / SETTINGS_FILE).get(SET_UP, False)
        record = {  # the CLI's text as typed; Python sequences as lists
            "settings": fixed, "strategies": strategies if isinstance(strategies, str) else list(strategies),
            "ratios": ratios if isinstance(ratios, str) else [float(r) for r in ratios],
            "seeds": seeds if isinstance(seeds, int) else parse_seeds(seeds), "command": sys.argv,
            "environment": _environment(torch_device), **({SET_UP: True} if set_up else {})}
        write_json(out / SETTINGS_FILE, record)
        if data.synthetic is None and any(c.uses_gan for c in cells):
            data = data.with_synthetic(_generate_synthetic(
                run, out, cells, classifier, torch.bincount(data.train.labels, minlength=data.num_classes).tolist(),
                checkpoint, progress))
        data.check(cells, classifier.epochs)
        _warn_if_too_small(len(data.test.labels))
        quality = _synthetic_quality(run, data, out, torch_device, progress) if data.synthetic else None
        write_json(out / SETTINGS_FILE, {**record, SET_UP: True})  # kept from now on, cells or not
        if shard is None:
            return _run_grid(run, out, data, cells, classifier, torch_device, quality, progress, jobs)
    return _run_shard(run, out, data, cells, classifier, torch_device, shard, progress, jobs)


def _run_grid(run: RunDir, out: Path, data: CompareData, cells: list[Cell], classifier: ClassifierSettings,
              torch_device: torch.device, quality: QualityReport | None, progress: bool, jobs: int) -> CompareResult:
    """Train the cells not yet in runs.csv or a shard's rows (runs.csv rewritten after each), then summarise and
    plot."""
    rows = _train_missing(run, out / "runs.csv", _read_runs(out), data, cells, classifier, torch_device, progress,
                          jobs)
    order = {c.key: i for i, c in enumerate(cells)}  # grid order, whichever process finished first; others last
    rows.sort(key=lambda row: order.get(row["key"], len(order)))
    if rows:
        _write_rows(out / "runs.csv", rows)  # also when the shards had trained every cell: the merge
    runs = pd.DataFrame([r for r in rows if r["key"] in order])
    summary = summary_table(runs)
    title = (f"{run.root.name}: {classifier.model}, {len(data.train.labels)} real training images, "
             f"{data.num_classes} classes")
    write_summary(summary, runs, out, title, quality)
    plot_accuracy(summary, out / "accuracy.png", title)
    return CompareResult(out, runs, summary)


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """summary.csv: test accuracy per strategy and ratio, with mean macro-F1 and the mean validation accuracy
    that chooses among strategies honestly."""
    summary = summarise(runs)
    summary.insert(5, "macro_f1", summarise(runs, "macro_f1")["mean"])
    summary.insert(6, "val_accuracy", summarise(runs, "val_accuracy")["mean"])
    return summary


SMALL_TEST_SPLIT = 500
"""Below this many test images, compare says which differences the split can resolve before spending the time."""
CEILING = 0.995


def _warn_if_too_small(test_images: int) -> None:
    """One test image is 100/n points: differences of a point or two are noise on a split of a few dozen."""
    if test_images >= SMALL_TEST_SPLIT:
        return
    step = 100 / test_images
    warnings.warn(f"the test split has only {test_images} images: test accuracy moves in steps of {step:.2f} points, "
                  f"so differences below about {2 * step:.1f} points (two images) cannot be told apart; use a larger "
                  "data.test_fraction or more data", UserWarning, stacklevel=3)


def _warn_at_a_ceiling(row: dict, cell: Cell) -> None:
    """Real data alone at (nearly) 100% validation accuracy leaves nothing for GAN images to gain."""
    if not cell.uses_gan and row["val_accuracy"] >= CEILING:
        warnings.warn(f"{cell.name} already reaches {CEILING:.1%} validation accuracy or more: at this ceiling no "
                      "strategy can show a gain; a smaller training split (data.train_per_class) or harder data "
                      "would tell strategies apart", UserWarning, stacklevel=3)


def _check_settings(out: Path, fixed: dict) -> bool:
    """`out` must be new, a comparison with these settings (to continue), or one stopped while it was set up
    (nothing to lose: True, its set-up may be cleared and started afresh)."""
    if not out.exists():
        return False
    if not out.is_dir():
        raise OutputError(f"results folder {str(out)!r} exists and is not a folder; choose another --out")
    settings = out / SETTINGS_FILE
    if not settings.is_file():
        if any(out.iterdir()):
            raise UsageError(f"{str(out)!r} exists and is not a ganaug comparison; choose another --out")
        return False
    record = read_json(settings)
    if not _read_runs(out) and not (isinstance(record, dict) and record.get(SET_UP)):
        return True
    before = record.get("settings") if isinstance(record, dict) else None
    if not isinstance(before, dict):
        raise RunDirError(f"{settings} is damaged (no settings); restore it, or choose another --out")
    changed = [k for k in fixed if before.get(k) != fixed[k]]
    if changed:
        raise UsageError(f"{out} holds a comparison with other {', '.join(changed)} ({before.get(changed[0])!r}); "
                         "use a new --out, or the same settings to continue it")
    return False


def _clear_setup(out: Path) -> None:
    """What a comparison stopped while it was set up left behind."""
    for leftover in (out / SETTINGS_FILE, out / QUALITY_FILE):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(out / "synthetic", ignore_errors=True)


def synthetic_count(cells: Sequence[Cell], classifier: ClassifierSettings, train_counts: Sequence[int]) -> int:
    """Synthetic images to generate for the grid: OVERSAMPLE x the largest draw, a new draw for each epoch for
    `fresh`, enough to survive the filter for `confident`, and for `balance` enough of every class for the one that
    needs most (a conditional run makes the classes in turn) (`train_counts`: real training images per class)."""
    real = sum(train_counts)

    def need(cell: Cell) -> int:
        if cell.use == "balance":
            return max(fill_smallest(train_counts, round(cell.ratio * real))) * len(train_counts) * OVERSAMPLE
        draw = math.ceil(cell.ratio / (CONFIDENT_SHARE if cell.use == "confident" else 1) * real)
        return draw * (classifier.epochs if cell.use == "fresh" else OVERSAMPLE)
    return max(need(c) for c in cells if c.uses_gan)


def _generate_synthetic(run: RunDir, out: Path, cells: Sequence[Cell], classifier: ClassifierSettings,
                        train_counts: Sequence[int], checkpoint: str | int | None, progress: bool) -> SynthSet:
    target = out / "synthetic"
    if (target / MANIFEST).is_file():  # made by an earlier, interrupted call
        return SynthSet(target)
    count = synthetic_count(cells, classifier, train_counts)
    # soft labels train the teacher, so the set carries teacher probabilities for argmax, soft and CAS.
    return augment(run.root, target, count=count, labels="soft", checkpoint=checkpoint, progress=progress).synthetic


def _synthetic_quality(run: RunDir, data: CompareData, out: Path, device: torch.device,
                       progress: bool) -> QualityReport:
    """Measured once per comparison, so readers can see whether quality and downstream gain move together."""
    path = out / QUALITY_FILE
    if not path.is_file():  # the file also names the set measured, beside the report's keys
        synthetic, all_images, all_info = data.synthetic_set()
        images, info = all_images[:QUALITY_IMAGES], all_info.take(slice(0, QUALITY_IMAGES))
        quality, _ = measure(Reference.for_run(run, device, progress=progress), images, info.generated_for)
        write_json(path, {"synthetic": str(synthetic.root), **quality.to_json()})
    return QualityReport.from_json(read_json(path))


def _run_shard(run: RunDir, out: Path, data: CompareData, cells: list[Cell], classifier: ClassifierSettings,
               torch_device: torch.device, shard: Shard, progress: bool, jobs: int) -> CompareResult:
    """Train this shard's cells not yet done anywhere in `out` into its own rows file; no summary (the
    unsharded call that merges the shards writes it)."""
    path = rows_file(shard, out)
    mine = shard.select(cells)
    rows = _train_missing(run, path, _read_rows(path), data, mine, classifier, torch_device, progress, jobs,
                          done_elsewhere={row["key"] for row in _read_runs(out)})
    return CompareResult(out, pd.DataFrame(rows), pd.DataFrame())


def _train_missing(run: RunDir, path: Path, rows: list[dict], data: CompareData, cells: list[Cell],
                   classifier: ClassifierSettings, torch_device: torch.device, progress: bool, jobs: int,
                   done_elsewhere: Collection[str] = ()) -> list[dict]:
    """`rows` plus a row for each cell not in them (nor in done_elsewhere), written to `path` after every cell."""
    done = {row["key"] for row in rows} | set(done_elsewhere)
    todo = [c for c in cells if c.key not in done]
    by_key = {c.key: c for c in todo}
    with tqdm(total=len(cells), initial=len(cells) - len(todo), desc="compare", unit="cell",
              disable=not progress) as bar:
        for row in train_cells(run, data, todo, classifier, torch_device, jobs):
            rows.append(row)
            _write_rows(path, rows)
            bar.set_postfix_str(row["key"])
            bar.update()
            _warn_at_a_ceiling(row, by_key[row["key"]])
    return rows


def _read_runs(out: Path) -> list[dict]:
    """Every finished cell's row: runs.csv, then the shards' rows it does not hold yet (the merge)."""
    rows = _read_rows(out / "runs.csv")
    keys = {row["key"] for row in rows}
    for path in shard_row_files(out):
        for row in _read_rows(path):
            if row["key"] not in keys:
                rows.append(row)
                keys.add(row["key"])
    return rows


def _read_rows(path: Path) -> list[dict]:
    return pd.read_csv(path, dtype={"ratio": float}).to_dict("records") if path.is_file() else []  # 1, not 1.0


def _write_rows(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False, float_format="%.6g")


def _environment(device: torch.device) -> dict:
    return {"ganaug": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "device": str(device), "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, "
            f"cpu capability {torch.backends.cpu.get_cpu_capability()}"}
