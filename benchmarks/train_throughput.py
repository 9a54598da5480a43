"""Training throughput: ganaug's trainer vs the textbook pytorch/examples DCGAN loop.

Both train the same architecture (DCGAN 64x64, ngf = ndf = 64, batch 64, Adam
2e-4 / 0.5) on the same images (the dcgan64 recipe's data, held in memory) in
the same process. Rounds alternate between the variants so that machine noise
hits all of them alike; each figure is the median over rounds, in images per
second (one image = one real + one generated sample through a full iteration).

    python benchmarks/train_throughput.py [--rounds 5] [--steps 8] [--out results/throughput_cpu]
                                          [--warmup 3] [--compile] [--profile] [--set KEY=VALUE ...]

--profile also runs each variant's steps once more under torch.profiler and reports the share of its CPU time
spent in convolutions (oneDNN kernels that every variant calls alike), and the ceiling that sets: the speed-up
over the textbook loop a variant would have if everything but its convolutions took no time (its measured
ratio divided by that share).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from ganaug.config import load_recipe
from ganaug.data import InMemoryBatches, load_pool
from ganaug.device import autocast_dtype
from ganaug.gan.diffaugment import DiffAugment
from ganaug.gan.losses import create_loss
from ganaug.stages.fit.run import build_parts
from ganaug.stages.fit.step import GanStep
from ganaug.stages.fit.trainer import Trainer


def textbook_models(nz: int, ngf: int, ndf: int, nc: int) -> tuple[nn.Module, nn.Module]:
    """Copied layer for layer from pytorch/examples/dcgan/main.py."""
    G = nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())
    D = nn.Sequential(
        nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())
    return G, D


class TextbookLoop:
    """The training loop of pytorch/examples/dcgan/main.py, fed by a DataLoader over in-memory tensors."""

    def __init__(self, images: torch.Tensor, batch_size: int, nz: int = 100) -> None:
        self.G, self.D = textbook_models(nz, 64, 64, images.shape[1])
        self.nz, self.batch_size = nz, batch_size
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.criterion = nn.BCELoss()
        data = torch.utils.data.TensorDataset(images.float().div(127.5).sub(1))
        self.loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=True)
        self.batches = iter(self.loader)

    def step(self) -> None:
        try:
            (real,) = next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            (real,) = next(self.batches)
        b = real.size(0)
        self.D.zero_grad()
        err_real = self.criterion(self.D(real).view(-1), torch.full((b,), 1.0))
        err_real.backward()
        fake = self.G(torch.randn(b, self.nz, 1, 1))
        err_fake = self.criterion(self.D(fake.detach()).view(-1), torch.full((b,), 0.0))
        err_fake.backward()
        self.opt_d.step()
        self.G.zero_grad()
        err_g = self.criterion(self.D(fake).view(-1), torch.full((b,), 1.0))
        err_g.backward()
        self.opt_g.step()


def ganaug_runner(recipe, pool, precision: str, compile: bool = False):
    """A callable running `n` steps through ganaug's real Trainer and GanStep (with train.compile if asked)."""
    recipe = recipe.model_copy(update={"train": recipe.train.model_copy(update={"precision": precision})})
    device = torch.device("cpu")
    parts = build_parts(recipe, pool, device)
    batches = InMemoryBatches(pool.images, pool.labels, recipe.train.batch_size, 0, recipe.train.channels_last)
    step = GanStep(parts, create_loss(recipe.loss.name), batches, DiffAugment(recipe.train.diffaugment_policies),
                   recipe.train.d_steps, 0.0, autocast_dtype(precision, device), compile=compile)
    done = 0

    def run(n: int) -> None:
        nonlocal done
        Trainer(step, done + n, [], recipe.log.every, start_step=done).fit()
        done += n

    return run


