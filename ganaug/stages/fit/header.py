"""The facts a user should see before a run spends its time: data, split, device, precision, model.

Printed by `fit` before the first step, so nothing is chosen silently: an automatic
image size, `--device auto` falling back to the CPU, `precision = "auto"` running
fp32 on a CPU without native bf16, files that were left out.
"""

from __future__ import annotations

import torch

from ganaug.config import Recipe
from ganaug.data import ImagePool, Split
from ganaug.data.split import class_counts

SHOWN = 8
"""Class names (and skipped files) listed by name; the rest are counted."""


def run_header(recipe: Recipe, pool: ImagePool, split: Split, device: torch.device, asked_device: str,
               precision: torch.dtype | None, processes: int = 1) -> list[str]:
    """Lines describing the run about to train."""
    d, m, t = recipe.data, recipe.model, recipe.train
    size = f"{pool.image_size}x{pool.image_size}"
    if not d.image_size:
        size += f" (auto: the power of two nearest the images' median side, {pool.median_side} px)"
    train_counts = class_counts(split.train, pool)
    lines = [
        f"data:       {pool.source}: {pool.num_classes} classes ({_names(pool.class_names)}), "
        f"{pool.channels} channel{'s' if pool.channels > 1 else ''}, {size}",
        f"split:      {len(split.train)} train / {len(split.val)} validation / {len(split.test)} test images "
        f"(train per class: {min(train_counts)}-{max(train_counts)}{_long_tail(d.imbalance_ratio)})",
    ]
    if pool.skipped or pool.unreadable:
        lines.append(f"left out:   {len(pool.skipped)} files that are not images ({_names(list(pool.skipped))}), "
                     f"{len(pool.unreadable)} unreadable images; both listed in run.json")
    lines += [
        f"device:     {device}" + (f" (auto: {'a CUDA GPU' if device.type == 'cuda' else 'no CUDA GPU'} visible)"
                                   if asked_device == "auto" else ""),
        f"precision:  {_precision(t.precision, precision, device)}",
        f"model:      {'conditional ' if m.conditional else ''}{m.name}, {recipe.loss.name} loss, "
        f"{t.steps} steps of {t.batch_size} images" + (", class-balanced (train.class_balance)" if t.class_balance
                                                       else ""),
    ]
    if processes > 1:
        lines.append(f"processes:  {processes} (torchrun), {t.batch_size // processes} images each per step; gradients "
                     "averaged, rank 0 writes the run")
    return lines


def _long_tail(ratio: float) -> str:
    return f", long-tailed: data.imbalance_ratio = {ratio:g}" if ratio > 1 else ""


def _precision(asked: str, dtype: torch.dtype | None, device: torch.device) -> str:
    name = {None: "float32", torch.bfloat16: "bfloat16 autocast",
            torch.float16: "float16 autocast with loss scaling"}[dtype]
    if asked != "auto":
        return name
    if dtype == torch.bfloat16:
        return f"{name} (auto: native bf16 on this {device.type.upper()})"
    if dtype == torch.float16:
        return f"{name} (auto: this GPU has no bf16)"
    where = "GPU" if device.type == "cuda" else "CPU (it has no AVX512-BF16 or AMX)"
    return f"{name} (auto: no native bf16 on this {where}; train.precision = 'bf16' forces it)"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:SHOWN])
    return shown + (f", ... {len(names) - SHOWN} more" if len(names) > SHOWN else "")
