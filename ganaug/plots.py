"""One way to make a PNG chart: a headless matplotlib figure, laid out and written atomically on exit."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ganaug.io import atomic_path


@contextlib.contextmanager
def png_figure(path: Path, rows: int = 1, columns: int = 1, *, dpi: int = 100, **subplots: Any) -> Iterator[tuple]:
    """`with png_figure(path, 1, 2, figsize=(10, 3)) as (fig, axes):` draw; the PNG appears when the block ends."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, columns, **subplots)
    try:
        yield fig, axes
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    finally:
        plt.close(fig)
