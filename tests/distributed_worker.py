"""Run by tests/test_distributed.py under torchrun (gloo, CPU): fit's own training step on several processes.

    torchrun --nproc_per_node 2 tests/distributed_worker.py MODE OUT_DIR

identical: 6 steps; after each, every rank's G, D and EMA weights and buffers are compared with rank 0's.
nan: rank 1 alone gets a NaN loss at step 3; the trainer must stop every rank with TrainingDiverged.
Each rank writes OUT_DIR/rank<R>.json with what it saw.
"""

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from ganaug.config import load_recipe
from ganaug.data import InMemoryBatches, load_pool
from ganaug.distributed import World, joined
from ganaug.errors import TrainingDiverged
from ganaug.stages.fit.run import build_parts, build_step, rank_streams
from ganaug.stages.fit.trainer import Trainer

TINY = ["model.g_width=8", "model.d_width=8", "model.z_dim=16", "data.image_size=16", "train.batch_size=16",
        "train.precision=fp32", "train.diffaugment=color,translation,cutout", "train.ada_target=0.6",
        "train.ada_interval=1", "model.conditional=true"]


def state_vector(parts) -> torch.Tensor:
    modules = (parts.generator, parts.discriminator, parts.ema.module)
    tensors = [t for m in modules for t in (*m.parameters(), *m.buffers())]
    return torch.cat([t.detach().double().reshape(-1) for t in tensors] + [parts.ada.p.double().reshape(1)])


def main(mode: str, out: Path) -> None:
    world = World.from_environment()
    recipe, _ = load_recipe("digits", TINY)
    with joined(world, torch.device("cpu")):
        pool = load_pool(recipe.data)
        parts = build_parts(recipe, pool, torch.device("cpu"))
        batches = InMemoryBatches(pool.images, pool.labels, recipe.train.batch_size // world.size, recipe.train.seed)
        rank_streams(parts, batches, recipe.train.seed, world)
        step = build_step(recipe, parts, batches, torch.device("cpu"))
        report: dict = {"rank": world.rank, "size": world.size}
        if mode == "identical":
            differences, first_batch = [], batches.next_indices()[:4].tolist()
            for _ in range(6):
                metrics = step()
                mine = state_vector(parts)
                theirs = mine.clone()
                dist.broadcast(theirs, src=0)
                differences.append(float((mine - theirs).abs().max()))
            report.update(differences=differences, first_batch=first_batch, loss_d=float(metrics["loss_d"]),
                          ada_p=float(parts.ada.p))
        else:
            count = {"calls": 0}

            def poisoned():
                metrics = step()
                count["calls"] += 1
                if world.rank == 1 and count["calls"] == 3:
                    metrics["loss_d"] = metrics["loss_d"] * float("nan")
                return metrics

            try:
                Trainer(poisoned, total_steps=20, log_every=5).fit()
                report["error"] = None
            except TrainingDiverged as e:
                report["error"] = str(e)
        (out / f"rank{world.rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
