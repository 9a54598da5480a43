"""A battery of bad inputs, as a hostile or unlucky user would give them, across every command and the Python API.

Each CLI case runs against a private copy of a small world (a trained run, a synthetic set, a second run on
another split with its set, an image folder, a regular file, a finished-looking comparison), possibly damaged
first by the case's `setup`. Every case must end in exactly one `ganaug: error:` line, exit code 2, no
traceback, and leave the world exactly as it was: nothing written, nothing existing changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY, error_line
from PIL import Image
from safetensors.torch import save_file

Setup = Callable[[Path], None]


@dataclass(frozen=True)
class Case:
    args: list[str]
    """The command line; '{w}' is the world's folder."""
    expect: str
    """A fragment the error line must contain (case-insensitive)."""
    setup: Setup | None = None
    tiny: bool = field(default=False)
    """Append the tiny fit settings (fit cases that get past validation)."""


def _tiny() -> list[str]:
    return [arg for key, value in TINY.items() for arg in ("--set", f"{key}={value}")]


# ---------------------------------------------------------------- ways to damage the world


def _edit_json(relative: str, change: Callable[[dict], object]) -> Setup:
    def setup(world: Path) -> None:
        path = world / relative
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))
    return setup


def _write(relative: str, content: bytes | str) -> Setup:
    def setup(world: Path) -> None:
        path = world / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return setup


def _tensors(relative: str, tensors: dict[str, torch.Tensor]) -> Setup:
    def setup(world: Path) -> None:
        save_file(tensors, str(world / relative))
    return setup


def _truncate(relative: str) -> Setup:
    def setup(world: Path) -> None:
        path = world / relative
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return setup


def _images(spec: dict[str, list[tuple[str, int]]]) -> Setup:
    """world/images/<class>/<i>.png: (mode, size) per image; mode 'bad' writes a corrupt file."""
    def setup(world: Path) -> None:
        rng = np.random.default_rng(0)
        for cls, images in spec.items():
            folder = world / "images" / cls
            folder.mkdir(parents=True, exist_ok=True)
            for i, (mode, size) in enumerate(images):
                if mode == "bad":
                    (folder / f"{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
                elif mode == "F":
                    Image.fromarray(rng.random((size, size), dtype=np.float32), mode="F").save(folder / f"{i}.tiff")
                else:
                    Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).convert(mode).save(
                        folder / f"{i}.png")
    return setup


def _bomb(world: Path) -> None:
    _images({"a": [("L", 16)] * 4, "b": [("L", 16)] * 4})(world)
    Image.new("1", (14000, 14000)).save(world / "images" / "b" / "bomb.png", optimize=True)


def _both(*setups: Setup) -> Setup:
    def setup(world: Path) -> None:
        for s in setups:
            s(world)
    return setup


CKPT = "run/checkpoints/step_0000020"
SHARD = "synth/shards/shard_000000.safetensors"
FIT = ["fit", "digits", "--out"]
RESUME = ["fit", "digits", "--out", "{w}/run", "--resume", "--steps", "30", "--set", "model.conditional=true",
          "--set", "log.checkpoint_every=10", "--set", "log.sample_every=10"]

