"""Atomic writes: complete or untouched, and with the permissions an ordinary write would give."""

from __future__ import annotations

import os
import stat

import pytest

from ganaug.io import atomic_dir, atomic_path, write_text


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_file_and_folder_get_umask_permissions(tmp_path, umask_022):
    write_text(tmp_path / "a.md", "x")
    with atomic_dir(tmp_path / "set") as folder:
        (folder / "inside.txt").write_text("y")
    assert mode(tmp_path / "a.md") == 0o644
    assert mode(tmp_path / "set") == 0o755


def test_existing_file_keeps_its_permissions(tmp_path, umask_022):
    target = tmp_path / "a.md"
    target.write_text("old")
    os.chmod(target, 0o640)
    write_text(target, "new")
    assert target.read_text() == "new"
    assert mode(target) == 0o640


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.md"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.md"]
