"""The EMA generator's derived buffers, averaged or re-estimated: an ablation on saved checkpoints.

Until 70c0a49 the EMA generator averaged all of the live generator's state, including buffers that are estimates
made from the weights: spectral norm's power-iteration vectors u and v, and batch-norm running statistics. Now
they are re-estimated on the averaged weights (ganaug.gan.derived_state). This scores each checkpoint's EMA
weights with each combination, on 2,000 images from the same seeds against the run's validation split, in its
teacher's features:

  as saved              the checkpoint's own buffers (averaged in runs trained before 70c0a49);
  u, v re-estimated     u and v as ganaug now makes them, batch-norm statistics as saved;
  statistics re-measured  batch-norm statistics as ganaug now makes them, u and v as saved;
  live statistics       the live generator's batch-norm statistics from the same checkpoint (close to what
                        averaging gave), u and v re-estimated; step checkpoints only;
  both re-estimated     what `augment`, `evaluate` and `compare` now use.

    python benchmarks/ema_statistics.py RUN[:CHECKPOINT] ... [--count 2000] [--out results/generators/ema_statistics]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch import Tensor

from ganaug.gan.derived_state import batch_norm_buffers
from ganaug.runs.checkpoint import EMA_FILE
from ganaug.runs.generator import RunGenerator
from ganaug.runs.quality import Reference, measure
from ganaug.tensorfile import load_tensors


def scored(generator: RunGenerator, reference: Reference, count: int) -> dict[str, float]:
    labels = torch.arange(count) % generator.num_classes if generator.conditional else None
    quality, _ = measure(reference, generator.generate(torch.arange(count), labels), labels)
    row = {"fid": quality.fid, "precision": quality.precision, "recall": quality.recall}
    if quality.label_agreement is not None:
        row["label_agreement"] = quality.label_agreement.overall
    return row


def variants(folder: Path, refreshed: dict[str, Tensor], statistics: list[str]) -> dict[str, dict[str, Tensor]]:
    """The generator states to score, by name: `refreshed` is the state as ganaug now loads it, `statistics` the
    names of its batch-norm buffers."""
    saved = load_tensors(folder / EMA_FILE, advice="")
    out = {"as saved": saved,
           "u, v re-estimated": {**refreshed, **{k: saved[k] for k in statistics}},
           "statistics re-measured": {**saved, **{k: refreshed[k] for k in statistics}}}
    if (folder / "generator.safetensors").exists():
        live = load_tensors(folder / "generator.safetensors", advice="")
        out["live statistics"] = {**refreshed, **{k: live[k] for k in statistics}}
    return out | {"both re-estimated": refreshed}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="RUN or RUN:CHECKPOINT (a step or best; default: the newest)")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path("results/generators/ema_statistics"))
    args = parser.parse_args(argv)
    rows = []
    for item in args.runs:
        run, _, checkpoint = item.partition(":")
        generator = RunGenerator.load(run, checkpoint or None, device="cpu")
        reference = Reference.for_run(generator.run, torch.device("cpu"), progress=False)
        refreshed = {k: v.clone() for k, v in generator.module.state_dict().items()}
        folder = generator.run.root / generator.checkpoint
        for name, state in variants(folder, refreshed, batch_norm_buffers(generator.module)).items():
            generator.module.load_state_dict(state)
            rows.append({"run": Path(run).name, "checkpoint": generator.checkpoint, "buffers": name,
                         **scored(generator, reference, args.count)})
            print(rows[-1], flush=True)
    lines = ["| run | checkpoint | buffers | FID | precision | recall | label agreement |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['run']} | {r['checkpoint']} | {r['buffers']} | {r['fid']:.2f} | {r['precision']:.3f} "
              f"| {r['recall']:.3f} | {r.get('label_agreement', float('nan')):.3f} |" for r in rows]
    command = "python benchmarks/ema_statistics.py " + " ".join(args.runs) + f" --count {args.count} --out {args.out}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"command": command, "rows": rows}, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(
        f"# EMA generator: averaged against re-estimated derived buffers\n\nCommand: `{command}`\n\n"
        + "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
