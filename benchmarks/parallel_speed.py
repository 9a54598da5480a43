"""Many processes on one machine: `fit` on 1 process against torchrun with N, and `compare --jobs N` against 1.

Both are measured in the same session, alternating, on the same data, so that machine noise hits every variant
alike; figures are ratios against the one-process run of the same round. One process runs with torch's default
threads (all cores); N processes or jobs share the cores out (the defaults a user gets).

- fit: the mnist5k recipe (conditional DCGAN, 32 px, batch 64 in all), --steps steps; the rate is the median of
  the images/s fit logs after its first logging interval.
- compare: a grid of --cells cells (the small CNN, --epochs epochs) on a run of the digits recipe and its
  synthetic set, made once beforehand; the figure is wall time for the whole grid. `--jobs 1` also runs on one
  thread (OMP_NUM_THREADS=1): N jobs can gain at most N x over that, and what one process already gains from
  its threads is what N jobs cannot gain again.

    python benchmarks/parallel_speed.py [--processes 2] [--rounds 2] [--fit-steps 120] [--seeds 2] [--epochs 8]
                                        [--out results/parallel_cpu] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from ganaug.device import bf16_is_fast

FIT_SETTINGS = ["eval.every=0", "log.every=10", "log.checkpoint_every=1000", "log.sample_every=1000"]
COMPARE_STRATEGIES = "baseline,classic,trivialaugment,uniform,soft,conditional+classic"


def run(command: list[str], env: dict[str, str] | None = None) -> float:
    """Seconds the command took; its output only if it fails."""
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def fit_rate(work: Path, name: str, processes: int, steps: int, settings: list[str]) -> float:
    out = work / name
    sets = [a for s in [*FIT_SETTINGS, *settings] for a in ("--set", s)]
    args = ["-m", "ganaug", "fit", "mnist5k", "--out", str(out), "--steps", str(steps), "--device", "cpu", *sets]
    if processes == 1:
        run([sys.executable, *args])
    else:
        threads = str(max(1, torch.get_num_threads() // processes))
        run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", *args],
            env={"OMP_NUM_THREADS": threads})
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return statistics.median(r["images_per_s"] for r in rows[10:])  # after the first interval (warm-up)


def compare_seconds(work: Path, name: str, run_dir: Path, synthetic: Path, jobs: int, seeds: int,
                    epochs: int, threads: int | None = None) -> float:
    return run([sys.executable, "-m", "ganaug", "compare", str(run_dir), "--synthetic", str(synthetic), "--out",
                str(work / name), "--strategies", COMPARE_STRATEGIES, "--ratios", "1", "--seeds", str(seeds),
                "--epochs", str(epochs), "--jobs", str(jobs), "--device", "cpu"],
               env={"OMP_NUM_THREADS": str(threads)} if threads else None)


def machine() -> dict:
    flags = ""
    if Path("/proc/cpuinfo").is_file():
        flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").is_file() else ""
    return {"cpu": model, "cores": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "avx512_bf16": "avx512_bf16" in flags, "amx": "amx_bf16" in flags, "native_bf16_used": bf16_is_fast(
                torch.device("cpu")), "python": platform.python_version()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--fit-steps", type=int, default=120)
    parser.add_argument("--seeds", type=int, default=2, help="compare grid: seeds (cells = 6 strategies x seeds)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--setup-steps", type=int, default=200, help="steps of the digits run compare uses")
    parser.add_argument("--count", type=int, default=4000, help="images of its synthetic set")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a recipe override for every fit (as `ganaug fit --set`), e.g. for a quick check")
    parser.add_argument("--out", type=Path, default=Path("results/parallel_cpu"))
    args = parser.parse_args(argv)
    n = args.processes
    sets = [a for s in args.set for a in ("--set", s)]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run([sys.executable, "-m", "ganaug", "fit", "digits", "--out", str(work / "digits"), "--steps",
             str(args.setup_steps), "--device", "cpu", "--set", "eval.every=0", "--set", "model.conditional=true",
             *sets])
        run([sys.executable, "-m", "ganaug", "augment", str(work / "digits"), "--out", str(work / "synthetic"),
             "--count", str(args.count), "--labels", "soft", "--device", "cpu"])
        fit: dict[str, list[float]] = {"1 process": [], f"{n} processes (torchrun)": []}
        grid: dict[str, list[float]] = {"--jobs 1": [], f"--jobs {n}": [], "--jobs 1, one thread": []}
        for r in range(args.rounds):
            order = [1, n] if r % 2 == 0 else [n, 1]  # alternate who goes first
            for p in order:
                key = "1 process" if p == 1 else f"{n} processes (torchrun)"
                fit[key].append(fit_rate(work, f"fit{p}-{r}", p, args.fit_steps, args.set))
                grid["--jobs 1" if p == 1 else f"--jobs {n}"].append(compare_seconds(
                    work, f"cmp{p}-{r}", work / "digits", work / "synthetic", p, args.seeds, args.epochs))
                if p == 1:
                    grid["--jobs 1, one thread"].append(compare_seconds(
                        work, f"cmp1t-{r}", work / "digits", work / "synthetic", 1, args.seeds, args.epochs, 1))
            print(f"round {r + 1}: fit {[round(v[-1], 1) for v in fit.values()]} images/s, "
                  f"compare {[round(v[-1], 1) for v in grid.values()]} s", flush=True)
    one_fit, n_fit = statistics.median(fit["1 process"]), statistics.median(fit[f"{n} processes (torchrun)"])
    fit_ratio = n_fit / one_fit
    seconds = {name: statistics.median(values) for name, values in grid.items()}
    one_job, n_jobs, one_thread = seconds["--jobs 1"], seconds[f"--jobs {n}"], seconds["--jobs 1, one thread"]
    grid_ratio, threads_ratio = one_job / n_jobs, one_thread / one_job
    facts = machine()
    command = (f"python benchmarks/parallel_speed.py --processes {n} --rounds {args.rounds} --fit-steps "
               f"{args.fit_steps} --seeds {args.seeds} --epochs {args.epochs} --setup-steps {args.setup_steps} "
               f"--count {args.count} --out {args.out}" + "".join(f" --set {s}" for s in args.set))
    cells = 6 * args.seeds
    lines = [
        "# Many processes on one CPU machine", "", f"Command: `{command}`", "",
        f"Machine: {facts}", "",
        "| what | 1 process | " + f"{n} processes | speed-up |", "| --- | ---: | ---: | ---: |",
        f"| fit mnist5k (images/s, median of {args.rounds} rounds) | {one_fit:.1f} | {n_fit:.1f} | {fit_ratio:.2f}x |",
        f"| compare, {cells} cells x {args.epochs} epochs (s, median) | {one_job:.1f} | {n_jobs:.1f} "
        f"| {grid_ratio:.2f}x |",
        f"| compare, the same grid: `--jobs 1` on one thread against `--jobs 1` on {facts['threads']} (s, median) "
        f"| {one_thread:.1f} | {one_job:.1f} | {threads_ratio:.2f}x |",
        f"| compare: `--jobs {n}` against `--jobs 1` on one thread (at most {n}x) | {one_thread:.1f} "
        f"| {n_jobs:.1f} | {one_thread / n_jobs:.2f}x |",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text("\n".join(lines))
    args.out.with_suffix(".json").write_text(json.dumps(
        {"command": command, "machine": facts, "fit_images_per_s": fit, "compare_seconds": grid,
         "fit_speedup": fit_ratio, "compare_speedup": grid_ratio, "compare_threads_speedup": threads_ratio},
        indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
