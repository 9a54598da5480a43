"""Checks for the Python API's arguments, shared by every class in ganaug.stages.wrap.

A bad argument is refused when the object is made, with a one-line message that
names the argument, shows what was given and says what to pass instead: a
`WrongTypeError` (also a TypeError) for a wrong type, a `UsageError` (also a
ValueError) for a value of the right type that cannot be used.
"""

from __future__ import annotations

import math
import numbers
import operator
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import IterableDataset

from ganaug.errors import UsageError, WrongTypeError, shown
from ganaug.io import first_line

LISTED = 12
"""Class names listed in a message."""
MAX_IMAGES = 2**62
"""More images than any source can hold (and less than the largest len() Python allows)."""


def given(value: Any) -> str:
    """What was given, type included: `'abc' (a str)`, `3 (an int)`."""
    kind = type(value).__name__
    return f"{shown(value)} ({'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind})"


def wrong_type(name: str, value: Any, expected: str, hint: str = "") -> WrongTypeError:
    return WrongTypeError(f"{name} must be {expected}, not {given(value)}" + (f"; {hint}" if hint else ""))


def bad_value(name: str, value: Any, expected: str, hint: str = "") -> UsageError:
    return UsageError(f"{name} must be {expected}, not {shown(value)}" + (f"; {hint}" if hint else ""))


def is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def is_integer(value: Any) -> bool:
    """A Python or NumPy integer; never a bool."""
    return isinstance(value, numbers.Integral) and not is_bool(value)


def check_number(name: str, value: Any, *, minimum: float | None = None, maximum: float | None = None,
                 integer: bool = False, meaning: str = "", hint: str = "") -> Any:
    """A finite number (an integer where `integer`), not a bool, from `minimum` to `maximum`; returned as int or float.

    meaning: what the number counts, shown in the message ("synthetic images per real image").
    """
    kind = "an integer" if integer else "a finite number"
    expected = (kind + (f" >= {minimum}" if minimum is not None else "")
                + (f" and <= {_power_of_two(maximum)}" if maximum is not None else "")
                + (f" ({meaning})" if meaning else ""))
    if integer:
        if not is_integer(value):
            raise wrong_type(name, value, expected, hint)
        number: Any = int(value)
    else:
        if not isinstance(value, numbers.Real) or is_bool(value):
            raise wrong_type(name, value, expected, hint)
        try:
            number = float(value)
        except OverflowError:  # an int or Fraction too large for a float
            number = math.inf
        if not math.isfinite(number):
            raise bad_value(name, value, expected, hint)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise bad_value(name, value, expected, hint)
    return number


def _power_of_two(number: float) -> str:
    exponent = math.log2(number) if number > 0 else 0.5
    return f"2**{int(exponent)}" if exponent.is_integer() and exponent > 16 else f"{number:g}"


def check_bool(name: str, value: Any) -> bool:
    if not is_bool(value):
        raise wrong_type(name, value, "True or False")
    return bool(value)


def check_choice(name: str, value: Any, choices: Sequence[str], *, optional: bool = False,
                 meaning: str = "") -> str | None:
    """One of the strings in `choices` (or None where `optional`)."""
    if value is None and optional:
        return None
    what = f"one of {', '.join(choices)}" + (f" ({meaning})" if meaning else "") + (" or None" if optional else "")
    if not isinstance(value, str):
        raise wrong_type(name, value, f"a str, {what}")
    if value not in choices:
        raise bad_value(name, value, what)
    return value


def check_callable(name: str, value: Any, *, keywords: Collection[str] = ()) -> Any:
    """None, a callable, or one of the strings in `keywords` (such as "auto")."""
    extra = "".join(f", {k!r}" for k in keywords)
    expected = f"None{extra} or a callable (e.g. a torchvision transform)"
    if isinstance(value, type):
        raise wrong_type(name, value, expected, f"pass an instance, e.g. {value.__name__}(), not the class")
    if value is None or callable(value):
        return value
    if isinstance(value, str):
        if value in keywords:
            return value
        if keywords:
            raise bad_value(name, value, expected)
    raise wrong_type(name, value, expected)


def check_path(name: str, value: Any, *, what: str) -> Path:
    """A str or os.PathLike (not empty) of a file or folder; `what` says which ("a synthetic set")."""
    if isinstance(value, str) or (isinstance(value, os.PathLike) and isinstance(os.fspath(value), str)):
        if not os.fspath(value):
            raise bad_value(name, value, f"the path of {what}", "an empty path names nothing")
        return Path(value)
    raise wrong_type(name, value, f"the path of {what} (a str or pathlib.Path)")


