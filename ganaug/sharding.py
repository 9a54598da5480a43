"""`--shard I/N`: one fixed I-th of N shares of a job, so a cluster's job array can split it across machines.

compare shares out its grid's cells, augment its images; the unsharded command over the same output then merges
the shares (and does any share that is missing itself).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from ganaug.errors import UsageError

T = TypeVar("T")


@dataclass(frozen=True)
class Shard:
    index: int
    """1 to count, as a job array numbers its tasks (`--array=1-N`)."""
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if match is None or not 1 <= int(match[1]) <= int(match[2]):
            raise UsageError(f"--shard must be I/N with 1 <= I <= N, e.g. 2/4 for the second of four (got {text!r})")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, shard: str | Shard | None) -> Shard | None:
        """A --shard value as given on the command line or in code."""
        return cls.parse(shard) if isinstance(shard, str) else shard

    def select(self, items: Sequence[T]) -> list[T]:
        """Every count-th item from index-1: fixed by the sequence alone, each share gets a bit of everything."""
        return list(items[self.index - 1::self.count])

    def span(self, total: int) -> range:
        """This share's contiguous part of 0..total-1; the shares' sizes differ by at most one."""
        base, extra = divmod(total, self.count)
        start = (self.index - 1) * base + min(self.index - 1, extra)
        return range(start, start + base + (self.index <= extra))

    @property
    def name(self) -> str:
        """For file and folder names: I-of-N."""
        return f"{self.index}-of-{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
