"""Shared fixtures: tiny settings, a CLI runner, and writers for image folders and MNIST IDX files.

Nothing here downloads anything: every data set is either bundled with an
installed package (digits, mnist5k) or written by the test into tmp_path.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

# The models in these tests are tiny: one thread avoids OpenMP spin-waiting,
# which on a small shared machine makes each batch-norm call ~100x slower.
torch.set_num_threads(1)

# Settings that make a fit take a fraction of a second on a CPU.
TINY = {
    "model.g_width": "8",
    "model.d_width": "8",
    "model.z_dim": "16",
    "data.image_size": "16",
    "train.batch_size": "16",
    "train.precision": "fp32",
    "log.grid_columns": "4",
}


def _set_args(settings: dict[str, str]) -> list[str]:
    args: list[str] = []
    for key, value in settings.items():
        args += ["--set", f"{key}={value}"]
    return args


@pytest.fixture(scope="session")
def tiny_args() -> Callable[..., list[str]]:
    """`--set` arguments for a tiny fit; keyword arguments add or replace settings ('train__lr_g' -> 'train.lr_g')."""

    def make(**extra: object) -> list[str]:
        settings = dict(TINY)
        settings.update({k.replace("__", "."): str(v) for k, v in extra.items()})
        return _set_args(settings)

    return make


@pytest.fixture(scope="session")
def tiny_overrides() -> Callable[..., list[str]]:
    """The same settings as `section.key=value` strings for ganaug.config.load_recipe."""

    def make(**extra: object) -> list[str]:
        settings = dict(TINY)
        settings.update({k.replace("__", "."): str(v) for k, v in extra.items()})
        return [f"{k}={v}" for k, v in settings.items()]

    return make


@pytest.fixture(scope="session")
def cli() -> Callable[[Sequence[str]], object]:
    """Run the `ganaug` command in-process; returns click's Result (stdout and stderr apart)."""
    from ganaug.cli.main import main

    def invoke(args: Sequence[str]):
        return CliRunner().invoke(main, [str(a) for a in args])

    return invoke


def error_line(result) -> str:
    """The single error line a failed command printed, after checking it is one clean line."""
    assert result.exit_code != 0, result.output
    # A handled error ends in sys.exit; anything else is an uncaught exception (a traceback for a user).
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    # Progress bars redraw with '\r'; keep what is left on each terminal line.
    lines = [line.split("\r")[-1].strip() for line in result.stderr.splitlines()]
    lines = [line for line in lines if line]
    errors = [line for line in lines if line.startswith("ganaug: error:")]
    assert len(errors) == 1, result.stderr
    assert lines[-1] == errors[0], "the error message must be one line and the last thing printed"
    return errors[0]


@pytest.fixture(scope="session")
def cli_error() -> Callable:
    return error_line


@pytest.fixture(scope="session")
def write_image_folder() -> Callable[..., Path]:
    """Write class sub-folders of small images.

    spec: {class_name: [(mode, (width, height), ext), ...]}. Each image gets
    distinct content, so classes and images can be told apart.
    """

    def write(root: Path, spec: dict[str, list[tuple[str, tuple[int, int], str]]]) -> Path:
        rng = np.random.default_rng(0)
        for cls, images in spec.items():
            folder = root / cls
            folder.mkdir(parents=True, exist_ok=True)
            for i, (mode, (w, h), ext) in enumerate(images):
                shape = (h, w) if mode == "L" else (h, w, 3)
                pixels = rng.integers(0, 256, size=shape, dtype=np.uint8)
                Image.fromarray(pixels).convert(mode).save(folder / f"img{i}.{ext}")
        return root

    return write


@pytest.fixture(scope="session")
def write_mnist() -> Callable[..., Path]:
    """Write MNIST's four raw IDX files under root/MNIST/raw, where torchvision.datasets.MNIST reads them.

    Each image of class c is filled with c * 20 plus a little noise, so labels can be checked.
    Returns root.
    """

    def write(root: Path, train_per_class: int = 6, test_per_class: int = 3) -> Path:
        raw = root / "MNIST" / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(1)
        for prefix, per_class in (("train", train_per_class), ("t10k", test_per_class)):
            labels = np.repeat(np.arange(10, dtype=np.uint8), per_class)
            rng.shuffle(labels)
            images = (labels[:, None, None] * 20 + rng.integers(0, 10, (len(labels), 28, 28))).astype(np.uint8)
            with open(raw / f"{prefix}-images-idx3-ubyte", "wb") as f:
                f.write(struct.pack(">IIII", 0x00000803, len(images), 28, 28))
                f.write(images.tobytes())
            with open(raw / f"{prefix}-labels-idx1-ubyte", "wb") as f:
                f.write(struct.pack(">II", 0x00000801, len(labels)))
                f.write(labels.tobytes())
        return root

    return write


