"""How many synthetic images to make, overall or per class (like imbalanced-learn's `sampling_strategy`)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ganaug.errors import UsageError

NEARLY_BALANCED = 0.9
"""--balance warns when the smallest class already has this fraction of the largest's images: it adds little."""


@dataclass(frozen=True)
class Quotas:
    total: int
    per_class: tuple[int, ...] | None = None
    """Images wanted of each class; None: any class, `total` in all."""


def plan_quotas(*, count: int | None = None,
                per_class: int | Mapping[int, int] | Mapping[int | str, int] | None = None,
                balance: bool = False, class_names: Sequence[str] = (), train_counts: Sequence[int] = ()) -> Quotas:
    """Exactly one of: `count` images; `per_class` (a number for every class, or {class: number});
    `balance`, which tops every class up to the largest class's count in the training split."""
    given = [name for name, value in (("--count", count), ("--per-class", per_class), ("--balance", balance or None))
             if value is not None]
    if len(given) != 1:
        raise UsageError("give exactly one of --count N, --per-class N or --balance "
                         f"(got {', '.join(given) or 'none'})")
    if count is not None:
        if count < 1:
            raise UsageError(f"--count must be at least 1, not {count}")
        return Quotas(count)
    if balance:
        largest, smallest = max(train_counts), min(train_counts)
        wanted = tuple(largest - n for n in train_counts)
        if not sum(wanted):
            raise UsageError("--balance has nothing to do: every class already has "
                             f"{largest} training images; use --count or --per-class")
        if smallest >= NEARLY_BALANCED * largest:
            warnings.warn(f"the training classes are already nearly balanced ({smallest}-{largest} images per "
                          f"class), so --balance adds only {sum(wanted)} images; use --count or --per-class to add "
                          "more", UserWarning, stacklevel=2)
        return Quotas(sum(wanted), wanted)
    assert per_class is not None  # exactly one was given, and it was neither count nor balance
    if isinstance(per_class, int):
        if per_class < 1:
            raise UsageError(f"--per-class must be at least 1, not {per_class}")
        return Quotas(per_class * len(class_names), (per_class,) * len(class_names))
    wanted_by_class = [0] * len(class_names)
    for key, number in dict(per_class).items():
        index = class_names.index(key) if key in class_names else key
        if not isinstance(index, int) or not 0 <= index < len(class_names):
            raise UsageError(f"per-class quota for unknown class {key!r}; classes are {', '.join(class_names)}")
        if number < 0:
            raise UsageError(f"per-class quota for class {key!r} is negative ({number})")
        wanted_by_class[index] = number
    if not sum(wanted_by_class):
        raise UsageError("the per-class quotas ask for no images at all")
    return Quotas(sum(wanted_by_class), tuple(wanted_by_class))