CLI_CASES: dict[str, Case] = {
    # ------------------------------------------------ fit: recipe values and arguments
    "fit seed -1": Case([*FIT, "{w}/new", "--set", "train.seed=-1"], "train.seed"),
    "fit --seed 2**70": Case([*FIT, "{w}/new", "--seed", str(2**70)], "train.seed"),
    "fit split_seed -5": Case([*FIT, "{w}/new", "--set", "data.split_seed=-5"], "data.split_seed"),
    "fit huge batch": Case([*FIT, "{w}/new", "--set", "train.batch_size=1000000000"], "train.batch_size"),
    "fit huge g_width": Case([*FIT, "{w}/new", "--set", "model.g_width=100000000"], "model.g_width"),
    "fit z_dim 0": Case([*FIT, "{w}/new", "--set", "model.z_dim=0"], "model.z_dim"),
    "fit lr nan": Case([*FIT, "{w}/new", "--set", "train.lr_g=nan"], "train.lr_g"),
    "fit lr inf": Case([*FIT, "{w}/new", "--set", "train.lr_d=inf"], "train.lr_d"),
    "fit lr 0": Case([*FIT, "{w}/new", "--set", "train.lr_d=0"], "train.lr_d"),
    "fit steps 0 (--set)": Case([*FIT, "{w}/new", "--set", "train.steps=0"], "train.steps"),
    "fit --steps 0": Case([*FIT, "{w}/new", "--steps", "0"], "--steps"),
    "fit image_size 48": Case([*FIT, "{w}/new", "--set", "data.image_size=48"], "data.image_size"),
    "fit unknown diffaugment": Case([*FIT, "{w}/new", "--set", "train.diffaugment=blur"], "blur"),
    "fit unknown loss": Case([*FIT, "{w}/new", "--set", "loss.name=foo"], "loss.name"),
    "fit unknown model": Case([*FIT, "{w}/new", "--set", "model.name=foo"], "model.name"),
    "fit unknown key": Case([*FIT, "{w}/new", "--set", "train.stepz=1"], "unknown key"),
    "fit unknown section": Case([*FIT, "{w}/new", "--set", "trian.steps=1"], "trian"),
    "fit malformed --set": Case([*FIT, "{w}/new", "--set", "steps=3"], "section.key=value"),
    "fit val+test >= 1": Case([*FIT, "{w}/new", "--set", "data.val_fraction=0.5", "--set",
                               "data.test_fraction=0.5"], "below 1"),
    "fit --device tpu": Case([*FIT, "{w}/new", "--device", "tpu"], "--device"),
    "fit unknown recipe": Case(["fit", "digitz", "--out", "{w}/new"], "unknown recipe"),
    "fit missing recipe file": Case(["fit", "{w}/mine.toml", "--out", "{w}/new"], "does not exist"),
    "fit recipe not TOML": Case(["fit", "{w}/bad.toml", "--out", "{w}/new"], "not valid TOML",
                                _write("bad.toml", "[train\nsteps = ")),
    "fit --resume without --out": Case(["fit", "digits", "--resume"], "--resume needs --out"),
    # ------------------------------------------------ fit: outputs
    "fit out below a file": Case([*FIT, "{w}/file.txt/run"], "not a folder", tiny=True),
    "fit out is a file": Case([*FIT, "{w}/file.txt"], "is a file", tiny=True),
    "fit existing run": Case([*FIT, "{w}/run"], "already exists", tiny=True),
    # ------------------------------------------------ fit: data
    "folder missing": Case([*FIT.copy()[:1], "folder", "--out", "{w}/new", "--set", "data.root={w}/nothing"],
                           "does not exist", tiny=True),
    "folder one class, conditional": Case(["fit", "folder", "--out", "{w}/new", "--set", "data.root={w}/images"],
                                          "one class", _images({"only": [("L", 16)] * 6}), tiny=True),
    "folder empty class": Case(["fit", "folder", "--out", "{w}/new", "--set", "data.root={w}/images"],
                               "at least one image", _both(_images({"a": [("L", 16)] * 4}),
                                                           lambda w: (w / "images" / "b").mkdir()), tiny=True),
    "folder corrupt image": Case(["fit", "folder", "--out", "{w}/new", "--set", "data.root={w}/images"],
                                 "remove or replace", _images({"a": [("L", 16)] * 4, "b": [("bad", 16)]}), tiny=True),
    "folder decompression bomb": Case(["fit", "folder", "--out", "{w}/new", "--set", "data.root={w}/images"],
                                      "bomb.png", _bomb, tiny=True),
    "folder float images": Case(["fit", "folder", "--out", "{w}/new", "--set", "data.root={w}/images"],
                                "mode F", _images({"a": [("L", 16)] * 4, "b": [("F", 16)] * 4}), tiny=True),
    "folder single image class": Case(["fit", "folder", "--out", "{w}/new", "--set", "data.root={w}/images"],
                                      "at least 3", _images({"a": [("L", 16)] * 4, "b": [("L", 16)]}), tiny=True),
    "torchvision unknown class": Case([*FIT, "{w}/new", "--set", "data.source=torchvision:Nope",
                                       "--set", "data.root={w}"], "Nope", tiny=True),
    "torchvision files missing": Case([*FIT, "{w}/new", "--set", "data.source=torchvision:MNIST",
                                       "--set", "data.root={w}/nothing"], "not found", tiny=True),
    # ------------------------------------------------ fit --resume: tampered or truncated run files
    "resume missing folder": Case(["fit", "digits", "--out", "{w}/nothing", "--resume"], "not a ganaug run"),
    "resume not a run": Case(["fit", "digits", "--out", "{w}/images", "--resume"], "not a ganaug run",
                             _images({"a": [("L", 16)] * 3})),
    "resume other recipe value": Case([*RESUME, "--set", "model.spectral_norm=true"], "model.spectral_norm",
                                      tiny=True),
    "resume state.json missing a key": Case(RESUME, "damaged", _edit_json(f"{CKPT}/state.json",
                                                                          lambda d: d.pop("ema_updates")), tiny=True),
    "resume state.json not JSON": Case(RESUME, "not valid JSON", _write(f"{CKPT}/state.json", "{"), tiny=True),
    "resume state.json extra key": Case(RESUME, "damaged", _edit_json(f"{CKPT}/state.json",
                                                                      lambda d: d.update(x=1)), tiny=True),
    "resume generator replaced": Case(RESUME, "does not hold the weights",
                                      _tensors(f"{CKPT}/generator.safetensors", {"w": torch.zeros(3)}), tiny=True),
    "resume training state truncated": Case(RESUME, "not a readable safetensors",
                                            _truncate(f"{CKPT}/training_state.safetensors"), tiny=True),
    "resume training state replaced": Case(RESUME, "damaged", _tensors(f"{CKPT}/training_state.safetensors",
                                                                       {"rng.step": torch.zeros(3)}), tiny=True),
    "resume split.json not JSON": Case(RESUME, "not valid JSON", _write("run/split.json", "[1, 2"), tiny=True),
    "resume split.json index out of range": Case(RESUME, "outside", _edit_json(
        "run/split.json", lambda d: d["train"].append(10**6)), tiny=True),
    "resume split.json extra key": Case(RESUME, "damaged", _edit_json("run/split.json", lambda d: d.update(x=1)),
                                        tiny=True),
    "resume split.json index twice": Case(RESUME, "twice", _edit_json(
        "run/split.json", lambda d: d["val"].append(d["train"][0])), tiny=True),
    "resume run.json not JSON": Case(RESUME, "not valid JSON", _write("run/run.json", "nope"), tiny=True),
    "resume config.toml garbage": Case(RESUME, "not valid TOML", _write("run/config.toml", "[["), tiny=True),
    # ------------------------------------------------ augment
    "augment into an existing set": Case(["augment", "{w}/run", "--out", "{w}/synth", "--count", "5"],
                                         "already exists"),
    "augment out below a file": Case(["augment", "{w}/run", "--out", "{w}/file.txt/s", "--count", "5"],
                                     "not a folder"),
    "augment --count 0": Case(["augment", "{w}/run", "--out", "{w}/s", "--count", "0"], "--count"),
    "augment two quotas": Case(["augment", "{w}/run", "--out", "{w}/s", "--count", "5", "--per-class", "2"],
                               "exactly one of"),
    "augment no quota": Case(["augment", "{w}/run", "--out", "{w}/s"], "exactly one of"),
    "augment unknown labels": Case(["augment", "{w}/run", "--out", "{w}/s", "--count", "5", "--labels", "lsro"],
                                   "--labels"),
    "augment min-confidence 1.5": Case(["augment", "{w}/run", "--out", "{w}/s", "--count", "5",
                                        "--min-confidence", "1.5"], "--min-confidence"),
    "augment drop-worst nan": Case(["augment", "{w}/run", "--out", "{w}/s", "--count", "5", "--drop-worst", "nan"],
                                   "--drop-worst"),
    "augment seed -1": Case(["augment", "{w}/run", "--out", "{w}/s", "--count", "5", "--seed", "-1"], "--seed"),
    "augment seed 2**70": Case(["augment", "{w}/run", "--out", "{w}/s", "--count", "5", "--seed", str(2**70)],
                               "--seed"),
    "augment unknown checkpoint": Case(["augment", "{w}/run", "--out", "{w}/s", "--count", "5", "--checkpoint",
                                        "999"], "has steps 10, 20"),
    "augment no best checkpoint": Case(["augment", "{w}/run", "--out", "{w}/s", "--count", "5", "--checkpoint",
                                        "best"], "no best checkpoint"),
    "augment --format tiff": Case(["augment", "{w}/run", "--out", "{w}/s", "--count", "5", "--format", "tiff"],
                                  "--format"),
    "augment --shard-size 0": Case(["augment", "{w}/run", "--out", "{w}/s", "--count", "5", "--shard-size", "0"],
                                   "--shard-size"),
    "augment missing run": Case(["augment", "{w}/nothing", "--out", "{w}/s", "--count", "5"], "not a ganaug run"),
    "augment run.json lists 3 classes": Case(["augment", "{w}/run", "--out", "{w}/s", "--count", "5"], "classes",
                                             _edit_json("run/run.json",
                                                        lambda d: d["data"].update(classes=["0", "1", "2"]))),
    "augment run.json class is a path": Case(["augment", "{w}/run", "--out", "{w}/s", "--count", "5", "--format",
                                              "folder"], "classes", _edit_json(
        "run/run.json", lambda d: d["data"]["classes"].__setitem__(0, "../../escaped"))),
    "augment run.json not JSON": Case(["augment", "{w}/run", "--out", "{w}/s", "--count", "5"], "not valid JSON",
                                      _write("run/run.json", "{")),
    "augment run.json extra key": Case(["augment", "{w}/run", "--out", "{w}/s", "--count", "5"], "damaged",
                                       _edit_json("run/run.json", lambda d: d["data"].update(x=1))),
    "augment run.json other image size": Case(["augment", "{w}/run", "--out", "{w}/s", "--count", "5"],
                                              "image_size", _edit_json("run/run.json",
                                                                       lambda d: d["data"].update(image_size=32))),
    "augment EMA replaced": Case(["augment", "{w}/run", "--out", "{w}/s", "--count", "5"], "--checkpoint",
                                 _tensors(f"{CKPT}/ema_generator.safetensors", {"w": torch.zeros(3)})),
    "augment EMA truncated": Case(["augment", "{w}/run", "--out", "{w}/s", "--count", "5"], "safetensors",
                                  _truncate(f"{CKPT}/ema_generator.safetensors")),
    "augment split.json extra key": Case(["augment", "{w}/run", "--out", "{w}/s", "--count", "5"], "damaged",
                                         _edit_json("run/split.json", lambda d: d.update(x=1))),
    # ------------------------------------------------ evaluate
    "evaluate features not callable": Case(["evaluate", "{w}/run", "--features", "math:pi"], "not a function"),
    "evaluate features not importable": Case(["evaluate", "{w}/run", "--features", "nosuch.module:f"],
                                             "cannot import"),
    "evaluate features malformed": Case(["evaluate", "{w}/run", "--features", "teacherx"], "package.module"),
    "evaluate features raise": Case(["evaluate", "{w}/run", "--features", "math:sqrt"], "failed when called"),
    "evaluate count 5": Case(["evaluate", "{w}/run", "--count", "5"], "--count"),
    "evaluate unknown checkpoint": Case(["evaluate", "{w}/run", "--checkpoint", "12345"], "has steps"),
    "evaluate missing run": Case(["evaluate", "{w}/nothing"], "not a ganaug run"),
    "evaluate seed 2**70": Case(["evaluate", "{w}/run", "--seed", str(2**70)], "--seed"),
    # ------------------------------------------------ compare
    "compare ratios nan": Case(["compare", "{w}/run", "--out", "{w}/res", "--ratios", "nan"], "--ratios"),
    "compare ratios inf": Case(["compare", "{w}/run", "--out", "{w}/res", "--ratios", "inf"], "--ratios"),
    "compare ratios -1": Case(["compare", "{w}/run", "--out", "{w}/res", "--ratios", "-1"], "--ratios"),
    "compare ratios abc": Case(["compare", "{w}/run", "--out", "{w}/res", "--ratios", "abc"], "--ratios"),
    "compare unknown strategy": Case(["compare", "{w}/run", "--out", "{w}/res", "--strategies", "lsro"], "lsro"),
    "compare no strategy": Case(["compare", "{w}/run", "--out", "{w}/res", "--strategies", ","], "empty"),
    "compare seeds 0": Case(["compare", "{w}/run", "--out", "{w}/res", "--seeds", "0"], "--seeds"),
    "compare epochs 0": Case(["compare", "{w}/run", "--out", "{w}/res", "--epochs", "0"], "--epochs"),
    "compare unknown model": Case(["compare", "{w}/run", "--out", "{w}/res", "--model", "resnet_nope"],
                                  "unknown classifier"),
    "compare set from another split": Case(["compare", "{w}/run", "--out", "{w}/res", "--synthetic",
                                            "{w}/other_synth"], "another split"),
    "compare set from another run": Case(["compare", "{w}/run", "--out", "{w}/res", "--synthetic",
                                          "{w}/synth"], "another run",
                                         _edit_json("synth/manifest.json", lambda d: d.update(run_id="x" * 32))),
    "compare set without shards": Case(["compare", "{w}/run", "--out", "{w}/res", "--synthetic", "{w}/synth"],
                                       "shards", _edit_json("synth/manifest.json", lambda d: d.pop("shards"))),
    "compare set claims more shards": Case(["compare", "{w}/run", "--out", "{w}/res", "--synthetic", "{w}/synth"],
                                           "damaged", _edit_json("synth/manifest.json", lambda d: d["shards"].append(
                                               {"file": "shards/shard_000009.safetensors", "count": 3}))),
    "compare set float32 shard": Case(["compare", "{w}/run", "--out", "{w}/res", "--synthetic", "{w}/synth"],
                                      "damaged", _tensors(SHARD, {"images": torch.zeros(40, 1, 16, 16)})),
    "compare set other image shape": Case(["compare", "{w}/run", "--out", "{w}/res", "--synthetic", "{w}/synth"],
                                          "damaged", _tensors(SHARD, {"images": torch.zeros(40, 1, 8, 8,
                                                                                            dtype=torch.uint8)})),
    "compare set escapes": Case(["compare", "{w}/run", "--out", "{w}/res", "--synthetic", "{w}/synth"], "damaged",
                                _edit_json("synth/manifest.json", lambda d: d["shards"][0].update(
                                    file="../../run/checkpoints/step_0000020/generator.safetensors"))),
    "compare out with other settings": Case(["compare", "{w}/run", "--out", "{w}/results", "--strategies",
                                             "baseline"], "other"),
    "compare out not a comparison": Case(["compare", "{w}/run", "--out", "{w}/images", "--strategies", "baseline"],
                                         "not a ganaug comparison", _images({"a": [("L", 16)] * 3})),
    "compare out is a file": Case(["compare", "{w}/run", "--out", "{w}/file.txt", "--strategies", "baseline"],
                                  "not a folder"),
    "compare out below a file": Case(["compare", "{w}/run", "--out", "{w}/file.txt/res", "--strategies",
                                      "baseline"], "not a folder"),
    "compare settings file damaged": Case(["compare", "{w}/run", "--out", "{w}/results", "--strategies", "baseline"],
                                          "not valid JSON", _write("results/compare.json", "{")),
}


