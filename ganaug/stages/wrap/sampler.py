"""FixedStepsSampler: the same number of optimiser steps per epoch, however many images a training set has.

Adding synthetic images to a training set lengthens every epoch: at ratio 1 an
epoch has twice the batches of the baseline's, so "the same number of epochs"
gives the augmented run twice the training, and its gain over the baseline may
be nothing but that. This sampler fixes the batches per epoch instead, drawing
them from the whole (real + synthetic) set, so runs compare at equal steps.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

import numpy as np
from torch.utils.data import Sampler

from ganaug.errors import UsageError
from ganaug.stages.wrap.arguments import MAX_IMAGES, check_map_style, check_number


class FixedStepsSampler(Sampler[int]):
    """Exactly steps_per_epoch * batch_size indices of `dataset` per epoch (pass it as a DataLoader's `sampler`
    with the same `batch_size`): a fresh random order each epoch, without replacement within an epoch while the
    data set has enough items, and as evenly spread over its items as possible where it has fewer.

    The order of epoch e depends only on (seed, e), so two runs with one seed see the same batches. Each pass
    over the sampler is the next epoch; `set_epoch` picks one (e.g. when resuming from a checkpoint).
    A wrong argument type is a WrongTypeError (a TypeError), an unusable value a UsageError (a ValueError).
    """

    def __init__(self, dataset: Sized, steps_per_epoch: int, batch_size: int, seed: int = 0) -> None:
        check_map_style("dataset", dataset)
        self.size = len(dataset)
        if self.size == 0:
            raise UsageError("dataset is empty; a sampler needs at least one item to draw")
        self.steps_per_epoch = check_number("steps_per_epoch", steps_per_epoch, minimum=1, maximum=MAX_IMAGES,
                                            integer=True, meaning="optimiser steps (batches) per epoch")
        self.batch_size = check_number("batch_size", batch_size, minimum=1, maximum=MAX_IMAGES, integer=True,
                                       meaning="the DataLoader's batch_size")
        if self.steps_per_epoch * self.batch_size > MAX_IMAGES:
            raise UsageError(f"steps_per_epoch={self.steps_per_epoch} x batch_size={self.batch_size} is more "
                             "indices per epoch than can be drawn; ask for fewer")
        self.seed = check_number("seed", seed, minimum=0, integer=True, meaning="the seed of the batch order")
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next pass draws (passes count up from it)."""
        self.epoch = check_number("epoch", epoch, minimum=0, integer=True, meaning="an epoch number")

    def __len__(self) -> int:
        return self.steps_per_epoch * self.batch_size

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        wanted = len(self)
        rounds = -(-wanted // self.size)  # whole permutations needed: every item once before any twice
        order = np.concatenate([rng.permutation(self.size) for _ in range(rounds)])[:wanted]
        return iter(order.tolist())
