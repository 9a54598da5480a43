"""Sample grids name their rows: a per-class grid is only useful if a reader can tell which row is which class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.utils import make_grid, save_image

from ganaug.pictures import LABEL_CHARS, class_rows, save_image_grid, short_label

SIDE, SCALE = 16, 4  # 16 px cells are enlarged 4x to reach 64 px


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L"))


def row_bands(rows: int) -> list[slice]:
    """The pixel rows of each grid row's cells (2 px padding around 16 px cells, enlarged 4x)."""
    return [slice((2 + r * (SIDE + 2)) * SCALE, (2 + r * (SIDE + 2) + SIDE) * SCALE) for r in range(rows)]


def assert_labelled_rows(picture: np.ndarray, margin: int, rows: int) -> None:
    """The margin is white around the names, and every row's band has ink in it."""
    assert margin > 0
    left = picture[:, :margin]
    assert left.max() == 255 and (left == 255).mean() > 0.5
    for band in row_bands(rows):
        assert (left[band] < 128).any(), "a row without its name"


def test_row_labels_add_a_margin_with_each_name_and_leave_the_grid_alone(tmp_path):
    images = torch.rand(12, 1, SIDE, SIDE)
    save_image_grid(images, 4, tmp_path / "plain.png")
    save_image_grid(images, 4, tmp_path / "named.png", ["cat", "dog", "0 - zero"])
    plain, named = pixels(tmp_path / "plain.png"), pixels(tmp_path / "named.png")
    margin = named.shape[1] - plain.shape[1]
    assert named.shape[0] == plain.shape[0]
    assert_labelled_rows(named, margin, rows=3)
    assert np.array_equal(named[:, margin:], plain), "the cells themselves are unchanged, to the right of the names"


def test_a_grid_without_labels_is_what_it_always_was(tmp_path):
    images = torch.rand(10, 3, SIDE, SIDE)
    save_image_grid(images, 4, tmp_path / "grid.png")
    with Image.open(tmp_path / "grid.png") as image:
        assert image.size == ((4 * (SIDE + 2) + 2) * SCALE, (3 * (SIDE + 2) + 2) * SCALE)
    old = F.interpolate(make_grid(images, nrow=4, padding=2, pad_value=0.5).unsqueeze(0), scale_factor=SCALE,
                        mode="nearest").squeeze(0)
    save_image(old, tmp_path / "old.png", format="png")
    assert (tmp_path / "grid.png").read_bytes() == (tmp_path / "old.png").read_bytes()


def test_long_names_are_cut_short(tmp_path):
    long = "a rather long class name from some image folder"
    assert short_label(long) == long[:LABEL_CHARS] + "…"
    assert short_label("cat") == "cat" and short_label("two\nlines\t") == "two lines"
    images = torch.rand(4, 1, SIDE, SIDE)
    save_image_grid(images, 2, tmp_path / "long.png", [long, "b"])
    save_image_grid(images, 2, tmp_path / "cut.png", [long[:LABEL_CHARS + 1], "b"])
    assert np.array_equal(pixels(tmp_path / "long.png"), pixels(tmp_path / "cut.png"))


def test_class_rows_put_each_class_on_its_own_row():
    images = torch.arange(7).view(7, 1, 1, 1).float()
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    cells, classes = class_rows(images, labels, columns=3, max_rows=2)
    assert classes == [0, 1]
    assert cells.flatten().tolist() == [0, 3, 6, 1, 4, 0]  # class 1 has two images: a blank cell ends its row


def test_the_preview_of_a_conditional_set_names_its_classes(tmp_path, tiny_runs):
    from ganaug.stages.augment import augment

    augment(tiny_runs["conditional"], tmp_path / "cond", count=40, progress=False, device="cpu")
    augment(tiny_runs["unconditional"], tmp_path / "plain", count=40, progress=False, device="cpu")
    named, plain = pixels(tmp_path / "cond" / "preview.png"), pixels(tmp_path / "plain" / "preview.png")
    grid_width = (10 * (SIDE + 2) + 2) * SCALE
    assert plain.shape[1] == grid_width, "no classes, no names, no margin"
    assert named.shape[0] == (10 * (SIDE + 2) + 2) * SCALE  # one row per digit
    assert_labelled_rows(named, named.shape[1] - grid_width, rows=10)