def check_map_style(name: str, value: Any) -> Any:
    """A map-style data set: `len()` and integer indexing, items (image, label)."""
    expected = "a map-style data set (with __len__ and __getitem__, items (image, label))"
    if isinstance(value, (str, bytes, os.PathLike)):
        raise wrong_type(name, value, expected, "load it first, e.g. torchvision.datasets.ImageFolder(path)")
    if isinstance(value, IterableDataset):
        raise wrong_type(name, value, expected, "an IterableDataset cannot be indexed; wrap its items in a list")
    if isinstance(value, (Mapping, Tensor, np.ndarray)) or not (
            hasattr(type(value), "__len__") and hasattr(type(value), "__getitem__")):
        raise wrong_type(name, value, expected)
    try:
        size = len(value)
    except Exception as e:  # noqa: BLE001 - a data set whose __len__ fails is a bad argument, said in one line
        raise wrong_type(name, value, expected, f"len() failed: {type(e).__name__}: {first_line(e)}") from e
    if not is_integer(size) or size < 0:
        raise wrong_type(name, value, expected, f"its len() is {shown(size)}")
    return value


def check_index(index: Any, length: int, what: str) -> int:
    """A data set index as a non-negative int: negative ones count from the end; out of range is an IndexError
    (what `for item in dataset` and Python's sequence protocol expect)."""
    try:
        index = operator.index(index)
    except TypeError:
        raise wrong_type(f"{what} index", index, "an integer") from None
    if not -length <= index < length:
        raise IndexError(f"index {index} is out of range for {what} of {length} items")
    return index + length if index < 0 else index


def as_label(value: Any) -> int | None:
    """An integer class label as an int (Python or NumPy integer, 0-d integer tensor or array); None if not one."""
    if isinstance(value, Tensor):
        integer = not (value.is_floating_point() or value.is_complex() or value.dtype == torch.bool)
        return int(value.item()) if value.ndim == 0 and integer else None
    if isinstance(value, np.ndarray):
        return int(value.item()) if value.ndim == 0 and np.issubdtype(value.dtype, np.integer) else None
    return int(value) if is_integer(value) else None



def check_per_class(name: str, value: Any) -> int | dict[int | str, int]:
    """per-class quotas, before the classes are known: an integer >= 1 for every class, or a mapping
    {class name (str) or index (int): integer >= 0}."""
    expected = "an integer >= 1 (images of each class) or a mapping {class name or index: integer >= 0}"
    if is_integer(value):
        return check_number(name, value, minimum=1, maximum=MAX_IMAGES, integer=True, meaning="images of each class")
    if not isinstance(value, Mapping):
        raise wrong_type(name, value, expected)
    quotas: dict[int | str, int] = {}
    for key, number in value.items():
        if not (isinstance(key, str) or is_integer(key)):
            raise wrong_type(f"{name} key {shown(key)}", key, "a class name (str) or a class index (int)")
        key = key if isinstance(key, str) else int(key)
        quotas[key] = check_number(f"{name}[{shown(key)}]", number, minimum=0, maximum=MAX_IMAGES, integer=True,
                                   meaning="synthetic images of that class")
    if not quotas:
        raise bad_value(name, value, expected, "an empty mapping asks for no images")
    return quotas


def resolve_per_class(name: str, quotas: int | dict[int | str, int], class_names: Sequence[str],
                      where: str) -> int | dict[int, int]:
    """Quotas from check_per_class with every key turned into a class index of `class_names`."""
    if isinstance(quotas, int):
        if quotas * len(class_names) > MAX_IMAGES:
            raise UsageError(f"{name}={quotas} asks for {quotas * len(class_names):.3g} synthetic images; "
                             "ask for fewer")
        return quotas
    by_index: dict[int, int] = {}
    names = list(class_names)
    for key, number in quotas.items():
        if isinstance(key, str):
            if key not in names:
                listed = ", ".join(map(repr, names[:LISTED])) + (", ..." if len(names) > LISTED else "")
                raise UsageError(f"{name} names class {shown(key)}, which {where} does not have; its classes are "
                                 f"{listed} (or use their indices 0 to {len(names) - 1})")
            index = names.index(key)
        elif not 0 <= key < len(names):
            raise UsageError(f"{name} has class index {key}, but {where} has {len(names)} classes; "
                             f"use an index from 0 to {len(names) - 1} or a class name")
        else:
            index = key
        if index in by_index:
            raise UsageError(f"{name} gives class {names[index]!r} (index {index}) twice; give each class once")
        by_index[index] = number
    if sum(by_index.values()) > MAX_IMAGES:
        raise UsageError(f"{name} asks for {sum(by_index.values()):.3g} synthetic images in all; ask for fewer")
    if not sum(by_index.values()):
        raise UsageError(f"{name} asks for no synthetic images at all ({shown(quotas)}); give at least one class "
                         "a quota above 0, or pass count=0")
    return by_index


__all__ = ["MAX_IMAGES", "as_label", "bad_value", "check_bool", "check_callable", "check_choice", "check_index",
           "check_map_style", "check_number", "check_path", "check_per_class", "given", "resolve_per_class", "shown",
           "wrong_type"]
