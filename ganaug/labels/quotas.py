"""How many synthetic images to make, overall or per class (like imbalanced-learn's `sampling_strategy`)."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ganaug.data.balance import is_imbalanced
from ganaug.errors import UsageError


@dataclass(frozen=True)
class Quotas:
    total: int
    per_class: tuple[int, ...] | None = None
    """Images wanted of each class; None: any class, `total` in all."""

    def share(self, span: range) -> Quotas:
        """The quotas of positions `span` of the whole request laid out as one process makes it: class by class
        (per-class quotas) or in any order (a plain count). Shares over disjoint spans add up to these quotas."""
        if self.per_class is None:
            return Quotas(len(span))
        ends = list(itertools.accumulate(self.per_class))
        starts = [end - n for end, n in zip(ends, self.per_class, strict=True)]
        wanted = tuple(max(0, min(end, span.stop) - max(start, span.start))
                       for start, end in zip(starts, ends, strict=True))
        return Quotas(sum(wanted), wanted)


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
        wanted = fill_smallest(train_counts, sum(largest - n for n in train_counts))
        if not sum(wanted):
            raise UsageError("--balance has nothing to do: every class already has "
                             f"{largest} training images; use --count or --per-class")
        if not is_imbalanced(train_counts):  # it adds little
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


def fill_smallest(train_counts: Sequence[int], total: int) -> tuple[int, ...]:
    """`total` images shared out so that the classes' counts (training images plus these) end as even as they can:
    each goes to the class with the fewest so far (ties: the first class). Enough to top every class up to the
    largest tops them up exactly; more is then spread evenly over all."""
    if total < 0 or not train_counts or any(n < 0 for n in train_counts):
        raise ValueError("fill_smallest needs counts (none negative) and a total that is not negative")

    def cost(level: int) -> int:
        return sum(max(0, level - n) for n in train_counts)

    low, high = min(train_counts), max(train_counts) + total
    while low < high:  # the highest level every class can be raised to with `total`
        middle = (low + high + 1) // 2
        low, high = (middle, high) if cost(middle) <= total else (low, middle - 1)
    level = low
    wanted = [max(0, level - n) for n in train_counts]
    for c in sorted(range(len(train_counts)), key=lambda c: (train_counts[c] + wanted[c], c)):
        if sum(wanted) == total:  # what the even level leaves: one more each to the smallest, in class order
            break
        wanted[c] += 1
    return tuple(wanted)
