"""Does bf16 autocast train as well as fp32? The digits recipe, both precisions, several seeds.

Reports, per run: whether it finished without NaN/inf, loss spikes (steps where
loss_g jumps by more than 5), and a cheap sample-quality proxy until FID lands:
a logistic regression trained on the run's real training split (images
downsampled to 8x8) scores 1,000 EMA-generator samples for confidence (mean
max probability) and coverage (entropy of the predicted class histogram, in
bits; 3.32 = all ten classes equally). Saves a PNG of the sample grids.

    python benchmarks/bf16_stability.py [--seeds 0 1 2] [--steps 300] [--out results/bf16_stability]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file
from sklearn.linear_model import LogisticRegression

from ganaug.config import load_recipe
from ganaug.data import Split, load_pool
from ganaug.fit.run import build_parts, fit


def downsample(images: torch.Tensor) -> np.ndarray:
    """uint8 or [-1, 1] images -> 8x8 features in [0, 1]."""
    x = images.float()
    x = x / 255 if images.dtype == torch.uint8 else (x + 1) / 2
    return F.adaptive_avg_pool2d(x, 8).flatten(1).numpy()


def quality(run: Path, recipe, pool, seed: int) -> dict[str, float]:
    split = Split.load(run / "split.json")
    clf = LogisticRegression(max_iter=2000).fit(downsample(pool.images[split.train]), pool.labels[split.train].numpy())
    parts = build_parts(recipe, pool, torch.device("cpu"))
    G = parts.ema.module
    G.load_state_dict(load_file(sorted((run / "checkpoints").glob("step_*"))[-1] / "ema_generator.safetensors"))
    with torch.no_grad():
        samples = G(torch.randn(1000, recipe.model.z_dim, generator=torch.Generator().manual_seed(seed)))
    probs = clf.predict_proba(downsample(samples))
    hist = np.bincount(probs.argmax(1), minlength=10) / len(probs)
    entropy = -sum(p * math.log2(p) for p in hist if p > 0)
    val_acc = clf.score(downsample(pool.images[split.val]), pool.labels[split.val].numpy())
    return {"confidence": float(probs.max(1).mean()), "class_entropy_bits": entropy, "proxy_val_accuracy": val_acc}


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
                row = {"precision": precision, "seed": seed}
                try:
                    fit(recipe, run, device="cpu", progress=False)
                    row["finished"] = True
                except Exception as e:  # a diverged run is a result here, not a crash
                    row.update(finished=False, error=str(e))
                rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
                row["loss_g_spikes"] = sum(abs(b["loss_g"] - a["loss_g"]) > 5 for a, b in zip(rows, rows[1:]))
                row["final_loss_d"], row["final_loss_g"] = rows[-1]["loss_d"], rows[-1]["loss_g"]
                row.update(quality(run, recipe, load_pool(recipe.data), seed))
                results.append(row)
                grids.append(Image.open(run / "samples" / "latest.png").convert("L"))
                print(row, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    n = len(args.seeds)
    w, h = grids[0].size
    sheet = Image.new("L", (w * n, h * 2), 255)
    for i, grid in enumerate(grids):
        sheet.paste(grid, ((i % n) * w, (i // n) * h))
    sheet.resize((sheet.width // 2, sheet.height // 2)).save(args.out.with_suffix(".png"))
    summary = {}
    for precision in ("fp32", "bf16"):
        sel = [r for r in results if r["precision"] == precision]
        summary[precision] = {k: (float(np.mean([r[k] for r in sel])), float(np.std([r[k] for r in sel])))
                              for k in ("confidence", "class_entropy_bits", "loss_g_spikes")}
        summary[precision]["finished"] = sum(r["finished"] for r in sel)
    args.out.with_suffix(".json").write_text(json.dumps(
        {"command": f"python benchmarks/bf16_stability.py --seeds {' '.join(map(str, args.seeds))} --steps {args.steps}",
         "runs": results, "summary_mean_std": summary}, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
