"""How compare cells use their synthetic images (LABELS@USE): fresh draws each epoch, pre-training then fine-tuning,
and only the images the teacher is confident about."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from ganaug.classify import TensorSet, TrainSettings, train_classifier
from ganaug.classify.models import ClassifierSpec, create_classifier
from ganaug.data.balance import image_weights
from ganaug.errors import UsageError
from ganaug.labels import create_labeller, fill_smallest, plan_quotas
from ganaug.runs.run_dir import RunDir
from ganaug.runs.synthset import SynthSet
from ganaug.stages.augment import augment
from ganaug.stages.compare import cell as cell_module
from ganaug.stages.compare.cell import ClassifierSettings
from ganaug.stages.compare.data import CompareData
from ganaug.stages.compare.grid import CONFIDENT, Cell, build_grid, parse_strategies
from ganaug.stages.compare.run import OVERSAMPLE, synthetic_count
from ganaug.stages.wrap import AugmentedDataset, load_split

QUICK = ClassifierSettings(epochs=3, batch_size=128)


@pytest.fixture(scope="module")
def conditional_run(tiny_runs, tmp_path_factory):
    return shutil.copytree(tiny_runs["conditional"], tmp_path_factory.mktemp("uses") / "run")


@pytest.fixture(scope="module")
def data(conditional_run, tmp_path_factory) -> CompareData:
    synthetic = augment(conditional_run, tmp_path_factory.mktemp("syn") / "s", count=2000, labels="soft",
                        progress=False).synthetic.root
    return CompareData.load(RunDir(conditional_run), SynthSet(synthetic))


# ---------------------------------------------------------------- spelling


def test_uses_are_spelled_after_the_labels_and_before_the_policy():
    assert parse_strategies("soft@fresh+classic,conditional@pretrain,argmax@confident+trivialaugment,soft") == [
        ("soft@fresh", "classic"), ("conditional@pretrain", None), ("argmax@confident", "trivialaugment"),
        ("soft", None)]
    cells = build_grid(parse_strategies("soft@fresh+classic,baseline"), [2.0], [7])
    fresh = next(c for c in cells if c.uses_gan)
    assert (fresh.name, fresh.labels, fresh.use, fresh.classic, fresh.key) == (
        "soft@fresh+classic", "soft", "fresh", "classic", "soft@fresh+classic|2|7")
    plain = Cell("soft", None, 1.0, 0)
    assert (plain.labels, plain.use, plain.key) == ("soft", "mix", "soft|1|7".replace("7", "0"))


@pytest.mark.parametrize("text", ["soft@nope", "soft@mix", "oversample@fresh", "baseline@fresh", "cas@fresh",
                                  "soft@fresh+nope", "@fresh"])
def test_a_use_that_does_not_exist_is_one_clear_error(text):
    with pytest.raises(UsageError, match="unknown strategy"):
        parse_strategies(text)


@pytest.mark.parametrize("labels", ["uniform", "extra", "argmax-dynamic"])
def test_pretraining_and_oversampling_need_labels_that_name_a_class(labels):
    with pytest.raises(UsageError, match="pre-training needs labels that name a class"):
        parse_strategies(f"{labels}@pretrain")
    with pytest.raises(UsageError, match="oversampling by class needs labels that name a class.*@oversample"):
        parse_strategies(f"{labels}@oversample+classic")


def test_compare_generates_enough_images_for_each_use():
    count = lambda text, counts=(10,) * 10: synthetic_count(  # noqa: E731
        build_grid(parse_strategies(text), [1.5], 1), ClassifierSettings(epochs=30), counts)
    assert count("soft") == 150 * OVERSAMPLE
    assert count("soft@fresh") == 150 * 30  # a new draw for every epoch
    assert count("soft@confident") == 300 * OVERSAMPLE  # made as if half the images passed the filter
    assert count("soft,soft@fresh,baseline") == 150 * 30
    # 1.5 x 100 real images, to even out 40, 30, 20, 10: 23, 33, 42, 52 (62-63 each), so 52 per class, made for
    # all 4 classes in turn
    assert count("conditional@balance", (40, 30, 20, 10)) == 52 * 4 * OVERSAMPLE


# ---------------------------------------------------------------- fresh


def test_fresh_cells_see_new_images_every_epoch(data):
    cell = Cell("soft@fresh", None, 0.25, 3)  # 5 draws of a quarter of the real images fit in the set
    epochs = [data.synthetic_rows(cell, epoch) for epoch in range(1, 6)]
    wanted = data.synthetic_wanted(cell)
    assert all(len(rows) == wanted for rows in epochs)
    assert len(np.unique(np.concatenate(epochs))) == 5 * wanted, "no image comes back in a later epoch"
    assert np.array_equal(epochs[0], data.synthetic_rows(Cell("conditional@fresh", "classic", 0.25, 3), 1)), \
        "paired: one seed, the same images whatever the labels"
    assert not np.array_equal(epochs[0], data.synthetic_rows(Cell("soft@fresh", None, 0.25, 4), 1))
    first, second = data.training_set(cell, 1)[0], data.training_set(cell, 2)[0]
    assert torch.equal(first.images[~first.synthetic], second.images[~second.synthetic]), "the real images stay"
    assert not torch.equal(first.images[first.synthetic], second.images[second.synthetic])


def test_the_training_loop_trains_each_epoch_on_that_epochs_set(data):
    seen = []

    def sets(epoch: int) -> TensorSet:
        seen.append(epoch)
        return data.training_set(Cell("soft@fresh", None, 0.5, 0), epoch)[0]

    model = create_classifier("small-cnn", ClassifierSpec(data.channels, data.num_classes, data.image_size))
    result = train_classifier(model, sets, data.val.images, data.val.labels, TrainSettings(epochs=3, batch_size=128),
                              real_classes=data.num_classes)
    assert seen == [1, 2, 3] and result.epochs_run == 3

    def shrinking(epoch: int) -> TensorSet:
        real = data.real_set(data.num_classes)
        return TensorSet(real.images[epoch:], real.targets[epoch:], real.synthetic[epoch:])

    with pytest.raises(ValueError, match="every epoch's must be the same size"):
        train_classifier(model, shrinking, data.val.images, data.val.labels, TrainSettings(epochs=2),
                         real_classes=data.num_classes)


def test_a_set_too_small_for_fresh_draws_is_refused_before_training(data):
    cells = build_grid(parse_strategies("soft@fresh"), [1.0], 1)
    data.check(cells, epochs=1)  # the real images once fit in 2,000
    with pytest.raises(UsageError, match=r"needs \d+ new synthetic images for each of 400 epochs but .* has 2000; "
                                         "generate more or lower --ratios"):
        data.check(cells, epochs=400)


# ---------------------------------------------------------------- confident


def test_confident_cells_draw_only_images_the_teacher_is_sure_of(data):
    confidence = create_labeller("conditional").confidence(data.synthetic_set()[2])
    # half the confident images: how many there are depends on the tiny GAN, hence on the CPU's precision
    assert (confidence >= CONFIDENT).sum() >= 10, "too few confident images for this test to mean anything"
    cell = Cell("conditional@confident", None, int((confidence >= CONFIDENT).sum()) / 2 / len(data.train.labels), 2)
    rows = data.synthetic_rows(cell)
    assert len(rows) == data.synthetic_wanted(cell) and len(set(rows.tolist())) == len(rows)
    assert (confidence[torch.from_numpy(rows)] >= CONFIDENT).all()
    assert (confidence < CONFIDENT).any(), "the tiny GAN's set has images the filter drops, or this proves nothing"
    train = data.training_set(cell)[0]
    assert int(train.synthetic.sum()) == len(rows) and int((~train.synthetic).sum()) == len(data.train.labels)


def test_too_few_confident_images_or_no_teacher_is_refused(data, conditional_run, tmp_path):
    confident = int((create_labeller("soft").confidence(data.synthetic_set()[2]) >= CONFIDENT).sum())
    ratio = (confident + 1) / len(data.train.labels)
    with pytest.raises(UsageError, match=f"has {confident} with teacher confidence >= 0.9"):
        data.check(build_grid(parse_strategies("soft@confident"), [ratio], 1), epochs=1)
    plain = augment(conditional_run, tmp_path / "plain", count=300, labels="conditional", progress=False).synthetic
    without_teacher = CompareData.load(RunDir(conditional_run), SynthSet(plain.root))
    with pytest.raises(UsageError, match="no teacher probabilities"):
        without_teacher.check(build_grid(parse_strategies("conditional@confident"), [1.0], 1), epochs=1)


# ---------------------------------------------------------------- pretrain


def test_pretrain_cells_train_on_synthetic_images_then_fine_tune_on_real_ones(data, monkeypatch):
    calls = []
    real_train = cell_module.train_classifier

    def spy(model, train, *args, **kwargs):
        result = real_train(model, train, *args, **kwargs)
        calls.append((model, train, result.model))
        return result

    monkeypatch.setattr(cell_module, "train_classifier", spy)
    cell = Cell("soft@pretrain", "classic", 1.0, 1)
    row = cell_module.run_cell(data, cell, QUICK, torch.device("cpu"))
    (first_model, first, pretrained), (second_model, second, _) = calls
    assert bool(first.synthetic.all()) and len(first.images) == data.synthetic_wanted(cell)
    assert not bool(second.synthetic.any()) and torch.equal(second.images, data.train.images)
    assert second_model is pretrained, "fine-tuning starts from the pre-trained weights"
    assert (row["real_images"], row["synthetic_images"]) == (len(data.train.labels), data.synthetic_wanted(cell))
    calls.clear()
    cell_module.run_cell(data, Cell("soft", "classic", 1.0, 1), QUICK, torch.device("cpu"))
    assert len(calls) == 1


def test_a_grid_of_every_use_runs_end_to_end(cli, conditional_run, data, tmp_path):
    out = tmp_path / "uses"
    result = cli(["compare", conditional_run, "--synthetic", data.synthetic.root, "--out", out, "--strategies",
                  "baseline,soft@fresh,conditional@pretrain+classic,argmax@confident,soft@balance,"
                  "conditional@oversample", "--ratios", "0.1",
                  "--seeds", 2, "--epochs", 1])
    assert result.exit_code == 0, result.output
    runs = pd.read_csv(out / "runs.csv")
    assert sorted(set(runs["strategy"])) == ["argmax@confident", "baseline", "conditional@oversample",
                                             "conditional@pretrain+classic", "soft@balance", "soft@fresh"]
    summary = pd.read_csv(out / "summary.csv")
    assert (summary[summary["strategy"] != "baseline"]["best_classical"] == "baseline").all()
    assert "| soft@fresh | 0.1 | 2 |" in (out / "summary.md").read_text()


# ---------------------------------------------------------------- balance


def test_fill_smallest_evens_the_classes_out_before_adding_to_any_other():
    assert fill_smallest([400, 200, 100, 4], 0) == (0, 0, 0, 0)
    assert fill_smallest([400, 200, 100, 4], 96) == (0, 0, 0, 96)  # the smallest up to the next
    assert fill_smallest([400, 200, 100, 4], 97) == (0, 0, 1, 96)  # a tie goes to the first class
    assert fill_smallest([400, 200, 100, 4], 700) == (0, 135, 235, 330)  # 335, 335, 334 beside 400
    assert fill_smallest([400, 200, 100, 4], 896 + 8) == (2, 202, 302, 398)  # all at 400, then spread evenly
    assert fill_smallest([10, 10], 5) == (3, 2)
    for counts, total in (([5, 1, 3], 20), ([7], 3), ([0, 0, 9], 4), ([3, 8, 8, 1], 11)):
        wanted = fill_smallest(counts, total)
        ends = [n + w for n, w in zip(counts, wanted, strict=True)]
        assert sum(wanted) == total and min(wanted) >= 0
        assert max(e for e, w in zip(ends, wanted, strict=True) if w) <= min(ends) + 1, "only the smallest got any"
    with pytest.raises(ValueError):
        fill_smallest([3, -1], 2)


def test_augment_balance_quotas_are_fill_smallest_of_the_gap():
    assert plan_quotas(balance=True, train_counts=[50, 20, 35]).per_class == (0, 30, 15)


def test_balance_cells_give_their_images_to_the_smallest_classes(data, conditional_run):
    counts = torch.bincount(data.train.labels, minlength=data.num_classes).tolist()
    small = min(range(len(counts)), key=lambda c: counts[c])
    cell = Cell("conditional@balance", None, 0.05, 4)
    rows = data.synthetic_rows(cell)
    classes = data.synthetic_set()[2].classes()[torch.from_numpy(rows)]
    drawn = torch.bincount(classes, minlength=data.num_classes).tolist()
    assert tuple(drawn) == data.balance_quotas(cell) == fill_smallest(counts, data.synthetic_wanted(cell))
    assert drawn[small] == max(drawn) > 0
    # the same images as AugmentedDataset with those per-class quotas and seed: the path users ship
    dataset = AugmentedDataset(load_split(conditional_run, "train"), data.synthetic.root, seed=cell.seed,
                               per_class=dict(enumerate(drawn)), transform=None)
    assert sorted(rows.tolist()) == dataset.keys
    with pytest.raises(UsageError, match=r"needs \d+ synthetic images of class '\d' but the set has \d+"):
        data.check([Cell("conditional@balance", None, 20.0, 0)], epochs=1)


def test_oversample_cells_mix_their_draw_in_and_oversample_real_and_synthetic_images_apart(data, conditional_run,
                                                                                           monkeypatch):
    cell = Cell("conditional@oversample", "classic", 1.0, 2)
    assert (cell.use, cell.rebalance, cell.uses_gan) == ("oversample", "oversample", True)
    assert np.array_equal(data.synthetic_rows(cell), data.synthetic_rows(Cell("conditional", "classic", 1.0, 2)))
    drawn = []
    real_oversample = cell_module.train_classifier.__globals__["oversample"]

    def spy(labels, count, generator, groups=None):
        drawn.append(groups)
        return real_oversample(labels, count, generator, groups)

    monkeypatch.setitem(cell_module.train_classifier.__globals__, "oversample", spy)
    row = cell_module.run_cell(data, cell, QUICK, torch.device("cpu"))
    assert len(drawn) == QUICK.epochs and int(drawn[0].sum()) == data.synthetic_wanted(cell) == row["synthetic_images"]
    # the weights users get in code for the same images: what the cell trained with
    train = data.training_set(cell)[0]
    dataset = AugmentedDataset(load_split(conditional_run, "train"), data.synthetic.root, labels="conditional",
                               ratio=cell.ratio, seed=cell.seed, transform=None)
    torch.testing.assert_close(dataset.oversampling_weights().sort().values,
                               image_weights(train.targets.argmax(1), train.synthetic).sort().values)


# ---------------------------------------------------------------- --checkpoint


def test_compare_makes_its_set_from_the_checkpoint_asked_for(cli, conditional_run, data, tmp_path):
    out = tmp_path / "step10"
    result = cli(["compare", conditional_run, "--checkpoint", "10", "--out", out, "--strategies", "conditional",
                  "--ratios", "0.05", "--seeds", 1, "--epochs", 1])
    assert result.exit_code == 0, result.output
    assert SynthSet(out / "synthetic").manifest["checkpoint"].endswith("step_0000010")
    assert json.loads((out / "compare.json").read_text())["settings"]["checkpoint"] == "10"
    for args, message in ((["--checkpoint", "best"], "has no best checkpoint"),
                          (["--checkpoint", "7"], "checkpoint '7' is not in"),
                          (["--checkpoint", "10", "--synthetic", data.synthetic.root], "give one or the other")):
        bad = cli(["compare", conditional_run, "--out", tmp_path / "bad", "--strategies", "conditional", *args])
        assert bad.exit_code != 0 and message in bad.output and "Traceback" not in bad.output
        assert not (tmp_path / "bad").exists()
