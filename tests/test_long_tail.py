"""Long-tailed training splits (data.imbalance_ratio), their recipes, and the metrics that judge imbalance."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from ganaug.config import ConfigError, DataConfig, load_recipe
from ganaug.data import ImagePool, Split, load_pool, make_split
from ganaug.errors import DataError, RunDirError
from ganaug.labels import plan_quotas
from ganaug.stages.compare.cell import imbalance_scores
from ganaug.stages.fit.header import run_header


@pytest.fixture(scope="module")
def digits16() -> ImagePool:
    return load_pool(DataConfig(source="digits", image_size=16))


@pytest.fixture(scope="module")
def mnist5k_shaped() -> ImagePool:
    """mnist5k's classes (10 of 500 images): a stratified split's counts depend on nothing else, and reading the
    real mnist5k takes seconds."""
    labels = torch.arange(10).repeat_interleave(500)
    images = torch.zeros(len(labels), 1, 4, 4, dtype=torch.uint8)
    return ImagePool(images, labels, [str(c) for c in range(10)], "mnist5k")


def counts(pool: ImagePool, split: Split) -> list[int]:
    return torch.bincount(pool.labels[split.train], minlength=pool.num_classes).tolist()


def geometric(head: int, ratio: float) -> list[int]:
    """The law, written out again: head * ratio^(-i/9) for ten classes, rounded half up, at least 1."""
    return [max(1, math.floor(head * ratio ** (-i / 9) + 0.5)) for i in range(10)]


# ---------------------------------------------------------------- the split


@pytest.mark.parametrize("ratio", [10, 100])
@pytest.mark.parametrize("source", ["mnist5k", "digits"])
def test_training_counts_fall_geometrically_from_the_smallest_class(request, source, ratio):
    pool = request.getfixturevalue("mnist5k_shaped" if source == "mnist5k" else "digits16")
    balanced = make_split(pool, 0.15, 0.15, seed=2)
    head = min(counts(pool, balanced))  # every class can supply it
    split = make_split(pool, 0.15, 0.15, seed=2, imbalance_ratio=ratio)
    assert counts(pool, split) == geometric(head, ratio) == split.train_counts
    assert split.train_counts[0] == head and split.train_counts[-1] == max(1, math.floor(head / ratio + 0.5))
    # the long tail is drawn from the balanced training split; validation and test are left exactly as they were
    assert set(split.train) < set(balanced.train)
    assert split.val == balanced.val and split.test == balanced.test


def test_head_count_from_train_per_class(mnist5k_shaped):
    split = make_split(mnist5k_shaped, 0.1, 0.1, train_per_class=400, seed=0, imbalance_ratio=100)
    assert split.train_counts == [400, 240, 144, 86, 52, 31, 19, 11, 7, 4]
    capped = make_split(mnist5k_shaped, 0.1, 0.1, train_per_class=400, seed=0)
    assert set(split.train) < set(capped.train)
    assert split.val == capped.val and split.test == capped.test


def test_a_head_count_a_class_cannot_supply_is_a_data_error(mnist5k_shaped):
    with pytest.raises(DataError, match=r"needs 400 training images of class '0', but the split has 350; "
                                        r"set data.train_per_class to at most 350"):
        make_split(mnist5k_shaped, 0.15, 0.15, train_per_class=400, imbalance_ratio=100)


def test_a_class_that_would_get_less_than_one_image_keeps_one(mnist5k_shaped):
    split = make_split(mnist5k_shaped, 0.15, 0.15, train_per_class=50, imbalance_ratio=1000)
    assert split.train_counts == [50, 23, 11, 5, 2, 1, 1, 1, 1, 1]  # 50 * 1000^(-9/9) = 0.05 -> 1


def test_ratio_one_is_exactly_todays_split(digits16):
    # Split.id values of make_split before data.imbalance_ratio existed: synthetic sets are matched by them.
    for kwargs, today in ((dict(seed=0), "df67ac50fe71ffda"), (dict(seed=3, train_per_class=7), "ee5d8cee2d0c2f06")):
        split = make_split(digits16, 0.15, 0.15, imbalance_ratio=1, **kwargs)
        assert split.id == today and split == make_split(digits16, 0.15, 0.15, **kwargs)


def test_split_json_records_the_counts_and_check_holds_them_to_the_indices(tmp_path, digits16):
    split = make_split(digits16, 0.15, 0.15, seed=1, imbalance_ratio=10)
    path = tmp_path / "split.json"
    split.save(path)
    assert json.loads(path.read_text())["train_counts"] == counts(digits16, split)
    loaded = Split.load(path)
    assert loaded == split
    loaded.check(digits16, path)
    raw = json.loads(path.read_text())
    del raw["train_counts"]  # a run made before the counts were recorded
    path.write_text(json.dumps(raw))
    Split.load(path).check(digits16, path)
    raw["train_counts"] = [1] * 10
    path.write_text(json.dumps(raw))
    with pytest.raises(RunDirError, match="train_counts do not match"):
        Split.load(path).check(digits16, path)


# ---------------------------------------------------------------- configuration and recipes


@pytest.mark.parametrize(("value", "words"), [
    ("0.5", "data.imbalance_ratio must be at least 1 (1: balanced; 100: the first class has 100 times the last "
            "one's training images), not 0.5"),
    ("-3", "not -3"),
    ("inf", "data.imbalance_ratio"),
    ("true", "data.imbalance_ratio: Input should be a valid number"),
])
def test_an_impossible_ratio_is_a_config_error_naming_the_set(value, words):
    with pytest.raises(ConfigError) as info:
        load_recipe("digits", [f"data.imbalance_ratio={value}"])
    assert words in str(info.value) and str(info.value).startswith(f"--set 'data.imbalance_ratio={value}'")


@pytest.mark.parametrize(("value", "ratio"), [("1", 1.0), ("100", 100.0), ("12.5", 12.5)])
def test_integer_and_fractional_ratios_are_accepted(value, ratio):
    recipe, _ = load_recipe("digits", [f"data.imbalance_ratio={value}"])
    assert recipe.data.imbalance_ratio == ratio
    assert load_recipe("digits")[0].data.imbalance_ratio == 1  # the default: balanced, as before


@pytest.mark.parametrize(("name", "ratio", "tail"), [("mnist5k-lt10", 10, 30), ("mnist5k-lt100", 100, 3)])
def test_long_tail_recipes(mnist5k_shaped, name, ratio, tail):
    d = load_recipe(name)[0].data
    assert (d.source, d.imbalance_ratio, d.train_per_class) == ("mnist5k", ratio, 300)
    split = make_split(mnist5k_shaped, d.val_fraction, d.test_fraction, d.train_per_class, d.split_seed,
                       d.imbalance_ratio)
    assert split.train_counts == geometric(300, ratio) and split.train_counts[-1] == tail
    assert f"to {tail} of digit 9" in load_recipe(name)[0].description


# ---------------------------------------------------------------- fit and augment --balance


def test_fit_header_shows_the_long_tail(digits16):
    recipe, _ = load_recipe("digits", ["data.image_size=16", "data.train_per_class=40", "data.imbalance_ratio=10"])
    split = make_split(digits16, 0.15, 0.15, 40, 0, 10)
    lines = run_header(recipe, digits16, split, torch.device("cpu"), "cpu", None)
    assert "(train per class: 4-40, long-tailed: data.imbalance_ratio = 10)" in lines[1]


def test_balance_tops_a_long_tailed_run_up_to_its_head(tmp_path, tiny_overrides, monkeypatch):
    from ganaug.stages.augment import augment
    from ganaug.stages.fit import hooks
    from ganaug.stages.fit.run import fit

    monkeypatch.setattr(hooks, "save_loss_curve", lambda *args: None)  # most of a 2-step fit's time; not tested here
    recipe, _ = load_recipe("digits", tiny_overrides(train__steps=2, model__conditional="true",
                                                     data__train_per_class=20, data__imbalance_ratio=10))
    run = fit(recipe, tmp_path / "run", device="cpu", progress=False).run
    train_counts = Split.load(run.split).train_counts
    assert train_counts == geometric(20, 10)
    quotas = plan_quotas(balance=True, train_counts=train_counts)
    assert quotas.per_class == tuple(20 - n for n in train_counts) and quotas.per_class[0] == 0
    synth = augment(run.root, tmp_path / "s", balance=True, device="cpu", progress=False).synthetic
    made = np.bincount(synth.table()["generated_for"].to_numpy(), minlength=10)
    assert (made + np.array(train_counts) == 20).all()


# ---------------------------------------------------------------- the teacher


@pytest.mark.parametrize(("counts", "rebalance"), [
    ([400, 240, 144, 86, 52, 31, 19, 11, 7, 4], "oversample"), ([50, 44], "oversample"),
    ([50] * 10, None), ([50, 46, 48], None)])
def test_the_teacher_balances_its_batches_on_imbalanced_classes_only(counts, rebalance):
    from ganaug.runs import teacher

    settings = teacher.teacher_settings(counts)
    assert settings.rebalance == rebalance
    assert dataclasses.replace(settings, rebalance=None) == teacher.SETTINGS  # and nothing else changes


def test_a_long_tailed_runs_teacher_learns_from_class_balanced_batches(tmp_path, tiny_overrides, monkeypatch):
    from ganaug.runs import teacher as teacher_module
    from ganaug.stages.fit import hooks
    from ganaug.stages.fit.run import fit

    seen = []
    real_train = teacher_module.train_classifier

    def spy(model, train, val_images, val_labels, settings, **kwargs):
        seen.append(settings.rebalance)
        return real_train(model, train, val_images, val_labels, settings, **kwargs)

    monkeypatch.setattr(teacher_module, "train_classifier", spy)
    monkeypatch.setattr(hooks, "save_loss_curve", lambda *args: None)
    recipe, _ = load_recipe("digits", tiny_overrides(train__steps=2, data__train_per_class=20,
                                                     data__imbalance_ratio=10))
    run = fit(recipe, tmp_path / "run", device="cpu", progress=False).run
    teacher = teacher_module.get_teacher(run, torch.device("cpu"), progress=False)
    assert seen == ["oversample"] and teacher.info["settings"]["rebalance"] == "oversample"
    teacher_module.get_teacher(run, torch.device("cpu"), progress=False)
    assert seen == ["oversample"], "the saved teacher is reused"
    saved = run.root / "teacher" / "teacher.json"  # as a teacher of the versions that never balanced saved it
    info = json.loads(saved.read_text(encoding="utf-8"))
    saved.write_text(json.dumps({**info, "settings": {**info["settings"], "rebalance": None}}), encoding="utf-8")
    teacher_module.get_teacher(run, torch.device("cpu"), progress=False)
    assert seen == ["oversample", "oversample"], "a teacher trained on the imbalanced batches is replaced"


# ---------------------------------------------------------------- metrics


def test_imbalance_scores_on_a_fabricated_prediction():
    truth = np.repeat(np.arange(4), 10)  # four classes, ten test images each
    predicted = truth.copy()
    predicted[10:15] = 0  # class 1: recall 0.5
    predicted[20:30] = 0  # class 2: recall 0
    predicted[30:32] = 2  # class 3: recall 0.8
    scores = imbalance_scores(truth, predicted, train_counts=[100, 5, 50, 5])
    assert scores["balanced_accuracy"] == pytest.approx((1 + 0.5 + 0 + 0.8) / 4)
    # the three classes with the fewest training images: 1 and 3 (5 each), then 2 (50)
    assert scores["small_class_recall"] == pytest.approx((0.5 + 0.8 + 0) / 3)
    # a balanced split: ties go by class order, so the first three classes
    assert imbalance_scores(truth, predicted, [7] * 4)["small_class_recall"] == pytest.approx((1 + 0.5 + 0) / 3)
