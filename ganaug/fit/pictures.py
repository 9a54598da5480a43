"""PNGs people look at instead of reading numbers: sample grids and loss curves."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.utils import make_grid, save_image

from ganaug.io import atomic_path
from ganaug.plots import png_figure


@torch.no_grad()
def save_sample_grid(generator: nn.Module, noise: Tensor, labels: Tensor | None, columns: int, path: Path) -> None:
    """One row per class for conditional generators (labels given), else a plain grid."""
    save_image_grid(generator(noise, labels).float().add(1).div(2).clamp(0, 1), columns, path)


def save_image_grid(images: Tensor, columns: int, path: Path) -> None:
    """images: float in [0, 1] or uint8, N x C x S x S; small images are enlarged without blurring."""
    images = images.cpu().float().div(255) if images.dtype == torch.uint8 else images.cpu()
    grid = make_grid(images, nrow=columns, padding=2, pad_value=0.5)
    if images.shape[-1] < 64:
        grid = F.interpolate(grid.unsqueeze(0), scale_factor=64 // images.shape[-1], mode="nearest").squeeze(0)
    with atomic_path(path) as tmp:
        save_image(grid, tmp, format="png")


def save_loss_curve(rows: list[dict], path: Path) -> None:
    if not rows:
        return
    steps = [r["step"] for r in rows]
    with png_figure(path, 1, 2, figsize=(10, 3.5)) as (fig, (losses, scores)):
        for key in ("loss_d", "loss_g"):
            losses.plot(steps, [r[key] for r in rows], label=key, linewidth=0.8)
        for key in ("d_real", "d_fake"):
            scores.plot(steps, [r[key] for r in rows], label=key, linewidth=0.8)
        losses.set(xlabel="step", title="losses")
        scores.set(xlabel="step", title="mean discriminator score")
        for ax in (losses, scores):
            ax.legend()
            ax.grid(alpha=0.3)


def fixed_noise(num_classes: int, columns: int, z_dim: int, seed: int) -> tuple[Tensor, Tensor | None]:
    """The same noise at every grid, so grids show progress rather than new draws."""
    rows = min(num_classes, 20) if num_classes else columns
    generator = torch.Generator().manual_seed(seed + 7919)
    noise = torch.randn(rows * columns, z_dim, generator=generator)
    labels = torch.arange(rows).repeat_interleave(columns) if num_classes else None
    return noise, labels


def save_evaluation_curves(rows: list[dict], path: Path) -> None:
    """FID and the k-NN scores over training, from evaluations.jsonl."""
    if not rows:
        return
    steps = [r["step"] for r in rows]
    with png_figure(path, 1, 2, figsize=(10, 3.5)) as (fig, (fid, knn)):
        fid.plot(steps, [r["fid"] for r in rows], marker="o")
        fid.set(xlabel="step", title="validation FID (lower is better, log scale)", yscale="log")
        for key in ("precision", "recall", "coverage", "label_agreement", "near_copies"):
            if key in rows[0]:
                knn.plot(steps, [r[key] for r in rows], marker=".", label=key)
        knn.set(xlabel="step", ylim=(0, 1.05), title="k-NN scores and agreement")
        knn.legend(fontsize=8)
        for ax in (fid, knn):
            ax.grid(alpha=0.3)