def _snapshot(root: Path) -> dict[str, tuple]:
    """Every path under root with its kind, permissions and content hash."""
    found = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else None
        found[str(path.relative_to(root))] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), digest)
    return found


@pytest.fixture(scope="module")
def world(tiny_runs, tmp_path_factory) -> Path:
    """The read-only template each case copies: runs, sets, a regular file and a comparison folder."""
    from ganaug.config import load_recipe
    from ganaug.stages.augment import augment
    from ganaug.stages.fit.run import fit

    root = tmp_path_factory.mktemp("world")
    shutil.copytree(tiny_runs["conditional"], root / "run")
    augment(root / "run", root / "synth", count=40, progress=False, device="cpu")
    settings = dict(TINY, **{"train.steps": "10", "log.checkpoint_every": "10", "model.conditional": "true",
                             "data.split_seed": "1"})
    recipe, _ = load_recipe("digits", [f"{k}={v}" for k, v in settings.items()])
    fit(recipe, root / "other", device="cpu", progress=False)
    augment(root / "other", root / "other_synth", count=40, progress=False, device="cpu")
    (root / "file.txt").write_text("a regular file\n")
    (root / "results").mkdir()
    (root / "results" / "compare.json").write_text(json.dumps(
        {"settings": {"run": str((root / "run").resolve()), "synthetic": None, "model": "resnet18", "epochs": 30,
                      "patience": None, "batch_size": 64, "lr": 0.002, "schedule": "cosine"}}))
    (root / "results" / "runs.csv").write_text("strategy,ratio,seed,key,test_accuracy\nbaseline,0,0,baseline|0|0,0.5\n")
    return root


