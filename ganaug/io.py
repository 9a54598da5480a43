"""Safe output: atomic writes, output folders that are locked and left clean, readable I/O errors.

Every file is written to a temporary name beside the target, then renamed, so a
reader (or a resumed run) sees either the old file or the complete new one, never
half of it, even if the process is killed mid-write. Temporary names carry the
writer's process id, so the next command can tell a dead writer's leftovers from
a live one's and remove them.

An output folder is held by one process at a time (`output_folder`): an exclusive
`flock` on the folder itself, which the kernel releases when the process dies, so
a killed run never leaves a stale lock. A command that fails removes what it
created and leaves what existed before.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import re
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ganaug.errors import OutputError, RunDirError

try:
    import fcntl
except ImportError:  # Windows: no flock; output folders are then not locked
    fcntl = None  # type: ignore[assignment]

_TEMPORARY = re.compile(r"^\..+\.(?:(?P<pid>\d+)-)?[0-9a-f]{16}\.tmp$")

USER_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR,
               errno.EEXIST, errno.ENOENT, errno.ENAMETOOLONG, errno.ELOOP, errno.EMFILE, errno.EFBIG}
"""I/O errors a user can act on (space, permissions, paths): the CLI reports them in one line."""


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
    """Yield a temporary folder beside the target; rename it onto the target (replacing it) on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(target)
    tmp.mkdir()  # umask applies, as for mkdir
    try:
        yield tmp
        _keep_mode(target, tmp)
        for attempt in range(3):  # another writer of the same folder may install its copy in between
            shutil.rmtree(target, ignore_errors=True)
            try:
                os.replace(tmp, target)
                break
            except OSError as e:
                if e.errno not in (errno.ENOTEMPTY, errno.EEXIST) or attempt == 2:
                    raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def new_folder(target: str | os.PathLike[str], *, what: str = "output") -> Iterator[Path]:
    """Build a folder that must not exist yet: yield a locked temporary folder beside it, renamed onto
    `target` when the block succeeds. Nothing is ever written under the final name until it is complete.

    Another process building the same target is refused (its temporary folder is locked); temporary
    folders of dead builders are removed. If the block fails, the folders this call created are removed.
    """
    target = Path(target)
    created = _make_folders(target.parent, what)
    tmp = _temporary_name(target)
    try:
        tmp.mkdir()
        with _lock(tmp, what):
            _claim(target, tmp, what)
            yield tmp
            try:
                os.replace(tmp, target)
            except OSError as e:
                if e.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                    raise
                raise OutputError(f"{what} {str(target)!r} appeared while this one was written; it was left as "
                                  "it is and this result was not kept") from None
    except BaseException:
        if created:
            _remove_created(created)
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _claim(target: Path, mine: Path, what: str) -> None:
    """Refuse if another live process builds `target`; remove dead builders' temporaries."""
    for other in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        if other == mine or not _TEMPORARY.match(other.name):
            continue
        try:
            with _lock(other, what):
                shutil.rmtree(other, ignore_errors=True) if other.is_dir() else other.unlink(missing_ok=True)
        except OutputError:
            if other.exists():
                raise OutputError(f"another ganaug process is writing {what} {str(target)!r}; wait for it to "
                                  "finish, or choose another path") from None
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise OutputError(f"{what} {str(target)!r} already exists; choose another path or delete it first")


def _temporary_name(target: Path) -> Path:
    """A fresh hidden name beside the target, created by the caller with the ordinary permissions.

    Not mkstemp/mkdtemp: they make private (0600/0700) entries, and every result would stay private
    after the rename.
    """
    return target.parent / f".{target.name}.{os.getpid()}-{secrets.token_hex(8)}.tmp"


