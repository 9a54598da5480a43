"""The Python face: the README's workflow runs as written (on tiny settings), `import ganaug` stays light, arguments
are refused up front with the right error classes, and the data sets have torchvision's classes, targets and repr."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import ganaug
from ganaug.config import parse_override
from ganaug.errors import ConfigError, GanaugError, UsageError, WrongTypeError
from ganaug.runs.synthset import SynthSet
from ganaug.stages.augment import augment as augment_stage

ROOT = Path(__file__).resolve().parents[1]


def readme_python_api() -> str:
    """The Python block of the README's "Python API" section, as a user would copy it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "\n## Python API\n" in text, "README.md needs its '## Python API' section"
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.+?)\n```", section, re.DOTALL)
    assert len(blocks) == 1
    return blocks[0]


def test_the_readme_workflow_runs_in_python(tmp_path, monkeypatch, tiny_overrides):
    """load_recipe -> fit -> evaluate -> augment -> AugmentedDataset in a DataLoader -> compare, as the README has
    it, with a tiny GAN (4 steps, 16 px, 10 training images a class), fewer images, and one seed of one epoch."""
    code = readme_python_api()
    tiny = {".".join(key): value for key, value in map(parse_override, tiny_overrides(data__train_per_class=10))}
    for text, quick in (('{"train.steps": 300}', '{"train.steps": 4, **tiny}'), ("count=1000", "count=100"),
                        ("count=2000", "count=300"), ("seeds=3)", "seeds=1, epochs=1)")):
        assert code.count(text) == 1, text
        code = code.replace(text, quick)
    monkeypatch.chdir(tmp_path)
    scope = {"tiny": tiny}
    exec(compile(code, "README.md", "exec"), scope)

    run, data, result = scope["run"], scope["data"], scope["result"]
    assert run.root == Path("runs/digits") and run.latest_checkpoint() is not None
    assert SynthSet(Path("runs/digits-synth")).manifest["labels"] == "soft"
    assert data.real_count == 100 and data.synthetic_count == 50 and torch.isfinite(scope["loss"])
    assert "Real: 100, synthetic: 50 (ratio 0.5, labels 'soft')" in repr(data)
    assert data.targets == [int(data[i][1].argmax()) for i in range(len(data))]  # soft: the teacher's top class
    assert sorted(result.runs["key"]) == sorted(["baseline|0|0", "uniform|0.5|0", "uniform|1|0", "soft|0.5|0",
                                                 "soft|1|0"])
    recorded = json.loads(Path("runs/digits-compare/compare.json").read_text())
    assert (recorded["strategies"], recorded["ratios"], recorded["seeds"]) == (["baseline", "uniform", "soft"],
                                                                               [0.5, 1.0], 1)


def test_import_ganaug_does_not_import_torch():
    code = "import sys, ganaug; assert 'torch' not in sys.modules, 'import ganaug imported torch'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    from ganaug import api

    names = ("fit", "augment", "evaluate", "compare", "load_recipe")
    assert set(names) <= set(ganaug.__all__) and all(getattr(ganaug, name) is getattr(api, name) for name in names)


def test_overrides_as_a_mapping_or_strings_and_recipe_objects(tmp_path, tiny_overrides):
    as_mapping = ganaug.load_recipe("digits", {"train.lr_g": 1e-4, "model.conditional": True, "data.image_size": 16})
    as_text = ganaug.load_recipe("digits", ["train.lr_g=1e-4", "model.conditional=true", "data.image_size=16"])
    assert as_mapping == as_text and as_mapping.train.lr_g == 1e-4 and as_mapping.model.conditional
    with pytest.raises(ConfigError, match="train.steps"):  # a Recipe object takes overrides too, validated
        ganaug.fit(as_mapping, tmp_path / "bad", overrides={"train.steps": -1})
    assert not (tmp_path / "bad").exists()
    result = ganaug.fit(ganaug.load_recipe("digits", tiny_overrides()), tmp_path / "run", steps=2, seed=3,
                        device="cpu", progress=False)
    assert result.steps == 2 and result.run.load_recipe().train.seed == 3


@pytest.mark.parametrize("call, error, message", [
    (lambda p: ganaug.load_recipe(42), WrongTypeError, "recipe must be a built-in recipe name"),
    (lambda p: ganaug.load_recipe("nonsense"), ConfigError, "unknown recipe 'nonsense'"),
    (lambda p: ganaug.load_recipe("digits", "train.steps=5"), WrongTypeError, "overrides must be a sequence"),
    (lambda p: ganaug.load_recipe("digits", {"train": 5}), ConfigError, "must look like section.key=value"),
    (lambda p: ganaug.load_recipe("digits", {"train.steps": 0}), ConfigError, "train.steps"),
    (lambda p: ganaug.fit("digits", p / "run", steps="5"), WrongTypeError, "steps must be an integer"),
    (lambda p: ganaug.fit("digits", p / "run", seed=-1), UsageError, "seed must be from 0 to 2147483647"),
    (lambda p: ganaug.fit("digits", p / "run", device=0), WrongTypeError, "device must be"),
    (lambda p: ganaug.fit(None, p / "run"), UsageError, "only resume=True with out"),
    (lambda p: ganaug.augment(3.5, p / "s"), WrongTypeError, "run must be the path of a run folder"),
    (lambda p: ganaug.augment(p, p / "s", count="10"), WrongTypeError, "count must be an integer"),
    (lambda p: ganaug.augment(p, p / "s", labels="lsro"), UsageError, "labels must be one of"),
    (lambda p: ganaug.augment(p, p / "s", formats="csv"), WrongTypeError, "formats must be a sequence"),
    (lambda p: ganaug.augment(p, p / "s", per_class=[1, 2]), WrongTypeError, "per_class must be an integer"),
    (lambda p: ganaug.evaluate(p, features=None), WrongTypeError, "features must be"),
    (lambda p: ganaug.evaluate(p, checkpoint=1.5), WrongTypeError, "checkpoint must be an integer"),
    (lambda p: ganaug.compare(p, p / "c", strategies="baseline,uniform"), WrongTypeError,
     r"strategies must be a sequence such as \['baseline', 'uniform'\], not 'baseline,uniform' \(a str\)"),
    (lambda p: ganaug.compare(p, p / "c", ratios=[0.5, "1"]), WrongTypeError, r"ratios\[1\] must be a finite"),
    (lambda p: ganaug.compare(p, p / "c", seeds=2.5), WrongTypeError, "seeds must be an integer"),
    (lambda p: ganaug.compare(p, p / "c", seeds=[0, True]), WrongTypeError, r"seeds\[1\] must be an integer"),
    (lambda p: ganaug.compare(p, p / "c", epochs=0), UsageError, "epochs must be an integer >= 1"),
    (lambda p: ganaug.compare(p, p / "c", schedule="linear"), UsageError, "schedule must be one of"),
    (lambda p: ganaug.compare(p, p / "c", synthetic=7), WrongTypeError, "synthetic must be the path"),
])
def test_bad_arguments_are_refused_before_any_work(tmp_path, call, error, message):
    with pytest.raises(error, match=message) as caught:
        call(tmp_path)
    assert isinstance(caught.value, GanaugError) and "\n" not in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing was written


def test_stage_checks_reach_python_callers(tiny_runs, tmp_path):
    run = tiny_runs["conditional"]
    with pytest.raises(UsageError, match="--count must be at least 20"):
        ganaug.evaluate(run, count=5)
    with pytest.raises(UsageError, match="seeds must be 1 to 1000 different integers"):
        ganaug.compare(run, tmp_path / "c", strategies=["baseline"], seeds=[1, 1])
    with pytest.raises(UsageError, match="unknown strategy 'lsro'"):
        ganaug.compare(run, tmp_path / "c", strategies=["lsro"])
    assert not (tmp_path / "c").exists()


@pytest.fixture(scope="module")
def conditional_set(tiny_runs, tmp_path_factory):
    """30 images from the conditional tiny run, labelled by their class (no teacher: the run is left as it is)."""
    out = tmp_path_factory.mktemp("api") / "set"
    return augment_stage(tiny_runs["conditional"], out, count=30, labels="conditional", progress=False).synthetic.root


class Labelled(torch.utils.data.Dataset):
    """Real 16 px grey images labelled i % 10, with or without a `targets` attribute to read labels from."""

    def __init__(self, n: int, with_targets: bool) -> None:
        self.n = n
        if with_targets:
            self.targets = [i % 10 for i in range(n)]

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        return torch.full((1, 16, 16), i, dtype=torch.uint8), i % 10


def test_classes_targets_and_repr_without_reading_an_image(conditional_set, monkeypatch):
    generated_for = SynthSet(conditional_set).table()["generated_for"].tolist()
    names = [str(c) for c in range(10)]
    monkeypatch.setattr(SynthSet, "image", lambda *a: pytest.fail("an image was read"))
    synthetic = ganaug.SyntheticDataset(conditional_set)
    assert synthetic.classes == names and synthetic.targets == generated_for
    assert ganaug.SyntheticDataset(conditional_set, labels="extra").targets == [10] * 30  # K: the extra output
    for no_class in ("uniform", "argmax-dynamic"):
        assert ganaug.SyntheticDataset(conditional_set, labels=no_class).targets == [-1] * 30
    assert repr(synthetic).splitlines() == [
        "SyntheticDataset", "    Number of datapoints: 30", f"    Source: the synthetic set {str(conditional_set)!r}",
        "    Classes: 10, labels 'conditional'"]
    for with_targets in (True, False):
        data = ganaug.AugmentedDataset(Labelled(40, with_targets), conditional_set, count=7, seed=3, transform=None)
        assert data.classes == names
        assert data.targets == [i % 10 for i in range(40)] + [generated_for[k] for k in data.keys]
    assert repr(data).splitlines() == [
        "AugmentedDataset", "    Number of datapoints: 47",
        "    Real: 40, synthetic: 7 (ratio 0.175, labels 'conditional')",
        f"    Synthetic source: the synthetic set {str(conditional_set)!r}"]
    wrapped = ganaug.AugmentedDataset(Labelled(40, True), synthetic, labels="uniform", ratio=0.5, transform=torch.neg)
    assert wrapped.targets[40:] == [-1] * 20 and wrapped.targets[:3] == [0, 1, 2]
    assert "    Synthetic transform: <built-in method neg" in repr(wrapped)