@pytest.mark.parametrize("name", list(CLI_CASES))
def test_bad_cli_input_is_one_line_and_changes_nothing(name, world, tmp_path, cli):
    case = CLI_CASES[name]
    if name == "fit --device cuda" and torch.cuda.is_available():
        pytest.skip("needs a machine without a GPU")
    mine = Path(shutil.copytree(world, tmp_path / "w"))
    if case.setup is not None:
        case.setup(mine)
    before = _snapshot(mine)
    args = [arg.replace("{w}", str(mine)) for arg in case.args] + (_tiny() if case.tiny else [])
    result = cli(args)
    assert result.exit_code == 2, result.output
    message = error_line(result)  # exactly one error line, last, no traceback
    assert case.expect.lower() in message.lower(), message
    assert _snapshot(mine) == before, "a failed command must leave everything as it was"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_a_gpu_is_one_line(cli, tmp_path):
    message = error_line(cli(["fit", "digits", "--out", tmp_path / "r", "--device", "cuda"]))
    assert "--device cpu" in message and not (tmp_path / "r").exists()


def test_the_battery_is_large_enough():
    assert len(CLI_CASES) + len(API_CASES) >= 60


# ---------------------------------------------------------------- the Python API


def _api_cases() -> dict[str, tuple[Callable[[Path], object], type]]:
    from torch.utils.data import TensorDataset

    from ganaug import AugmentedDataset, AugmentedLoss, SyntheticDataset
    from ganaug.config import load_recipe
    from ganaug.stages.augment import augment
    from ganaug.stages.compare import compare
    from ganaug.stages.evaluate import evaluate
    from ganaug.stages.fit.run import fit

    def real(labels=(0, 1, 2, 3)):
        return TensorDataset(torch.zeros(len(labels), 1, 16, 16, dtype=torch.uint8), torch.tensor(labels))

    recipe = lambda *o: load_recipe("digits", list(o))[0]  # noqa: E731
    return {
        "AugmentedDataset ratio 'abc'": (lambda w: AugmentedDataset(real(), w / "synth", ratio="abc"), TypeError),
        "AugmentedDataset ratio nan": (lambda w: AugmentedDataset(real(), w / "synth", ratio=float("nan")),
                                       ValueError),
        "AugmentedDataset synthetic=123": (lambda w: AugmentedDataset(real(), 123), TypeError),
        "AugmentedDataset label 12": (lambda w: AugmentedDataset(real((0, 1, 12, 3)), w / "synth", ratio=1.0),
                                      ValueError),
        "AugmentedDataset label -1": (lambda w: AugmentedDataset(real((0, -1, 2, 3)), w / "synth", ratio=1.0),
                                      ValueError),
        "SyntheticDataset missing": (lambda w: SyntheticDataset(w / "nothing"), ValueError),
        "SyntheticDataset labels 7": (lambda w: SyntheticDataset(w / "synth", labels=7), TypeError),
        "AugmentedLoss weight -1": (lambda w: AugmentedLoss(10, synthetic_weight=-1), ValueError),
        "load_recipe seed -1": (lambda w: recipe("train.seed=-1"), ValueError),
        "fit into a file": (lambda w: fit(recipe(*[f"{k}={v}" for k, v in TINY.items()]), w / "file.txt",
                                          device="cpu", progress=False), ValueError),
        "fit resume a non-run": (lambda w: fit(recipe(), w / "nothing", resume=True, progress=False), ValueError),
        "augment count -1": (lambda w: augment(w / "run", w / "s", count=-1, progress=False), ValueError),
        "augment existing": (lambda w: augment(w / "run", w / "synth", count=3, progress=False), ValueError),
        "compare ratios nan": (lambda w: compare(w / "run", w / "res", ratios="nan", progress=False), ValueError),
        "compare other split": (lambda w: compare(w / "run", w / "res", synthetic=w / "other_synth",
                                                  progress=False), ValueError),
        "evaluate count 1": (lambda w: evaluate(w / "run", count=1, progress=False), ValueError),
        "evaluate features math:pi": (lambda w: evaluate(w / "run", features="math:pi", progress=False),
                                      ValueError),
    }


