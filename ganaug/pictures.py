"""PNGs people look at instead of reading numbers: sample grids, loss and evaluation curves, and the one way
every chart in ganaug is made (`png_figure`: a headless matplotlib figure written atomically)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor
from torchvision.utils import make_grid, save_image

from ganaug.io import atomic_path

PADDING = 2  # make_grid's padding around cells, before enlarging
LABEL_CHARS = 16  # longer names are cut here and end in "…": one long class name must not make the grid unreadable
LABEL_GAP = 6  # white pixels either side of a row label


@contextlib.contextmanager
def png_figure(path: Path, rows: int = 1, columns: int = 1, *, dpi: int = 100, **subplots: Any) -> Iterator[tuple]:
    """`with png_figure(path, 1, 2, figsize=(10, 3)) as (fig, axes):` draw; the PNG appears when the block ends."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, columns, **subplots)
    try:
        yield fig, axes
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        plt.close(fig)


@torch.no_grad()
def save_sample_grid(generator: Callable[[Tensor, Tensor | None], Tensor], noise: Tensor, labels: Tensor | None,
                     columns: int, path: Path, row_labels: Sequence[str] | None = None) -> None:
    """One row per class for conditional generators (labels given, row_labels naming them), else a plain grid."""
    save_image_grid(generator(noise, labels).float().add(1).div(2).clamp(0, 1), columns, path, row_labels)


def save_image_grid(images: Tensor, columns: int, path: Path, row_labels: Sequence[str] | None = None) -> None:
    """images: float in [0, 1] or uint8, N x C x S x S; small images are enlarged without blurring.

    row_labels, one per row (class names), go in a white margin at the left: a row of a per-class grid
    tells a reader nothing until it says which class it is. Without them the grid is what it always was.
    """
    images = images.cpu().float().div(255) if images.dtype == torch.uint8 else images.cpu()
    grid = make_grid(images, nrow=columns, padding=PADDING, pad_value=0.5)
    scale = max(64 // images.shape[-1], 1)
    if images.shape[-1] < 64:
        grid = F.interpolate(grid.unsqueeze(0), scale_factor=scale, mode="nearest").squeeze(0)
    if row_labels is not None:
        rows = -(-len(images) // columns)
        if len(row_labels) != rows:
            raise ValueError(f"{len(row_labels)} row labels for a grid of {rows} rows")
        margin = _label_margin(row_labels, grid.shape[1], PADDING * scale, images.shape[-2] * scale, PADDING * scale)
        grid = torch.cat([margin.expand(grid.shape[0], -1, -1), grid], dim=2)
    with atomic_path(path) as tmp:
        save_image(grid, tmp, format="png")


def short_label(name: object) -> str:
    """One line (folder names may hold tabs or newlines) of at most LABEL_CHARS characters, then "…"."""
    text = " ".join(str(name).split())
    return text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS] + "…"


def _label_margin(row_labels: Sequence[str], height: int, top: int, cell: int, padding: int) -> Tensor:
    """1 x height x width floats in [0, 1]: black names on white, each centred on its row of cells."""
    font = ImageFont.load_default(size=max(10, min(20, cell // 4)))
    texts = [short_label(name) for name in row_labels]
    if not isinstance(font, ImageFont.FreeTypeFont):  # Pillow built without FreeType: a Latin-1 bitmap font
        texts = [t.replace("…", "...").encode("latin-1", "replace").decode("latin-1") for t in texts]
    boxes = [font.getbbox(t) for t in texts]
    margin = Image.new("L", (math.ceil(max((b[2] for b in boxes), default=0)) + 2 * LABEL_GAP, height), 255)
    draw = ImageDraw.Draw(margin)
    for row, (text, box) in enumerate(zip(texts, boxes, strict=True)):
        middle = top + row * (cell + padding) + cell // 2
        draw.text((LABEL_GAP, middle - (box[1] + box[3]) // 2), text, fill=0, font=font)
    return torch.from_numpy(np.array(margin)).unsqueeze(0).float().div(255)


def class_rows(images: Tensor, labels: Tensor, columns: int, max_rows: int) -> tuple[Tensor, list[int]]:
    """The first `columns` images of each of the first classes, one row each (blank cells where a class has
    fewer), and the class of each row: a grid whose rows can be named, whatever order the images came in."""
    classes = [int(c) for c in labels.unique(sorted=True)[:max_rows]]
    blank = torch.zeros_like(images[0])
    cells = []
    for c in classes:
        row = list(images[labels == c][:columns])
        cells += row + [blank] * (columns - len(row))
    return torch.stack(cells), classes


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
