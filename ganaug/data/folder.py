"""Image folders: finding each class's files, and decoding images to uint8 tensors.

The scan is our own rather than torchvision's ImageFolder, which follows symlinks
without remembering where it has been: a link loop inside a class folder made it
count the same files dozens of times, and put copies of one image in both the
training and the test split. Here every file and folder is resolved, so each real
file is counted once and a loop ends.

Decoding goes by pixel mode, because Pillow's `convert("RGB")` clips 16-bit grey at
255 (a 16-bit scan came out almost all white); modes that cannot be mapped to 8 bits
faithfully are refused by name.
"""

from __future__ import annotations

import os
import re
import warnings
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torchvision.datasets.folder import IMG_EXTENSIONS
from torchvision.transforms.v2 import functional as TF

from ganaug.errors import DataError
from ganaug.io import first_line

WIDE_GREY_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
"""16-bit grey, and 32-bit integer grey holding 16-bit values: scaled from 0..65535."""
GREY_MODES = ("1", "L", "LA")
COLOUR_MODES = ("P", "PA", "RGB", "RGBA", "CMYK", "YCbCr")
MODE_NAMES = {"F": "F (32-bit float)"}


@dataclass(frozen=True)
class FolderScan:
    classes: list[str]
    files: list[tuple[Path, int]]
    """Each image file with its class index: classes in order, files sorted within each."""
    skipped: tuple[str, ...]
    """Files that are not images (by extension), relative to the root, for the caller to report."""


class ImageFiles:
    """A folder scan as a data set: item i is file i decoded (uint8 C x H x W) with its class index."""

    def __init__(self, files: list[tuple[Path, int]], root: Path) -> None:
        self.files, self.root = files, root

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        path, label = self.files[index]
        return read_image(path), label

    def item_name(self, index: int) -> str:
        """The file, relative to the folder: how messages and run.json's unreadable list name it."""
        return str(self.files[index][0].relative_to(self.root))


def scan_folder(root: Path) -> FolderScan:
    """One sub-folder per class (sorted, hidden ones ignored); every real image file counted once."""
    if not root.is_dir():
        raise DataError(f"image folder {str(root)!r} does not exist; "
                        "set data.root to a folder with one sub-folder per class")
    class_folders, loose = _list_folder(root)
    if not class_folders:
        raise DataError(f"image folder {str(root)!r} has no class folders; put one sub-folder per class in it")
    owners: dict[Path, str] = {}
    skipped = list(loose)
    files: list[tuple[Path, int]] = []
    for label, folder in enumerate(class_folders):
        images = _class_images(folder, owners, skipped)
        if not images:
            raise DataError(f"image folder {str(root)!r}: class folder {folder.name!r} has no images; "
                            "every class needs at least one image")
        files += [(path, label) for path in images]
    return FolderScan([folder.name for folder in class_folders], files,
                      tuple(str(path.relative_to(root)) for path in skipped))


def _class_images(folder: Path, owners: dict[Path, str], skipped: list[Path]) -> list[Path]:
    """The image files under one class folder, each real file once; a file in two classes is an error."""
    images = []
    for path in _entries_under(folder):
        if not path.name.lower().endswith(IMG_EXTENSIONS) or not path.is_file():
            skipped.append(path)
            continue
        real = path.resolve()
        owner = owners.get(real)
        if owner is None:
            owners[real] = folder.name
            images.append(path)
        elif owner != folder.name:
            raise DataError(f"image {str(path)!r} is the same file as one in class {owner!r} (through a link); "
                            f"an image can belong to one class only: remove it from {owner!r} or {folder.name!r}")
    return images