def profiled(run, steps: int) -> tuple[float, float]:
    """(self CPU seconds of `steps` steps, the convolutions' share of them), by torch.profiler. Self times do not
    nest, so every operator with "conv" in its name counts once, whichever backend's kernel it is."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run(steps)
    ops = {e.key: e.self_cpu_time_total / 1e6 for e in prof.key_averages()}
    total = sum(ops.values())
    return total, sum(t for key, t in ops.items() if "conv" in key) / total


AUTO = "bf16 autocast" if autocast_dtype("auto", torch.device("cpu")) else "fp32"
"""What precision = "auto" picks on this CPU: bf16 only with native bf16 (AVX512-BF16 or AMX)."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=8, help="steps per variant per round")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("results/throughput_cpu"))
    parser.add_argument("--compile", action="store_true", help="also ganaug with train.compile (torch.compile)")
    parser.add_argument("--profile", action="store_true", help="also the convolutions' share of each variant's time")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a dcgan64 recipe override (as `ganaug fit --set`), "
                             "e.g. a smaller batch for a quick check")
    args = parser.parse_args(argv)

    recipe, _ = load_recipe("dcgan64", args.set)
    pool = load_pool(recipe.data)
    batch = recipe.train.batch_size
    textbook = TextbookLoop(pool.images, batch)
    variants = {
        "textbook (fp32)": lambda n: [textbook.step() for _ in range(n)],
        "ganaug fp32": ganaug_runner(recipe, pool, "fp32"),
        f"ganaug (recipe default: precision auto = {AUTO}, channels-last)": ganaug_runner(recipe, pool, "auto"),
    }
    if args.compile:  # minutes of compiling before the first round
        variants[f"ganaug + train.compile (precision auto = {AUTO})"] = ganaug_runner(recipe, pool, "auto", True)
    for run in variants.values():
        run(args.warmup)
    rates: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(args.rounds):
        for name, run in variants.items():
            start = time.perf_counter()
            run(args.steps)
            rates[name].append(args.steps * batch / (time.perf_counter() - start))
        latest = ", ".join(f"{n.split(' (')[0]} {v[-1]:.0f}" for n, v in rates.items())
        print(f"round {r + 1}/{args.rounds}: {latest}", flush=True)

    reference = statistics.median(rates["textbook (fp32)"])
    lines = ["| variant | images/s (median) | min-max | vs textbook |", "| --- | ---: | ---: | ---: |"]
    for name, values in rates.items():
        med = statistics.median(values)
        lines.append(f"| {name} | {med:.1f} | {min(values):.1f}-{max(values):.1f} | {med / reference:.2f}x |")
    profiles = {name: profiled(run, args.steps) for name, run in variants.items()} if args.profile else {}
    if profiles:  # the ceiling: the measured (median) ratio, had the time outside convolutions been zero
        lines += ["", f"Profiled ({args.steps} steps each, self CPU time):", "",
                  "| variant | CPU seconds | in convolutions | ceiling vs textbook if all else took no time |",
                  "| --- | ---: | ---: | ---: |"]
        lines += [f"| {name} | {seconds:.2f} | {share:.1%} "
                  f"| {statistics.median(rates[name]) / reference / share:.2f}x |"
                  for name, (seconds, share) in profiles.items()]
    table = "\n".join(lines)
    print(table)
    machine = {"python": platform.python_version(), "torch": torch.__version__, "threads": torch.get_num_threads(),
               "cpu_capability": torch.backends.cpu.get_cpu_capability(),
               "processor": platform.processor() or platform.machine(), "precision_auto": AUTO}
    command = (f"python benchmarks/train_throughput.py --rounds {args.rounds} --steps {args.steps} --out {args.out}"
               + " --compile" * args.compile + " --profile" * args.profile + "".join(f" --set {s}" for s in args.set))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(
        {"command": command,
         "batch_size": batch, "image_size": pool.image_size, "data": recipe.data.source, "machine": machine,
         "images_per_s": rates, "ratio_vs_textbook": {n: statistics.median(v) / reference for n, v in rates.items()},
         "profile": {n: {"cpu_seconds": t, "convolution_share": c} for n, (t, c) in profiles.items()}},
        indent=1) + "\n")
    args.out.with_suffix(".md").write_text(
        f"# Training throughput, dcgan64 recipe (CPU)\n\nCommand: `{command}`\n\n"
        f"Machine: {machine}\n\nData: {recipe.data.source} at {pool.image_size}x{pool.image_size}, batch {batch}, "
        f"in memory for both loops.\n\n{table}\n")


if __name__ == "__main__":
    main()
