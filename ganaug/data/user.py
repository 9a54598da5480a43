"""A user's own data set as a source: `import:package.module:factory` in a recipe, or a Dataset given to fit.

Either way the object is a torchvision-style Dataset with `classes` (or a (train, test) pair of them), checked
here for what ganaug needs before anything is read, so a wrong object is one line that says what to give.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from ganaug.data.samples import Samples, SourceData
from ganaug.errors import DataError
from ganaug.user_code import call_function, import_function

PYTHON = "python"
"""run.json's data.source for a Dataset given to fit in Python: 'python:<ClassName>' (it cannot be read again)."""


def call_factory(spec: str) -> SourceData:
    """`import:` sources: the factory, called with no arguments, returns a Dataset or a (train, test) pair."""
    subject = f"data.source 'import:{spec}'"
    factory = import_function(spec, subject, "a Dataset", DataError)
    return dataset_source(call_function(factory, subject, DataError), f"import:{spec}", subject)


def python_dataset(dataset: object) -> SourceData:
    """A Dataset (or (train, test) pair) given to fit in Python, described as 'python:<ClassName>'."""
    return dataset_source(dataset, f"{PYTHON}:{type(_parts(dataset)[0]).__name__}", "fit's dataset")


def dataset_source(made: object, name: str, subject: str) -> SourceData:
    """A Dataset or a (train, test) pair as a source, checked for __getitem__, __len__ and `classes`."""
    train, test = _parts(made)
    for part in (train, test):
        if part is not None and not _is_dataset(part):
            raise DataError(f"{subject} gave an object of type {type(part).__name__}, not a Dataset; give one "
                            "with __getitem__ and __len__ (items (image, label)), or a (train, test) pair of them")
    classes = getattr(train, "classes", None)
    if classes is None:
        raise DataError(f"{subject}: the Dataset has no `classes`; give it a list of class names "
                        "(classes[i] names label i)")
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Sequence) or not classes:
        raise DataError(f"{subject}: its `classes` is a {type(classes).__name__}, not a non-empty list of "
                        "class names (classes[i] names label i)")
    return SourceData(cast(Samples, train), list(classes), name, cast(Samples | None, test))


def _parts(made: object) -> tuple[object, object | None]:
    """(train, test) from a pair, (train, None) from one data set."""
    if isinstance(made, tuple) and len(made) == 2:
        return made[0], made[1]
    return made, None


def _is_dataset(part: object) -> bool:
    return hasattr(part, "__getitem__") and hasattr(part, "__len__") and not isinstance(part, (str, bytes, tuple))
