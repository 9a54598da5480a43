"""`ganaug compare`: a tiny grid end to end, paired seeding, restart-skip, the test split untouched by selection."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torchvision.transforms.v2 as T

from ganaug.data import Split, load_pool
from ganaug.errors import GanaugError
from ganaug.labels import LABELLERS
from ganaug.runs.run_dir import RunDir
from ganaug.stages.augment import augment
from ganaug.stages.compare import cell as cell_module
from ganaug.stages.compare import compare
from ganaug.stages.compare.cell import ClassifierSettings
from ganaug.stages.compare.data import CompareData
from ganaug.stages.compare.grid import CAS, Cell, build_grid, parse_ratios, parse_seeds, parse_strategies
from ganaug.stages.compare.stats import paired_difference, summarise
from ganaug.stages.wrap import AugmentedDataset, AugmentedLoss, load_split

QUICK = ClassifierSettings(epochs=2, patience=2, batch_size=128)


@pytest.fixture(scope="module")
def conditional_run(tiny_runs, tmp_path_factory):
    import shutil

    return shutil.copytree(tiny_runs["conditional"], tmp_path_factory.mktemp("cmp") / "run")


@pytest.fixture(scope="module")
def synthetic(conditional_run, tmp_path_factory):
    return augment(conditional_run, tmp_path_factory.mktemp("syn") / "s", count=1500, labels="soft",
                   progress=False).synthetic.root


def test_tiny_grid_end_to_end_through_the_cli(tmp_path, cli, conditional_run, synthetic):
    out = tmp_path / "results"
    result = cli(["compare", conditional_run, "--synthetic", synthetic, "--out", out, "--strategies",
                  "baseline,classic,uniform,conditional+classic,extra,cas,reweight+trivialaugment",
                  "--ratios", "0.5,1", "--seeds", 2, "--epochs", 1])
    assert result.exit_code == 0, result.output
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 2 * (3 + 3 * 2 + 1)
    assert set(runs["strategy"]) == {"baseline", "classic", "uniform", "conditional+classic", "extra", "cas",
                                     "reweight+trivialaugment"}
    assert runs["test_accuracy"].between(0, 1).all() and runs["macro_f1"].between(0, 1).all()
    assert {f"recall_{c}" for c in range(10)} <= set(runs.columns)
    real = len(Split.load(conditional_run / "split.json").train)
    uniform = runs[runs["strategy"] == "uniform"]
    assert sorted(set(uniform["synthetic_images"])) == [round(0.5 * real), real]
    assert (runs[runs["strategy"] == "cas"]["real_images"] == 0).all()
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 3 + 3 * 2 + 1
    assert {"mean", "std", "ci95_low", "ci95_high", "macro_f1", "vs_baseline", "p_vs_baseline", "vs_classic",
            "vs_best_classical", "vs_best_classical_ci95_low", "p_holm_vs_best_classical"} <= set(summary.columns)
    classical = ["baseline", "classic", "reweight+trivialaugment"]
    chosen = runs[runs["strategy"].isin(classical)].groupby("strategy", sort=False)["val_accuracy"].mean().idxmax()
    gan = summary[~summary["strategy"].isin([*classical, "cas"])]  # against the best on validation, Holm-corrected
    assert (gan["best_classical"] == chosen).all() and gan["p_holm_vs_best_classical"].notna().all()
    cas = summary[summary["strategy"] == "cas"].iloc[0]  # a measure of the set, outside the family Holm corrects
    assert math.isnan(cas["p_holm_vs_best_classical"]) and not math.isnan(cas["p_vs_baseline"])
    text = (out / "summary.md").read_text()
    assert "| uniform | 0.5 | 2 |" in text and f"Best classical baseline: **{chosen}**" in text
    assert (out / "accuracy.png").stat().st_size > 1000
    assert "| baseline |" in result.stdout
    quality = json.loads((out / "synthetic_quality.json").read_text())  # the set's quality beside its accuracies
    assert quality["generated"] == 1500 and quality["fid"] > 0 and 0 <= quality["precision"] <= 1
    assert "label_agreement" in quality and "near-copies" in (out / "summary.md").read_text()


def test_cells_of_one_seed_are_paired_and_reproducible(conditional_run, synthetic):
    from ganaug.runs.synthset import SynthSet

    data = CompareData.load(RunDir(conditional_run), SynthSet(synthetic))
    uniform, extra, other_seed = (data.training_set(Cell(s, None, 1.0, seed))[0]
                                  for s, seed in (("uniform", 3), ("extra", 3), ("uniform", 4)))
    assert torch.equal(uniform.images, extra.images), "same seed, same synthetic images across strategies"
    assert not torch.equal(uniform.images, other_seed.images)
    a = cell_module.run_cell(data, Cell("uniform", "classic", 0.5, 1), QUICK, torch.device("cpu"))
    b = cell_module.run_cell(data, Cell("uniform", "classic", 0.5, 1), QUICK, torch.device("cpu"))
    assert a["test_accuracy"] == b["test_accuracy"] and a["val_accuracy"] == b["val_accuracy"]


@pytest.fixture(scope="module")
def loaded(conditional_run, synthetic):
    """The comparison's data and the run's training split as users load it."""
    from ganaug.runs.synthset import SynthSet

    return CompareData.load(RunDir(conditional_run), SynthSet(synthetic)), load_split(conditional_run, "train")


@pytest.mark.parametrize("strategy", [*LABELLERS.names(), CAS])
def test_a_cell_trains_on_what_an_augmented_dataset_of_its_seed_strategy_and_ratio_holds(
        strategy, loaded, synthetic, monkeypatch):
    """compare measures the path users ship: the same synthetic images, targets, outputs and loss (its weight
    read from the loss's own constant) as AugmentedDataset and AugmentedLoss.for_dataset give for the seed."""
    monkeypatch.setattr("ganaug.stages.wrap.loss.DYNAMIC_WEIGHT", 0.25)
    data, real_split = loaded
    cell = Cell(strategy, None, 1.0 if strategy == CAS else 0.5, 3)
    train, outputs, loss = data.training_set(cell)
    dataset = AugmentedDataset(real_split, synthetic, ratio=cell.ratio, seed=cell.seed,
                               labels="conditional" if strategy == CAS else strategy, transform=None)
    rows = data.synthetic_rows(cell)
    assert sorted(rows.tolist()) == dataset.keys  # the same images, which compare trains on in the order drawn
    to_tensor = T.PILToTensor()
    items = [dataset[i] for i in range(len(dataset))]
    images = torch.stack([to_tensor(image) for image, _, _ in items])
    targets = torch.stack([target for _, target, _ in items])
    real, drawn = slice(0, dataset.real_count), np.argsort(rows)  # the dataset holds the drawn rows sorted
    assert torch.equal(train.images[train.synthetic][drawn], images[dataset.real_count:])
    torch.testing.assert_close(train.targets[train.synthetic][drawn], targets[dataset.real_count:], equal_nan=True)
    if strategy != CAS:  # CAS trains on the synthetic images alone
        assert torch.equal(train.images[~train.synthetic], images[real])
        assert torch.equal(train.targets[~train.synthetic], targets[real])
    expected = AugmentedLoss.for_dataset(dataset)
    assert outputs == dataset.num_outputs and (loss.synthetic_weight, loss.dynamic) == (
        expected.synthetic_weight, expected.dynamic) == ((0.25, True) if strategy == "argmax-dynamic" else (1.0, False))


def test_an_interrupted_grid_skips_finished_cells_on_restart(tmp_path, conditional_run, synthetic, monkeypatch):
    real_run_cell = cell_module.run_cell
    calls = []

    def interrupted(data, cell, settings, device):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(cell.key)
        return real_run_cell(data, cell, settings, device)

    monkeypatch.setattr("ganaug.stages.compare.parallel.run_cell", interrupted)
    kwargs = dict(synthetic=synthetic, strategies="baseline,uniform", ratios="0.5,1", seeds=2, classifier=QUICK,
                  progress=False)
    with pytest.raises(KeyboardInterrupt):
        compare(conditional_run, tmp_path / "r", **kwargs)
    assert len(pd.read_csv(tmp_path / "r" / "runs.csv")) == 3
    first = list(calls)
    calls.clear()
    monkeypatch.setattr("ganaug.stages.compare.parallel.run_cell",
                        lambda *a: calls.append(a[1].key) or real_run_cell(*a))
    result = compare(conditional_run, tmp_path / "r", **kwargs)
    assert set(calls).isdisjoint(first) and len(calls) == 3
    assert sorted(result.runs["key"]) == sorted(c.key for c in build_grid(parse_strategies("baseline,uniform"),
                                                                            [0.5, 1.0], 2))


def test_selection_uses_validation_and_test_is_scored_once_after_training(conditional_run, synthetic, monkeypatch):
    from ganaug.runs.synthset import SynthSet

    run = RunDir(conditional_run)
    pool = load_pool(run.load_recipe().data)
    split = Split.load(run.split)
    events = []
    real_train, real_predict = cell_module.train_classifier, cell_module.predict

    def train_spy(model, train, val_images, val_labels, *args, **kwargs):
        events.append("train")
        assert torch.equal(val_images, pool.images[split.val]) and torch.equal(val_labels, pool.labels[split.val])
        real = train.images[~train.synthetic]
        assert torch.equal(real, pool.images[split.train]), "the classifier trains on the GAN's training split"
        return real_train(model, train, val_images, val_labels, *args, **kwargs)

    def predict_spy(model, images, *args, **kwargs):
        events.append("test" if torch.equal(images, pool.images[split.test]) else "other")
        return real_predict(model, images, *args, **kwargs)

    monkeypatch.setattr(cell_module, "train_classifier", train_spy)
    monkeypatch.setattr(cell_module, "predict", predict_spy)
    data = CompareData.load(run, SynthSet(synthetic))
    for cell in (Cell("baseline", None, 0.0, 0), Cell("soft", "classic", 1.0, 0)):
        cell_module.run_cell(data, cell, QUICK, torch.device("cpu"))
    assert events == ["train", "test", "train", "test"]


def test_a_cell_trains_with_its_policy_and_fix_and_never_mirrors_grey_images(loaded, monkeypatch):
    data, _ = loaded
    assert data.channels == 1
    used = []

    def capture(model, train, val_images, val_labels, settings, **kwargs):
        used.append((settings.classic, settings.rebalance, settings.flip, int(train.synthetic.sum())))
        raise InterruptedError

    monkeypatch.setattr(cell_module, "train_classifier", capture)
    for name in ("trivialaugment", "oversample+randaugment", "reweight", "uniform+classic"):
        [(strategy, policy)] = parse_strategies(name)
        with pytest.raises(InterruptedError):
            cell_module.run_cell(data, Cell(strategy, policy, 0.0 if strategy != "uniform" else 0.5, 0), QUICK,
                                 torch.device("cpu"))
    synthetic = round(0.5 * len(data.train.labels))
    assert used == [("trivialaugment", None, False, 0), ("randaugment", "oversample", False, 0),
                    (None, "reweight", False, 0), ("classic", None, False, synthetic)]


def test_summary_statistics_on_known_numbers():
    runs = pd.DataFrame({
        "strategy": ["baseline"] * 3 + ["classic"] * 3 + ["uniform"] * 3,
        "ratio": [0.0] * 6 + [1.0] * 3, "seed": [0, 1, 2] * 3,
        "test_accuracy": [0.50, 0.60, 0.70, 0.50, 0.60, 0.70, 0.61, 0.69, 0.83],
    })
    summary = summarise(runs).set_index("strategy")
    uniform = summary.loc["uniform"]
    assert uniform["mean"] == pytest.approx(0.71) and uniform["seeds"] == 3
    assert uniform["vs_baseline"] == pytest.approx(0.11)
    from scipy import stats

    assert uniform["p_vs_baseline"] == pytest.approx(stats.ttest_rel([0.61, 0.69, 0.83], [0.5, 0.6, 0.7]).pvalue)
    assert summary.loc["classic", "vs_baseline"] == pytest.approx(0) and summary.loc["classic", "p_vs_baseline"] == 1
    assert not summary.loc["classic", "significant_vs_baseline"]
    half = stats.t.ppf(0.975, 2) * pd.Series([0.61, 0.69, 0.83]).std() / math.sqrt(3)
    assert uniform["ci95_low"] == pytest.approx(0.71 - half)


def test_paired_difference_uses_only_the_seeds_both_sides_have():
    from scipy import stats

    values = pd.Series([0.61, 0.69, 0.83, 0.99], index=[0, 1, 2, 7])  # seed 7 has no twin
    reference = pd.Series([0.40, 0.50, 0.60, 0.70], index=[5, 0, 1, 2])  # nor has seed 5
    result = paired_difference(values, reference, "other")
    assert result["vs_other"] == pytest.approx(0.11)
    assert result["p_vs_other"] == pytest.approx(stats.ttest_rel([0.61, 0.69, 0.83], [0.5, 0.6, 0.7]).pvalue)
    assert paired_difference(values, pd.Series([0.5], index=[9]), "other") == {}


@pytest.mark.parametrize("text, message", [
    ("baseline,lsro", "unknown strategy 'lsro'"),
    ("uniform+flip", "unknown strategy 'uniform\\+flip'"),
    ("baseline,baseline", "names a strategy twice"),
    ("", "--strategies is empty"),
])
def test_bad_strategies(text, message):
    with pytest.raises(GanaugError, match=message):
        parse_strategies(text)


def test_strategy_names_and_ratios():
    assert parse_strategies("baseline,classic,uniform+classic,cas") == [
        ("baseline", None), ("baseline", "classic"), ("uniform", "classic"), ("cas", None)]
    assert parse_ratios("2,0.5,1,1") == [0.5, 1.0, 2.0]
    for bad in ("0,1", "nan", "inf", "1,-2", "1e9"):
        with pytest.raises(GanaugError, match="--ratios must be finite .* above 0"):
            parse_ratios(bad)
    with pytest.raises(GanaugError, match="--ratios must be numbers"):
        parse_ratios("a,b")
    assert [c.key for c in build_grid([("baseline", "classic")], [1.0], 2)] == ["classic|0|0", "classic|0|1"]
    assert [c.key for c in build_grid([("baseline", "classic")], [1.0], [7, 3])] == ["classic|0|7", "classic|0|3"]


def test_seeds_are_a_count_or_the_seeds_themselves():
    assert parse_seeds(3) == [0, 1, 2] and parse_seeds([7, 3]) == [7, 3] and parse_seeds((np.int64(5),)) == [5]
    with pytest.raises(GanaugError, match="--seeds must be from 1 to 1000, not 0"):
        parse_seeds(0)
    for bad in ([], [1, 1], [-1], [1.5], [2**31], range(1001)):
        with pytest.raises(GanaugError, match="seeds must be 1 to 1000 different integers from 0 to 2147483647"):
            parse_seeds(bad)


def test_errors_before_any_training(tmp_path, cli, cli_error, conditional_run, synthetic, tiny_runs):
    args = ["compare", conditional_run, "--synthetic", synthetic, "--epochs", 1, "--seeds", 1]
    assert "ratio 4 needs" in cli_error(cli([*args, "--out", tmp_path / "a", "--strategies", "uniform",
                                              "--ratios", 4]))
    plain = augment(tiny_runs["unconditional"], tmp_path / "plain", count=20, progress=False).synthetic.root
    message = cli_error(cli(["compare", tiny_runs["unconditional"], "--synthetic", plain, "--out", tmp_path / "b",
                             "--strategies", "soft", "--ratios", "0.1", "--seeds", 1]))
    assert "--labels soft needs teacher probabilities" in message
    assert "unknown classifier" in cli_error(cli([*args, "--out", tmp_path / "c", "--strategies", "baseline",
                                                  "--model", "nonsense-net"]))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "mine.txt").write_text("keep me")
    assert "is not a ganaug comparison" in cli_error(cli([*args, "--out", tmp_path / "d", "--strategies", "baseline"]))
    assert (tmp_path / "d" / "mine.txt").read_text() == "keep me"


def test_a_restart_with_other_classifier_settings_is_refused(tmp_path, cli, cli_error, conditional_run):
    args = ["compare", conditional_run, "--out", tmp_path / "r", "--strategies", "baseline", "--seeds", 1]
    assert cli([*args, "--epochs", 1]).exit_code == 0
    assert "holds a comparison with other epochs" in cli_error(cli([*args, "--epochs", 2]))


def test_patience_reaches_the_classifier_and_is_recorded(tmp_path, cli, cli_error, conditional_run):
    args = ["compare", conditional_run, "--out", tmp_path / "r", "--strategies", "baseline", "--seeds", 1,
            "--epochs", 4]
    assert cli([*args, "--patience", 1]).exit_code == 0
    assert json.loads((tmp_path / "r" / "compare.json").read_text())["settings"]["patience"] == 1
    runs = pd.read_csv(tmp_path / "r" / "runs.csv")
    assert (runs["epochs"] <= runs["best_epoch"] + 1).all()  # stopped one epoch after its best, or ran all 4
    assert "holds a comparison with other patience" in cli_error(cli([*args, "--patience", 4]))
