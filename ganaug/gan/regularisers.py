"""Generator-side regularisers: extra terms of the generator loss, one registry entry each (built in:
`mode_seeking`, ganaug.gan.mode_seeking).

A recipe turns them on by name with a weight, in the model section:

    [model.g_regularisers]
    mode_seeking = 0.1

(or `--set 'model.g_regularisers={mode_seeking = 0.1}'`); the default is empty, which leaves training as it was.
An entry is a factory (usually a class) called once per fit with no arguments; the term it returns is called at
every generator update with a GeneratorBatch and returns a 0-d tensor. GanStep adds weight x term to loss_g and
logs the unweighted term as the metric `reg_<name>`. Terms must stay on the device (no .item(), no Python
branches on tensor values), so they add no host sync to the step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from torch import Tensor

from ganaug.gan.models import DiscriminatorOutput
from ganaug.registry import Registry


class GeneratorBatch(NamedTuple):
    """What the generator update has at hand."""

    fake: Tensor
    """G(z, y): the generated images in [-1, 1], before DiffAugment, with their graph."""
    z: Tensor
    """The noise they were made from (N x z_dim)."""
    y: Tensor | None
    """Their classes (conditional runs), else None."""
    scores: DiscriminatorOutput
    """D's output on the DiffAugmented images, as the adversarial generator loss sees it."""


Regulariser = Callable[[GeneratorBatch], Tensor]

REGULARISERS: Registry[Callable[[], Regulariser]] = Registry("generator regulariser")


@dataclass(frozen=True)
class WeightedRegulariser:
    name: str
    weight: float
    term: Regulariser


def create_regularisers(weights: Mapping[str, float]) -> list[WeightedRegulariser]:
    """The recipe's `model.g_regularisers` ({name: weight}) as terms for GanStep, in the recipe's order."""
    return [WeightedRegulariser(name, weight, REGULARISERS.get(name)()) for name, weight in weights.items()]