def _keep_mode(target: Path, tmp: Path) -> None:
    """A rewritten file or folder keeps its own permissions, as an in-place write would."""
    if target.exists():
        shutil.copymode(target, tmp)


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete temporaries anywhere under `folder` whose writer is dead; returns what was removed.

    A temporary of a live process, this one included, is left alone.
    """
    removed: list[Path] = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for path in sorted(folder.rglob(".*.tmp"), key=lambda p: len(p.parts)):
        match = _TEMPORARY.match(path.name)
        if match is None or not path.exists() or _alive(match["pid"]):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def _alive(pid: str | None) -> bool:
    if pid is None:  # written before temporaries named their process: its writer is long gone
        return False
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def safe_names(names: Sequence[str], *, fallback: str = "class") -> list[str]:
    """One file or folder name per entry, unique, and never a path: class names come from data, run.json
    or a manifest, and a name like '../x' or '/etc' must not write outside the folder it is meant for."""
    safe: list[str] = []
    for i, name in enumerate(names):
        text = re.sub(r"[\x00-\x1f/\\:]", "_", str(name)).strip()[:100]
        if text.startswith("."):
            text = "_" + text[1:]
        if not text or text.strip("_") == "":
            text = f"{fallback}_{i}"
        while text in safe:
            text = f"{text}_{i}"
        safe.append(text)
    return safe


def child(folder: Path, name: str) -> Path:
    """folder / name, refused (OutputError) if it would land anywhere but directly inside `folder`."""
    path = folder / name
    if path.parent != folder or name in ("", ".", "..") or path.resolve().parent != folder.resolve():
        raise OutputError(f"refusing to write {str(path)!r}: {name!r} is not a plain name inside {str(folder)!r}")
    return path


@contextlib.contextmanager
def output_folder(path: str | os.PathLike[str], *, what: str = "output",
                  keep_on_error: Callable[[], bool] = lambda: False, wait: bool = False) -> Iterator[Path]:
    """Create (if needed) and exclusively lock `path` while the block runs.

    A second process asking for the same folder gets a one-line OutputError (with wait=True, it waits its
    turn). Dead writers' temporaries inside it are removed first. If the block fails (an error, Ctrl-C), the
    folders this call created are removed again, unless keep_on_error() says they now hold something worth
    keeping (a resumable checkpoint, finished cells); what existed before is never touched.
    """
    path = Path(path)
    created = _make_folders(path, what)
    was_empty = False
    try:
        with _lock(path, what, wait):
            remove_stale_temporaries(path)
            was_empty = not created and not any(path.iterdir())
            yield path
    except BaseException:
        if not keep_on_error():
            if created:
                _remove_created(created)
            elif was_empty:  # it existed, empty: leave it empty
                _empty(path)
        raise


def _make_folders(path: Path, what: str) -> list[Path]:
    """mkdir -p that records which folders it made, with a one-line error where it cannot."""
    missing = []
    for folder in [path, *path.parents]:
        if folder.is_dir():
            break
        if folder.exists() or folder.is_symlink():
            raise OutputError(f"{what} {str(path)!r}: {str(folder)!r} exists and is not a folder; "
                              "choose another path")
        missing.append(folder)
    created = []
    try:
        for folder in reversed(missing):
            try:
                folder.mkdir()
            except FileExistsError:  # another process (a torchrun rank) made it since the check: not ours
                if not folder.is_dir():
                    raise
                continue
            created.append(folder)
    except OSError as e:
        _remove_created(list(reversed(created)))
        raise OutputError(f"cannot create {what} {str(path)!r}: {describe_os_error(e)}") from None
    return list(reversed(created))


def _remove_created(created: list[Path]) -> None:
    """created: innermost first (the output folder itself), then the parents made for it."""
    if not created:
        return
    shutil.rmtree(created[0], ignore_errors=True)
    for folder in created[1:]:  # its new parents, if nothing else appeared in them
        with contextlib.suppress(OSError):
            folder.rmdir()


def _empty(folder: Path) -> None:
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


@contextlib.contextmanager
def _lock(path: Path, what: str, wait: bool = False) -> Iterator[None]:
    if fcntl is None:
        yield
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        raise OutputError(f"cannot open {what} {str(path)!r}: {describe_os_error(e)}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise OutputError(f"another ganaug process is writing to {what} {str(path)!r}; wait for it to "
                                  "finish, or choose another folder") from None
            print(f"waiting for another ganaug process to finish with {what} {str(path)!r}", file=sys.stderr)
            fcntl.flock(fd, fcntl.LOCK_EX)
        if os.stat(path).st_ino != os.fstat(fd).st_ino:  # replaced between open and lock
            raise OutputError(f"{what} {str(path)!r} was replaced while this command started; run it again")
        yield
    finally:
        os.close(fd)


def describe_os_error(error: OSError) -> str:
    """'No space left on device' etc., with the file it concerns where known."""
    text = error.strerror or str(error)
    if error.filename:
        text += f" ({error.filename})"
    hints: dict[int | None, str] = {
        errno.ENOSPC: "; free some space and run it again", errno.EDQUOT: "; free some space and run it again",
        errno.EACCES: "; choose a folder you may write to", errno.EROFS: "; choose a writable folder",
    }
    return text + hints.get(error.errno, "")


def write_text(target: str | os.PathLike[str], text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_json(target: str | os.PathLike[str], data: Any) -> None:
    write_text(target, json.dumps(data, indent=1) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """Parsed JSON; a missing, unreadable or malformed file is a RunDirError that names it."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise RunDirError(f"{path} is not valid JSON ({first_line(e)}); it was damaged or edited: "
                          "restore it, or make it again") from None
    except OSError as e:
        raise RunDirError(f"cannot read {path}: {describe_os_error(e)}") from None


def first_line(error: BaseException) -> str:
    """The first line of an error's message (or its type's name): enough for a one-line report."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
