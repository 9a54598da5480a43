"""AugmentedLoss: cross-entropy over probability targets that knows which samples are synthetic.

It weights synthetic samples (the labelling paper's code uses 0.1 for pseudo
labels) and, for `argmax-dynamic`, fills each synthetic sample's target with
the class the model being trained predicts at that forward pass. With the
`uniform` targets (LSRO) the gradient for a synthetic image is softmax - 1/K.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

DYNAMIC_WEIGHT = 0.1


class AugmentedLoss(nn.Module):
    """loss(logits, targets, is_synthetic) -> the mean over the batch of weighted per-sample cross-entropies.

    num_classes: the K real classes (an extra K+1-th output never wins a dynamic label).
    """

    def __init__(self, num_classes: int, *, synthetic_weight: float = 1.0, dynamic: bool = False) -> None:
        super().__init__()
        if synthetic_weight < 0:
            raise ValueError(f"synthetic_weight must be 0 or more, not {synthetic_weight}")
        self.num_classes, self.synthetic_weight, self.dynamic = num_classes, synthetic_weight, dynamic

    @classmethod
    def for_dataset(cls, dataset, synthetic_weight: float | None = None) -> AugmentedLoss:
        """The loss an AugmentedDataset's strategy calls for (weight 0.1 for argmax-dynamic, else 1)."""
        dynamic = dataset.labeller.dynamic
        weight = synthetic_weight if synthetic_weight is not None else DYNAMIC_WEIGHT if dynamic else 1.0
        return cls(dataset.num_classes, synthetic_weight=weight, dynamic=dynamic)

    def forward(self, logits: Tensor, targets: Tensor, synthetic: Tensor) -> Tensor:
        synthetic = synthetic.to(logits.device, dtype=bool).unsqueeze(1)
        targets = targets.to(logits.device, logits.dtype)
        if self.dynamic:
            predicted = logits.detach()[:, : self.num_classes].argmax(1)
            targets = targets.where(~synthetic, F.one_hot(predicted, logits.shape[1]).to(logits.dtype))
        per_sample = F.cross_entropy(logits, targets, reduction="none")
        weights = synthetic.squeeze(1).float().mul(self.synthetic_weight - 1).add(1)
        return (per_sample * weights).mean()
