"""Atomic file writes: write to a temporary name beside the target, then rename.

A reader (or a resumed run) therefore sees either the old file or the complete
new one, never half of it, even if the process is killed mid-write.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto the target on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _temporary_name(target)
    os.close(os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # umask applies, as for open()
    try:
        yield tmp_path
        _keep_mode(target, tmp_path)
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary folder beside the target; rename it onto the target on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(target)
    tmp.mkdir()  # umask applies, as for mkdir
    try:
        yield tmp
        _keep_mode(target, tmp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _temporary_name(target: Path) -> Path:
    """A fresh hidden name beside the target, created by the caller with the ordinary permissions.

    Not mkstemp/mkdtemp: they make private (0600/0700) entries, and every result would stay private
    after the rename.
    """
    return target.parent / f".{target.name}.{secrets.token_hex(8)}.tmp"


def _keep_mode(target: Path, tmp: Path) -> None:
    """A rewritten file or folder keeps its own permissions, as an in-place write would."""
    if target.exists():
        shutil.copymode(target, tmp)


def write_text(target: str | os.PathLike[str], text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(target: str | os.PathLike[str], data: Any) -> None:
    write_text(target, json.dumps(data, indent=1) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))
