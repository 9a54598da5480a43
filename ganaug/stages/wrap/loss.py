"""AugmentedLoss: cross-entropy over probability targets that knows which samples are synthetic.

It weights synthetic samples (the labelling paper's code uses 0.1 for pseudo
labels) and, for `argmax-dynamic`, fills each synthetic sample's target with
the class the model being trained predicts at that forward pass. The data sets
give such samples NaN targets (so that a plain cross-entropy fails loudly);
any synthetic sample with a NaN target is filled in that way. With the
`uniform` targets (LSRO) the gradient for a synthetic image is softmax - 1/K.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganaug.labels import Labeller
from ganaug.stages.wrap.arguments import check_bool, check_number, wrong_type

DYNAMIC_WEIGHT = 0.1


class AugmentedLoss(nn.Module):
    """loss(logits, targets, is_synthetic) -> the mean over the batch of weighted per-sample cross-entropies.

    num_classes: the K real classes (an extra K+1-th output never wins a dynamic label).
    synthetic_weight: a synthetic sample's loss is multiplied by this (a finite number >= 0; real samples: 1).
    A wrong argument type is a WrongTypeError (a TypeError), an unusable value a UsageError (a ValueError).
    """

    def __init__(self, num_classes: int, *, synthetic_weight: float = 1.0, dynamic: bool = False) -> None:
        super().__init__()
        num_classes = check_number("num_classes", num_classes, minimum=1, integer=True,
                                   meaning="the real classes the model predicts")
        synthetic_weight = check_number("synthetic_weight", synthetic_weight, minimum=0,
                                        meaning="the weight of a synthetic sample's loss, 1 for a real one's")
        dynamic = check_bool("dynamic", dynamic)
        self.num_classes, self.synthetic_weight, self.dynamic = num_classes, synthetic_weight, dynamic

    @classmethod
    def for_dataset(cls, dataset, synthetic_weight: float | None = None) -> AugmentedLoss:
        """The loss an AugmentedDataset's strategy calls for (weight 0.1 for argmax-dynamic, else 1)."""
        if not isinstance(getattr(dataset, "labeller", None), Labeller) or not hasattr(dataset, "num_classes"):
            raise wrong_type("dataset", dataset, "an AugmentedDataset (or a SyntheticDataset / OnTheFlySynthetic)")
        return cls.for_labeller(dataset.labeller, dataset.num_classes, synthetic_weight)

    @classmethod
    def for_labeller(cls, labeller: Labeller, num_classes: int, synthetic_weight: float | None = None) -> AugmentedLoss:
        """The loss a labelling strategy calls for; `compare` builds its cells' losses here too, so the weight
        it measures is the one users get."""
        weight = synthetic_weight if synthetic_weight is not None else DYNAMIC_WEIGHT if labeller.dynamic else 1.0
        return cls(num_classes, synthetic_weight=weight, dynamic=labeller.dynamic)

    def forward(self, logits: Tensor, targets: Tensor, synthetic: Tensor) -> Tensor:
        """Synthetic samples get the model's own top class as their target where the strategy is dynamic or
        their target is a NaN placeholder (how the data sets mark dynamic labels); real samples keep theirs."""
        synthetic = synthetic.to(logits.device, dtype=torch.bool).unsqueeze(1)
        targets = targets.to(logits.device, logits.dtype)
        fill = synthetic if self.dynamic else synthetic & targets.isnan().any(1, keepdim=True)
        predicted = logits.detach()[:, : self.num_classes].argmax(1)
        targets = targets.where(~fill, F.one_hot(predicted, logits.shape[1]).to(logits.dtype))
        per_sample = F.cross_entropy(logits, targets, reduction="none")
        weights = synthetic.squeeze(1).float().mul(self.synthetic_weight - 1).add(1)
        return (per_sample * weights).mean()
