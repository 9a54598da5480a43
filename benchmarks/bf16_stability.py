"""Does bf16 autocast train as well as fp32? The digits recipe, both precisions, several seeds.

Reports, per run: whether it finished without NaN/inf, loss spikes (steps where
loss_g jumps by more than 5), and `ganaug evaluate`'s sample quality of the
final EMA generator (1,000 images against the validation split, teacher
features): FID, precision, recall, coverage. Saves a PNG of the sample grids
(fp32 on top, bf16 below).

    python benchmarks/bf16_stability.py [--seeds 0 1 2] [--steps 300] [--out results/bf16_stability]
                                        [--count 1000] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from itertools import pairwise
from pathlib import Path

import numpy as np
from PIL import Image

from ganaug.config import load_recipe
from ganaug.io import atomic_path, write_json
from ganaug.stages.evaluate.run import evaluate
from ganaug.stages.fit.run import fit

QUALITY = ("fid", "precision", "recall", "coverage")


def quality(run: Path, count: int) -> dict[str, float]:
    """The final checkpoint's scores, as `ganaug evaluate RUN --count COUNT` gives them."""
    q = evaluate(run, count=count, device="cpu", progress=False).report.quality
    return {"fid": q.fid, "precision": q.precision, "recall": q.recall, "coverage": q.coverage}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("results/bf16_stability"))
    parser.add_argument("--count", type=int, default=1000, help="images `ganaug evaluate` measures per run")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a recipe override for every run (as `ganaug fit --set`), e.g. for a quick check")
    args = parser.parse_args(argv)
    results, grids = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for precision in ("fp32", "bf16"):
            for seed in args.seeds:
                recipe, _ = load_recipe("digits", [*args.set, f"train.precision={precision}", f"train.seed={seed}",
                                                   f"train.steps={args.steps}"])
                run = Path(tmp) / f"{precision}-{seed}"
                row = {"dtype": precision, "seed": seed}
                try:
                    fit(recipe, run, device="cpu", progress=False)
                    row["finished"] = True
                except Exception as e:  # a diverged run is a result here, not a crash
                    row.update(finished=False, error=str(e))
                rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
                row["loss_g_spikes"] = sum(abs(b["loss_g"] - a["loss_g"]) > 5 for a, b in pairwise(rows))
                row["final_loss_d"], row["final_loss_g"] = rows[-1]["loss_d"], rows[-1]["loss_g"]
                row.update(quality(run, args.count))
                results.append(row)
                grids.append(Image.open(run / "samples" / "latest.png").convert("L"))
                print(row, flush=True)
    n = len(args.seeds)
    w, h = grids[0].size
    sheet = Image.new("L", (w * n, h * 2), 255)
    for i, grid in enumerate(grids):
        sheet.paste(grid, ((i % n) * w, (i // n) * h))
    with atomic_path(args.out.with_suffix(".png")) as tmp_png:
        sheet.resize((sheet.width // 2, sheet.height // 2)).save(tmp_png, format="PNG")
    summary = {}
    for precision in ("fp32", "bf16"):
        sel = [r for r in results if r["dtype"] == precision]
        summary[precision] = {k: (float(np.mean([r[k] for r in sel])), float(np.std([r[k] for r in sel])))
                              for k in (*QUALITY, "loss_g_spikes")}
        summary[precision]["finished"] = sum(r["finished"] for r in sel)
    extra = "".join(f" --set {s}" for s in args.set) + (f" --count {args.count}" if args.count != 1000 else "")
    write_json(args.out.with_suffix(".json"),
               {"command": f"python benchmarks/bf16_stability.py --seeds {' '.join(map(str, args.seeds))} "
                           f"--steps {args.steps}{extra}",
                "runs": results, "summary_mean_std": summary})
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
