"""ganaug: GAN-based data augmentation for PyTorch image classifiers.

The data flow is visible in the package layout: `fit` trains a GAN on a
classifier's training split (using `data` and `gan`), `augment` turns the run
into a labelled synthetic set (with a `classify` teacher where needed), and
`wrap` mixes synthetic images into any PyTorch training set.

In Python: ganaug.load_recipe, ganaug.fit, ganaug.augment, ganaug.evaluate and
ganaug.compare do what the commands do (ganaug/api.py); AugmentedDataset and
AugmentedLoss put the synthetic images into your own training loop.

The names below are imported on first use, so `import ganaug` and `ganaug --help`
stay quick (neither imports torch).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "augment": "ganaug.api",
    "compare": "ganaug.api",
    "evaluate": "ganaug.api",
    "fit": "ganaug.api",
    "load_recipe": "ganaug.api",
    "AugmentedDataset": "ganaug.stages.wrap",
    "AugmentedLoss": "ganaug.stages.wrap",
    "FixedStepsSampler": "ganaug.stages.wrap",
    "OnTheFlySynthetic": "ganaug.stages.wrap",
    "SyntheticDataset": "ganaug.stages.wrap",
    "load_split": "ganaug.stages.wrap",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'ganaug' has no attribute {name!r}")