API_CASES = _api_cases()


@pytest.mark.parametrize("name", list(API_CASES))
def test_bad_api_input_raises_a_ganaug_error_of_the_builtin_type(name, world, tmp_path):
    from ganaug.errors import GanaugError

    call, builtin = API_CASES[name]
    mine = Path(shutil.copytree(world, tmp_path / "w"))
    before = _snapshot(mine)
    with pytest.raises(GanaugError) as caught:
        call(mine)
    assert isinstance(caught.value, builtin), type(caught.value).__mro__
    assert "\n" not in str(caught.value)
    assert _snapshot(mine) == before


def test_no_raise_of_the_bare_base_class():
    """Every error raised is a subclass that is also a built-in type, never the bare GanaugError."""
    package = Path(__file__).resolve().parents[1] / "ganaug"
    offenders = [f"{p.relative_to(package)}:{i}" for p in package.rglob("*.py")
                 for i, line in enumerate(p.read_text().splitlines(), 1) if "raise GanaugError(" in line]
    assert offenders == []


def test_read_only_output_folder_is_one_line(cli, tmp_path, read_only_folder):
    out = read_only_folder / "run"
    message = error_line(cli(["fit", "digits", "--out", out, *_tiny()]))
    assert "read-only" in message.lower() or "permission" in message.lower()
    assert not out.exists() and os.listdir(read_only_folder) == []
