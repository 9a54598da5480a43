"""Each labelling strategy's targets: values, shapes and sums; what each needs; the confidence it reports."""

from pathlib import Path

import pytest
import torch

from ganaug.errors import GanaugError
from ganaug.labels import LABELLERS, SampleInfo, create_labeller

K = 4
PROBS = torch.tensor([[0.7, 0.1, 0.1, 0.1], [0.05, 0.05, 0.3, 0.6], [0.25, 0.25, 0.25, 0.25]])
INFO = SampleInfo(3, generated_for=torch.tensor([1, 3, 0]), teacher_probs=PROBS)


def test_every_registered_strategy_is_documented():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Labelling strategies"):]
    for name in LABELLERS.names():
        assert f"| `{name}` |" in table, f"labelling strategy {name!r} is missing from the README's table"


@pytest.mark.parametrize("name", LABELLERS.names())
def test_targets_are_probability_vectors_over_the_classifier_outputs(name):
    labeller = create_labeller(name)
    targets = labeller.targets(INFO, K)
    outputs = K + 1 if name == "extra" else K
    assert labeller.num_outputs(K) == outputs
    assert targets.shape == (3, outputs) and targets.dtype == torch.float32
    assert (targets >= 0).all()
    expected_sum = 0.0 if name == "argmax-dynamic" else 1.0  # dynamic rows are filled in by the loss
    torch.testing.assert_close(targets.sum(1), torch.full((3,), expected_sum))


def test_values_of_each_strategy():
    eye = torch.eye(K)
    torch.testing.assert_close(create_labeller("extra").targets(INFO, K), torch.eye(K + 1)[[K, K, K]])
    torch.testing.assert_close(create_labeller("argmax").targets(INFO, K), eye[[0, 3, 0]])
    torch.testing.assert_close(create_labeller("uniform").targets(INFO, K), torch.full((3, K), 0.25))
    torch.testing.assert_close(create_labeller("conditional").targets(INFO, K), eye[[1, 3, 0]])
    torch.testing.assert_close(create_labeller("soft").targets(INFO, K), PROBS)
    assert create_labeller("argmax-dynamic").dynamic


def test_soft_targets_do_not_alias_the_teacher_probabilities():
    targets = create_labeller("soft").targets(INFO, K)
    targets.zero_()
    assert PROBS.sum() > 0


def test_confidence_is_the_teacher_probability_of_the_assigned_class():
    torch.testing.assert_close(create_labeller("conditional").confidence(INFO), torch.tensor([0.1, 0.6, 0.25]))
    torch.testing.assert_close(create_labeller("argmax").confidence(INFO), torch.tensor([0.7, 0.6, 0.25]))
    # No class assigned among the real ones: the teacher's top probability.
    torch.testing.assert_close(create_labeller("uniform").confidence(INFO), torch.tensor([0.7, 0.6, 0.25]))


def test_strategies_say_what_they_need():
    with pytest.raises(GanaugError, match="needs a conditional GAN"):
        create_labeller("conditional").check(conditional=False, has_teacher=True, where="run 'x'")
    with pytest.raises(GanaugError, match="needs teacher probabilities"):
        create_labeller("soft").check(conditional=True, has_teacher=False, where="set 'y'")
    needs_nothing = [n for n in LABELLERS.names()
                     if not (LABELLERS.get(n).needs_teacher or LABELLERS.get(n).needs_conditional)]
    assert "uniform" in needs_nothing  # LSRO, the paper's label for unconditional GANs, works with any source
    for name in needs_nothing:
        create_labeller(name).check(conditional=False, has_teacher=False, where="anything")
    with pytest.raises(GanaugError, match="needs teacher probabilities"):
        create_labeller("argmax").targets(SampleInfo(2), K)


def test_unknown_strategy_names_the_choices():
    with pytest.raises(GanaugError, match="unknown labelling strategy 'lsro'.*uniform"):
        create_labeller("lsro")
