"""Does bf16 autocast train as well as fp32? The digits recipe, both precisions, several seeds.

Reports, per run: whether it finished without NaN/inf, loss spikes (steps where
loss_g jumps by more than 5), and `ganaug evaluate`'s sample quality of the
final EMA generator (1,000 images against the validation split, teacher
features): FID, precision, recall, coverage. Saves a PNG of the sample grids
(fp32 on top, bf16 below).

    python benchmarks/bf16_stability.py [--seeds 0 1 2] [--steps 300] [--out results/bf16_stability]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from ganaug.config import load_recipe
from ganaug.stages.evaluate.run import evaluate
from ganaug.stages.fit.run import fit
from ganaug.io import atomic_path, write_json

QUALITY = ("fid", "precision", "recall", "coverage")


def quality(run: Path) -> dict[str, float]:
    """The final checkpoint's scores, as `ganaug evaluate RUN --count 1000` gives them."""
    metrics = evaluate(run, count=1000, device="cpu", progress=False).metrics
    return {key: float(metrics[key]) for key in QUALITY}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("results/bf16_stability"))
    args = parser.parse_args()
    results, grids = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for precision in ("fp32", "bf16"):
            for seed in args.seeds:
                recipe, _ = load_recipe("digits", [f"train.precision={precision}", f"train.seed={seed}", f"train.steps={args.steps}"])
                run = Path(tmp) / f"{precision}-{seed}"
                row = {"dtype": precision, "seed": seed}
                try:
                    fit(recipe, run, device="cpu", progress=False)
                    row["finished"] = True
                except Exception as e:  # a diverged run is a result here, not a crash
                    row.update(finished=False, error=str(e))
                rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
                row["loss_g_spikes"] = sum(abs(b["loss_g"] - a["loss_g"]) > 5 for a, b in zip(rows, rows[1:]))
                row["final_loss_d"], row["final_loss_g"] = rows[-1]["loss_d"], rows[-1]["loss_g"]
                row.update(quality(run))
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
    write_json(args.out.with_suffix(".json"),
               {"command": f"python benchmarks/bf16_stability.py --seeds {' '.join(map(str, args.seeds))} --steps {args.steps}",
                "runs": results, "summary_mean_std": summary})
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
