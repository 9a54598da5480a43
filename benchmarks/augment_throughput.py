"""`ganaug augment` throughput (images written per second) and peak memory at 10k and 200k images.

The run is the mnist5k recipe's conditional DCGAN (32 px, width 64) after one
training step: generation cost does not depend on how well the GAN is trained.
Each `augment` runs in its own child process so its peak resident memory
(ru_maxrss) is its own. The reference, measured in the same session, is the
bare generator: the same batches of 256 through G with no seeding, teacher,
table or disk. Figures are ratios to that reference, which absorbs machine noise.

    python benchmarks/augment_throughput.py [--counts 10000,200000] [--out results/augment_throughput]
                                            [--run RUN] [--reference-images 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch


def child(run: str, out: str, count: int) -> None:
    """Runs in a fresh process: one augment, then its own memory figures as JSON on stdout.

    Besides the peak, resident memory is sampled every 0.2 s: if memory grew with the count,
    the second half of the run would sit higher than the first.
    """
    from ganaug.stages.augment import augment

    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            pages = int(Path("/proc/self/statm").read_text().split()[1])
            samples.append((time.perf_counter(), pages * os.sysconf("SC_PAGE_SIZE") / 2**20))

    threading.Thread(target=sample, daemon=True).start()
    started = time.perf_counter()
    augment(run, out, count=count, progress=False)
    ended = time.perf_counter()
    done.set()
    middle = (started + ended) / 2
    halves = [[rss for t, rss in samples if started <= t < middle],
              [rss for t, rss in samples if middle <= t <= ended]]
    print(json.dumps({"seconds": ended - started,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "rss_first_half_max_mib": max(halves[0], default=0),
                      "rss_second_half_max_mib": max(halves[1], default=0)}))


def bare_generator(run: str, images: int) -> float:
    """Images per second from G alone, batches of 256, noise from the global RNG."""
    from ganaug.runs.generator import RunGenerator

    generator = RunGenerator.load(run, device="cpu")
    labels = torch.arange(256) % generator.num_classes
    with torch.no_grad(), torch.autocast("cpu", dtype=generator.autocast, enabled=generator.autocast is not None):
        generator.module(torch.randn(256, generator.z_dim), labels)  # warm-up
        started = time.perf_counter()
        for _ in range(images // 256):
            generator.module(torch.randn(256, generator.z_dim), labels).float().cpu()
    return (images // 256) * 256 / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="10000,200000")
    parser.add_argument("--out", default="results/augment_throughput")
    parser.add_argument("--run", help="measure this finished run (with a teacher) instead of mnist5k after one step")
    parser.add_argument("--reference-images", type=int, default=20_000,
                        help="images through the bare generator for the reference (batches of 256)")
    parser.add_argument("--child", nargs=3, metavar=("RUN", "OUT", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child[0], args.child[1], int(args.child[2]))

    work = Path(tempfile.mkdtemp(prefix="ganaug-bench-"))
    try:
        run = Path(args.run) if args.run else work / "run"
        if not args.run:
            subprocess.run([sys.executable, "-m", "ganaug", "fit", "mnist5k", "--out", str(run), "--steps", "1",
                            "--set", "log.checkpoint_every=1"], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        rows = []
        for count in map(int, args.counts.split(",")):
            reference = bare_generator(str(run), args.reference_images)
            done = subprocess.run([sys.executable, __file__, "--child", str(run), str(work / f"s{count}"), str(count)],
                                  check=True, capture_output=True, text=True)
            measured = json.loads(done.stdout.strip().splitlines()[-1])
            disk = sum(p.stat().st_size for p in (work / f"s{count}").rglob("*") if p.is_file())
            rows.append({"count": count, "images_per_s": count / measured["seconds"], **measured,
                         "bare_generator_images_per_s": reference,
                         "ratio_to_bare_generator": count / measured["seconds"] / reference,
                         "disk_mib": disk / 2**20})
            shutil.rmtree(work / f"s{count}")
            print(json.dumps(rows[-1]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    machine = f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}, " \
              f"cpu capability {torch.backends.cpu.get_cpu_capability()}"
    report = {"command": " ".join(["python", *sys.argv]), "machine": machine,
              "recipe": args.run or "mnist5k (32 px, width 64)", "rows": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    lines = ["# `ganaug augment` throughput and memory\n", f"Command: `{report['command']}`  ", f"Machine: {machine}  ",
             f"Run: {report['recipe']}, conditional, default settings (CSV table, 10,000-image shards).\n",
             "| images | seconds | images/s written | vs bare generator | peak RSS (MiB) "
             "| RSS max, 1st / 2nd half (MiB) | on disk (MiB) |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['count']:,} | {r['seconds']:.1f} | {r['images_per_s']:.0f} | {r['ratio_to_bare_generator']:.2f}x "
              f"| {r['peak_rss_mib']:.0f} | {r['rss_first_half_max_mib']:.0f} / {r['rss_second_half_max_mib']:.0f} "
              f"| {r['disk_mib']:.0f} |" for r in rows]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