def file_hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="session")
def hash_files() -> Callable[[Path], dict[str, str]]:
    return file_hashes


@pytest.fixture(scope="session", autouse=True)
def quick_teacher() -> None:
    """A teacher trained for a few epochs: enough to label tiny test runs, quick enough for a test suite."""
    from ganaug.classify import TrainSettings
    from ganaug.runs import teacher

    patch = pytest.MonkeyPatch()
    patch.setattr(teacher, "SETTINGS", TrainSettings(epochs=4, batch_size=64, lr=3e-3, patience=4, seed=0))
    yield
    patch.undo()


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory) -> dict[str, Path]:
    """Two finished tiny runs on digits (16 px): 'unconditional' and 'conditional'. Treat them as read-only."""
    from ganaug.config import load_recipe
    from ganaug.stages.fit.run import fit

    root = tmp_path_factory.mktemp("runs")
    runs = {}
    for name, conditional in (("unconditional", "false"), ("conditional", "true")):
        settings = dict(TINY, **{"train.steps": "20", "log.checkpoint_every": "10", "log.sample_every": "10",
                                 "model.conditional": conditional})
        recipe, _ = load_recipe("digits", [f"{k}={v}" for k, v in settings.items()])
        runs[name] = fit(recipe, root / name, device="cpu", progress=False).run.root
    return runs


@pytest.fixture
def run_copy(tiny_runs, tmp_path) -> Callable[[str], Path]:
    """A private copy of a tiny run, for tests that add to it (a teacher) or damage it."""
    import shutil

    def copy(name: str) -> Path:
        return Path(shutil.copytree(tiny_runs[name], tmp_path / f"{name}-copy"))

    return copy


def _mount_tmpfs(where: Path, options: str) -> bool:
    """Mount a tmpfs (root only, where the sandbox allows it); False if it cannot be done here."""
    import subprocess

    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                          capture_output=True).returncode == 0


def _unmount(where: Path) -> None:
    import subprocess

    subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.fixture
def read_only_folder(tmp_path) -> Path:
    """An empty folder nobody may write to: a read-only tmpfs as root, else a folder without write permission."""
    where = tmp_path / "read_only"
    if _mount_tmpfs(where, "ro,size=1m"):
        yield where
        _unmount(where)
        return
    if os.geteuid() == 0:
        pytest.skip("cannot make a read-only folder here (root ignores permissions and mount is not allowed)")
    where.mkdir()
    where.chmod(0o555)
    yield where
    where.chmod(0o755)


@pytest.fixture
def small_disk(tmp_path) -> Path:
    """A nearly full file system (a 2 MiB tmpfs as root); skips where none can be mounted."""
    where = tmp_path / "small_disk"
    if not _mount_tmpfs(where, "size=2m"):
        pytest.skip("cannot mount a small tmpfs here")
    yield where
    _unmount(where)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def break_loss(monkeypatch) -> Callable[..., None]:
    """break_loss(step, key="loss_g", value=nan): the GAN step's `key` metric becomes `value` at that step."""

    def apply(bad_step: int, key: str = "loss_g", value: float = float("nan")) -> None:
        from ganaug.stages.fit.step import GanStep

        original = GanStep.__call__
        calls = {"n": 0}

        def step(self):
            out = original(self)
            calls["n"] += 1
            if calls["n"] == bad_step:
                out[key] = torch.tensor(value)
            return out

        monkeypatch.setattr(GanStep, "__call__", step)

    return apply


def torchrun(*args: object, processes: int = 2, timeout: float = 240) -> subprocess.CompletedProcess:
    """`python -m torch.distributed.run --standalone --nproc_per_node=N ARGS`: N local processes, one thread each."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
               *(str(a) for a in args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
