"""Mode collapse (within-class diversity), reliability notes on small samples, and per-class panels with reasons."""

import contextlib

import matplotlib
import pytest
import torch

from ganaug.metrics import (
    Agreement,
    DiversityReport,
    MemorisationSummary,
    Reliability,
    diversity_scores,
    embed,
    mean_pairwise_distance,
)
from ganaug.metrics.diversity import ALL, COLLAPSE_RATIO
from ganaug.metrics.reliability import below_floor, reliability
from ganaug.runs.quality import QualityReport, Reference
from ganaug.runs.run_dir import RunDir
from ganaug.stages.evaluate import report

matplotlib.use("Agg")


def _gaussian(n: int, dim: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


def _repeat_with_noise(image: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """A collapsed generator: one uint8 image n times, each with +-2 grey levels of noise."""
    noise = torch.randint(-2, 3, (n, *image.shape), generator=torch.Generator().manual_seed(seed))
    return (image.int() + noise).clamp(0, 255).to(torch.uint8)


def test_mean_pairwise_distance_leaves_out_each_images_distance_to_itself():
    assert mean_pairwise_distance(torch.tensor([[0.0], [1.0], [3.0]])) == pytest.approx(2.0)  # pairs: 1, 3, 2
    with pytest.raises(ValueError, match="at least 2"):
        mean_pairwise_distance(torch.zeros(1, 4))


def test_diversity_is_one_for_the_same_distribution_and_the_scale_for_a_shrunk_one():
    real, labels = _gaussian(400, 8, 0), torch.arange(400) % 2
    fake = torch.cat([_gaussian(200, 8, 1), _gaussian(200, 8, 2, scale=0.3)])
    fake_labels = torch.cat([torch.zeros(200), torch.ones(200)]).long()
    div = diversity_scores(real, labels, fake, fake_labels, ["wide", "narrow"])
    assert div.per_class["wide"] == pytest.approx(1.0, abs=0.05)
    assert div.per_class["narrow"] == pytest.approx(0.3, abs=0.03)
    assert div.collapsed == ["narrow"] and div.threshold == COLLAPSE_RATIO
    assert div.generated_pairs == 2 * 200 * 199 // 2


def test_a_class_without_two_images_has_no_ratio_and_is_not_flagged():
    real, fake = _gaussian(20, 4, 3), _gaussian(20, 4, 4)
    div = diversity_scores(real, torch.zeros(20).long(), fake, torch.zeros(20).long(), ["a", "b"])
    assert div.per_class["b"] is None and div.collapsed == []


def test_unconditional_images_are_one_group_and_warn_without_a_class_name():
    div = diversity_scores(_gaussian(100, 4, 5), None, _gaussian(1, 4, 6).repeat(50, 1), None, ["a", "b"])
    assert list(div.per_class) == [ALL] and div.per_class[ALL] == 0.0 == div.overall
    assert div.near_duplicate_pairs == div.generated_pairs == 50 * 49 // 2
    assert div.warnings() == ["warning: mode collapse: generated images are 0.00x as varied as real ones"]


def test_the_collapse_threshold_lies_between_a_collapsed_and_a_perfect_generator_in_teacher_features(run_copy):
    """How COLLAPSE_RATIO was chosen: real training images (what a perfect generator makes) against one generated
    image per class repeated with a little noise (the failure in the report: ten copies of one blurry face)."""
    run = RunDir(run_copy("conditional"))
    reference = Reference.for_run(run, torch.device("cpu"), progress=False)
    pool, split = run.load_data()
    names, train_labels = pool.class_names, pool.labels[torch.tensor(split.train)]
    from ganaug.runs.generator import RunGenerator

    labels = torch.arange(200) % len(names)
    generated = RunGenerator.load(run.root, None, "cpu").generate(torch.arange(200), labels)
    collapsed = torch.cat([_repeat_with_noise(generated[labels == c][0], 20, c) for c in range(len(names))])
    collapsed_labels = torch.arange(len(names)).repeat_interleave(20)

    def scores(images, image_labels):
        return diversity_scores(reference.val_features, reference.val_labels, embed(reference.extractor, images),
                                image_labels, names)

    perfect, bad = scores(reference.train, train_labels), scores(collapsed, collapsed_labels)
    assert min(perfect.per_class.values()) > 0.8 and perfect.collapsed == []
    assert max(bad.per_class.values()) < 0.1 and bad.collapsed == names
    assert perfect.near_duplicate_pairs == 0 and bad.near_duplicate_pairs > 0.9 * bad.generated_pairs
    assert bad.warnings()[0].startswith(f"warning: mode collapse in class '{names[0]}': generated images are 0.0")


# --- reliability notes ----------------------------------------------------------------------------------------------

def test_the_reported_small_face_folder_gets_every_figure_flagged_with_what_it_needs():
    notes = reliability(34, 2000, 128, [(17, 1000), (17, 1000)])
    assert notes.fid == "unreliable: 34 real validation images, needs at least 500"
    assert notes.kid == "unreliable: 34 real validation images, needs at least 100"
    assert notes.precision == notes.coverage == "unreliable: 34 real validation images, needs at least 100"
    assert notes.per_class_fid == "unreliable: 17 real validation images per class, needs at least 500"
    assert notes.diversity is None  # 17 real images of a class are enough for a mean pairwise distance
    assert list(notes.to_json()) == ["fid", "kid", "precision", "recall", "density", "coverage", "per_class_fid"]


def test_per_class_fid_says_why_it_was_not_computed():
    notes = reliability(7, 40, 128, [(3, 20), (4, 20)])
    assert notes.per_class_fid == ("not computed for 2 of 2 classes: per-class FID needs at least 10 validation "
                                   "images of a class; this split has 3-4")
    assert notes.diversity == "unreliable: 3-4 real validation images of a class, needs at least 10"
    assert notes.fid == "unreliable: 7 real validation images and 40 generated images, needs at least 500 of each"


def test_enough_images_leave_no_notes_and_wide_features_need_more_for_fid():
    assert reliability(5000, 5000, 128, [(500, 500)] * 10).to_json() == {}
    assert reliability(1000, 1000, 2048).fid == "unreliable: 1000 real validation images and 1000 generated " \
                                                "images, needs at least 4096 of each"


def test_fid_below_the_real_vs_real_floor_is_flagged():
    assert below_floor(Reliability(), 20.0, 15.9) == Reliability()
    alone = below_floor(Reliability(), 8.1, 15.9).fid
    assert alone.startswith("unreliable: below the real-vs-real floor (15.900), which happens when the sample is too "
                            "small for FID to be stable or when the generator copies the training data")
    both = below_floor(Reliability(fid="unreliable: 34 real validation images, needs at least 500"), 8.1, 15.9).fid
    assert both.startswith("unreliable: 34 real validation images, needs at least 500; below the real-vs-real floor")


# --- per-class panels ---------------------------------------------------------------------------------------------

def _drawn_panels(monkeypatch, quality: QualityReport, names: list[str]) -> list:
    """Draw the per-class figure and return its axes, to read what was written in each panel."""
    import matplotlib.pyplot as plt

    drawn = {}

    @contextlib.contextmanager
    def keep(path, rows, columns, **kwargs):
        fig, axes = plt.subplots(rows, columns, **kwargs)
        drawn["axes"] = axes
        yield fig, axes

    monkeypatch.setattr(report, "png_figure", keep)
    report._per_class_plot(quality, quality.label_agreement, quality.per_class_fid, names, None)
    return list(drawn["axes"])


def test_a_panel_without_values_says_why_instead_of_staying_empty(monkeypatch):
    reason = reliability(7, 40, 128, [(3, 20), (4, 20)]).per_class_fid
    quality = QualityReport(generated=40, features="teacher", real_reference="validation split (7 images)", fid=90.0,
                            kid=0.5, kid_std=0.1, precision=0.5, recall=0.5, density=0.5, coverage=0.5,
                            memorisation=MemorisationSummary(1.0, 2.0, 1.5, 0.5, 0.0, 0.0),
                            diversity=DiversityReport({"face": 0.9, "other": None}, 0.9, COLLAPSE_RATIO, [], 0, 190),
                            label_agreement=Agreement(0.4, [0.5, 0.25]), per_class_fid=[None, None],
                            reliability=Reliability(per_class_fid=reason))
    agree, fid, diversity = _drawn_panels(monkeypatch, quality, ["face", "other"])
    assert [t.get_text().replace("\n", " ") for t in fid.texts] == [reason]
    assert len(fid.patches) == 0  # no bar of height 0 that reads as a perfect FID
    assert len(agree.texts) == 0 and len(agree.patches) == 2
    assert [t.get_text() for t in diversity.texts] == ["n/a"]  # the gap is marked, the reason written below
    assert diversity.get_xlabel().replace("\n", " ") == ("n/a: diversity needs at least 2 real and 2 generated images "
                                                         "of a class")
