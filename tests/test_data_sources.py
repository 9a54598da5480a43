"""The data-source contract: `import:` sources, a Dataset given to fit, and data decoded once per run (data/)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import types

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import Dataset

from ganaug.config import DataConfig, load_recipe
from ganaug.data import load_pool
from ganaug.data.cache import MEMORY, read_pool, save_pool
from ganaug.errors import ConfigError, DataError, RunDirError
from ganaug.runs import run_dir as run_dir_module
from ganaug.runs import teacher
from ganaug.runs.generator import RunGenerator
from ganaug.runs.run_dir import RunDir
from ganaug.stages.augment import augment
from ganaug.stages.fit.run import fit
from ganaug.stages.wrap import load_split

MODULE = "ganaug_test_factories"


class Tiny(Dataset):
    """`n` 16x16 grey images of constant value (i * 7 + offset) % 256, labels i % 3 (skewed: class a twice as
    often); float tensors in [0, 1] instead of PIL images if asked."""

    classes = ["a", "b", "c"]

    def __init__(self, n: int = 36, offset: int = 0, tensors: bool = False, skewed: bool = False) -> None:
        self.n, self.offset, self.tensors, self.skewed = n, offset, tensors, skewed

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        value, label = (i * 7 + self.offset) % 256, (i % 4) % 3 if self.skewed else i % 3
        if self.tensors:
            return torch.full((1, 16, 16), value / 255), label
        return Image.fromarray(np.full((16, 16), value, np.uint8)), label


class Variant(Tiny):
    """A Tiny with one thing wrong, for the messages."""

    def __init__(self, item=None, classes=Tiny.classes) -> None:
        super().__init__(n=6)
        self.item, self.classes = item, classes

    def __getitem__(self, i: int):
        return self.item(i) if self.item else super().__getitem__(i)


def _unreadable(i: int):
    raise OSError(f"image file {i} is truncated")


class Factories:
    """What the fake module `ganaug_test_factories` holds; `counted` counts its calls."""

    calls = 0
    offset = 0

    @classmethod
    def counted(cls):
        cls.calls += 1
        return Tiny(n=60, offset=cls.offset, skewed=True)


@pytest.fixture
def factories(monkeypatch):
    """The module `ganaug_test_factories`, importable by `import:` sources, its factories defined in this file."""
    module = types.ModuleType(MODULE)
    module.pair = lambda: (Tiny(), Tiny(n=9, offset=3, tensors=True))
    module.counted = Factories.counted
    module.not_callable = 42
    module.raises = lambda: (_ for _ in ()).throw(RuntimeError("boom"))
    module.not_a_dataset = lambda: 42
    module.no_classes = lambda: Variant(classes=None)
    module.text_labels = lambda: Variant(item=lambda i: (torch.zeros(1, 8, 8, dtype=torch.uint8), "cat"))
    module.label_too_big = lambda: Variant(item=lambda i: (torch.zeros(1, 8, 8, dtype=torch.uint8), 3))
    module.not_pairs = lambda: Variant(item=lambda i: torch.zeros(1, 8, 8))
    module.bad_image = lambda: Variant(item=lambda i: (np.zeros((8, 8)), 0))
    module.unreadable = lambda: Variant(item=_unreadable)
    monkeypatch.setitem(sys.modules, MODULE, module)
    monkeypatch.setattr(Factories, "calls", 0)
    monkeypatch.setattr(Factories, "offset", 0)
    return Factories


@pytest.fixture
def fresh_memory():
    """Nothing remembered from earlier tests, so a read from data/ or the source really happens."""
    MEMORY.clear()
    yield
    MEMORY.clear()


def _recipe(tiny_overrides, **extra):
    settings = {"train__steps": 2, "log__checkpoint_every": 2, "log__sample_every": 2, "train__batch_size": 8, **extra}
    return load_recipe("digits", tiny_overrides(**settings))[0]


# ---------------------------------------------------------------- import: sources


def test_import_source_reads_the_factorys_pair_and_keeps_its_test_split(factories):
    pool = load_pool(DataConfig(source=f"import:{MODULE}:pair", image_size=16))
    assert pool.source == f"import:{MODULE}:pair" and pool.class_names == ["a", "b", "c"]
    assert pool.images.shape == (45, 1, 16, 16) and pool.official_test.tolist() == [False] * 36 + [True] * 9
    # PIL images and float tensors in [0, 1] both become the same uint8 pixels
    assert pool.images[:36, 0, 0, 0].tolist() == [(i * 7) % 256 for i in range(36)]
    assert pool.images[36:, 0, 0, 0].tolist() == [(i * 7 + 3) % 256 for i in range(9)]
    assert pool.labels.tolist() == [i % 3 for i in range(36)] + [i % 3 for i in range(9)]


@pytest.mark.parametrize("factory, error, expect", [
    ("no_such_module_here:f", DataError, "cannot import it (ModuleNotFoundError"),
    (f"{MODULE}:missing", DataError, "cannot import it (AttributeError"),
    (MODULE, DataError, "name a function as 'package.module:function'"),
    (f"{MODULE}:not_callable", DataError, "names an object of type int, not a function"),
    (f"{MODULE}:raises", DataError, "failed when called (RuntimeError: boom)"),
    (f"{MODULE}:not_a_dataset", DataError, "gave an object of type int, not a Dataset"),
    (f"{MODULE}:no_classes", DataError, "has no `classes`"),
    (f"{MODULE}:text_labels", DataError, "label is 'cat' (a str), not an int class index"),
    (f"{MODULE}:label_too_big", DataError, "label is 3; labels must be class indices 0..2"),
    (f"{MODULE}:not_pairs", DataError, "not an (image, label) pair"),
    (f"{MODULE}:bad_image", DataError, "is a ndarray; ganaug reads PIL images"),
    (f"{MODULE}:unreadable", DataError, "(OSError: image file 0 is truncated), or set data.on_error = 'skip'"),
])
def test_a_bad_import_source_is_one_line_that_says_what_is_wrong(factories, factory, error, expect):
    with pytest.raises(error) as caught:
        load_pool(DataConfig(source=f"import:{factory}", image_size=16))
    assert expect in str(caught.value) and "\n" not in str(caught.value)


def test_an_import_source_needs_its_argument_and_an_unreadable_item_can_be_skipped(factories):
    with pytest.raises(ConfigError, match="needs <module:factory> after the colon"):
        load_recipe("digits", ["data.source=import:"])
    sys.modules[MODULE].unreadable = lambda: Variant(item=lambda i: _unreadable(i) if i == 2 else Tiny()[i])
    pool = load_pool(DataConfig(source=f"import:{MODULE}:unreadable", image_size=16, on_error="skip"))
    assert len(pool.labels) == 5 and pool.unreadable[0].startswith(f"import:{MODULE}:unreadable item 2: cannot read")


def test_the_cli_reports_a_bad_import_source_in_one_line(cli, cli_error, tmp_path):
    message = cli_error(cli(["fit", "digits", "--out", tmp_path / "r", "--set", "data.source=import:no_such_module:f"]))
    assert "cannot import it" in message and not (tmp_path / "r").exists()


# ---------------------------------------------------------------- a Dataset given to fit, and the run's data/


def test_fit_on_a_python_dataset_is_used_from_the_run_alone(tmp_path, tiny_overrides, fresh_memory, monkeypatch):
    out = tmp_path / "run"
    fit(_recipe(tiny_overrides), out, dataset=Tiny(), device="cpu", progress=False)
    record = json.loads((out / "run.json").read_text())["data"]
    assert record["source"] == "python:Tiny" and record["classes"] == ["a", "b", "c"]
    MEMORY.clear()  # as in a new process: only the run folder is left
    monkeypatch.setattr(run_dir_module, "load_pool", lambda *a: pytest.fail("the source was read again"))
    train = load_split(out, "train")
    split = RunDir(out).load_split()
    assert [train[i][0].getpixel((0, 0)) for i in range(len(train))] == [(i * 7) % 256 for i in split.train]
    assert len(augment(out, tmp_path / "s", count=20, device="cpu", progress=False).synthetic) == 20

    longer = _recipe(tiny_overrides, train__steps=4)
    with pytest.raises(RunDirError, match=r"trained on a Python Dataset \(python:Tiny\); resume it in Python"):
        fit(longer, out, device="cpu", resume=True, progress=False)
    with pytest.raises(RunDirError, match="fingerprint mismatch"):
        fit(longer, out, dataset=Tiny(offset=1), device="cpu", resume=True, progress=False)
    shutil.rmtree(out / "data")
    MEMORY.clear()
    with pytest.raises(RunDirError, match=r"python:Tiny\) and its data folder .* is missing or damaged"):
        RunDir(out).load_data()


def test_fit_with_evaluation_reads_the_source_once_augment_never_and_resume_again(tmp_path, tiny_overrides,
                                                                                  factories, fresh_memory,
                                                                                  monkeypatch):
    monkeypatch.setattr(teacher, "SETTINGS", dataclasses.replace(teacher.SETTINGS, epochs=1))
    overrides = {"data__source": f"import:{MODULE}:counted", "model__conditional": "true"}
    fit(_recipe(tiny_overrides, eval__every=2, eval__count=20, **overrides), tmp_path / "run", device="cpu",
        progress=False)
    assert (tmp_path / "run" / "evaluations.jsonl").is_file() and factories.calls == 1
    MEMORY.clear()  # as in a new process
    augment(tmp_path / "run", tmp_path / "s", balance=True, device="cpu", progress=False)  # reads the train counts
    assert factories.calls == 1

    factories.offset = 1  # the source changes: a resume reads it again and refuses it
    with pytest.raises(RunDirError, match="changed since .* was started \\(fingerprint mismatch\\)"):
        fit(_recipe(tiny_overrides, eval__every=2, eval__count=20, train__steps=4, **overrides), tmp_path / "run",
            device="cpu", resume=True, progress=False)
    assert factories.calls == 2


def test_a_run_without_data_reads_its_source_once_and_keeps_it(run_copy, fresh_memory, monkeypatch):
    run = RunDir(run_copy("unconditional"))
    kept = read_pool(run.data_cache, run.load_split().fingerprint)
    assert kept is not None and kept.source == "digits"
    shutil.rmtree(run.data_cache)  # a run made before ganaug kept its data
    pool, split = run.load_data()
    assert torch.equal(pool.images, kept.images) and read_pool(run.data_cache, split.fingerprint) is not None
    MEMORY.clear()
    (run.data_cache / "pool.safetensors").write_bytes(b"damaged")  # a damaged copy is read as none
    assert read_pool(run.data_cache, split.fingerprint) is None
    assert torch.equal(run.load_data()[0].images, kept.images)
    monkeypatch.setattr(run_dir_module, "load_pool", lambda *a: pytest.fail("read twice in one process"))
    run.load_data()


def test_the_cache_keeps_everything_and_answers_only_its_own_fingerprint(tmp_path, factories):
    pool = load_pool(DataConfig(source=f"import:{MODULE}:pair", image_size=16))
    save_pool(tmp_path / "data", pool)
    again = read_pool(tmp_path / "data", pool.fingerprint())
    assert torch.equal(again.images, pool.images) and torch.equal(again.official_test, pool.official_test)
    assert (again.source, again.class_names, again.median_side) == (pool.source, pool.class_names, 16)
    assert read_pool(tmp_path / "data", "0" * 16) is None


def test_loading_a_generator_reads_config_and_split_once(tiny_runs, monkeypatch):
    reads = {"config": 0, "split": 0}
    for method, key in (("load_recipe", "config"), ("load_split", "split")):
        original = getattr(RunDir, method)

        def counted(self, _original=original, _key=key):
            reads[_key] += 1
            return _original(self)

        monkeypatch.setattr(RunDir, method, counted)
    RunGenerator.load(tiny_runs["unconditional"], device="cpu")
    assert reads == {"config": 1, "split": 1}