def _entries_under(folder: Path) -> list[Path]:
    """Every non-folder entry under a folder, sorted by folder then name; each real folder is listed once."""
    visited: set[Path] = set()
    pending = deque([folder])  # breadth first: a folder is listed under its shortest path
    listed: list[tuple[str, list[Path]]] = []
    while pending:
        current = pending.popleft()
        real = current.resolve()
        if real in visited:  # a symlink back to a folder already listed: this is what ends a loop
            continue
        visited.add(real)
        subfolders, others = _list_folder(current)
        pending.extend(subfolders)
        listed.append((str(current), others))
    listed.sort(key=lambda item: item[0])  # the order torchvision's ImageFolder used, so fingerprints stay the same
    return [path for _, others in listed for path in others]


def _list_folder(folder: Path) -> tuple[list[Path], list[Path]]:
    """A folder's non-hidden sub-folders and other entries, each sorted by name."""
    try:
        with os.scandir(folder) as entries:
            paths = sorted((Path(entry.path) for entry in entries if not entry.name.startswith(".")),
                           key=lambda path: path.name)
    except PermissionError:
        raise DataError(f"cannot list folder {str(folder)!r}: permission denied; make it readable "
                        "or move it out of data.root") from None
    except OSError as e:
        raise DataError(f"cannot list folder {str(folder)!r} ({first_line(e)})") from None
    folders: list[Path] = []
    others: list[Path] = []
    for path in paths:
        (folders if path.is_dir() else others).append(path)
    return folders, others


def read_image(path: Path) -> Tensor:
    """Decode one image file to uint8 C x H x W, refusing files too large to decode safely."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; _check_pixels refuses those.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                _check_pixels(path, image.size)  # from the header: nothing is decoded yet
                image.load()
                return decode(image, str(path))
    except PermissionError:
        raise DataError(f"cannot read image {str(path)!r}: permission denied; make it readable or remove it") from None
    except Image.DecompressionBombError as e:
        match = re.search(r"(\d+) pixels", str(e))
        raise _too_large(path, f"{int(match[1]):,} pixels" if match else first_line(e)) from None
    except (OSError, SyntaxError) as e:  # not an image, truncated or corrupt
        raise DataError(f"cannot read image {str(path)!r} ({first_line(e)}); remove or replace the file") from None


def _check_pixels(path: Path, size: tuple[int, int]) -> None:
    """Refuse an image above Pillow's decompression-bomb limit before it is decoded."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and size[0] * size[1] > limit:
        raise _too_large(path, f"{size[0]} x {size[1]} = {size[0] * size[1]:,} pixels")


def _too_large(path: Path, size: str) -> DataError:
    return DataError(f"image {str(path)!r} is too large to decode safely ({size}; the limit is "
                     f"{Image.MAX_IMAGE_PIXELS:,}, Pillow's Image.MAX_IMAGE_PIXELS); shrink it "
                     "(it is resized to data.image_size anyway) or remove it")


def decode(image: Image.Image, name: str) -> Tensor:
    """uint8 C x H x W: one channel for grey modes, three for colour (alpha dropped)."""
    if image.mode in WIDE_GREY_MODES:
        return _wide_grey(image, name)
    if image.mode in GREY_MODES:
        return TF.pil_to_tensor(image.convert("L"))
    if image.mode in COLOUR_MODES:
        # Palette transparency must go through RGBA, or Pillow warns.
        return TF.pil_to_tensor(image.convert("RGBA" if image.mode in ("P", "PA") else "RGB"))[:3]
    mode = MODE_NAMES.get(image.mode, image.mode)
    raise DataError(f"image {name!r}: mode {mode} images are not supported; convert them to 8- or 16-bit PNG")


def _wide_grey(image: Image.Image, name: str) -> Tensor:
    """16-bit grey scaled from its full range, value * 255 / 65535 rounded; convert("L") would clip at 255."""
    values = np.asarray(image).astype(np.int64)
    if values.size and (values.min() < 0 or values.max() > 65535):
        raise DataError(f"image {name!r}: mode {image.mode} with values outside 0..65535 is not supported; "
                        "convert it to 8- or 16-bit PNG")
    return torch.from_numpy(((values * 255 + 32767) // 65535).astype(np.uint8)).unsqueeze(0)
