"""Per-image realism score (Kynkaenniemi et al. 2019, "Improved precision and recall"), for filtering samples.

An image's score is the largest ratio, over real images r, of r's k-NN radius
to the image's distance from r: above 1 means it falls inside some real
image's neighbourhood. As in the paper, the half of the real images with the
largest radii are left out, so outliers do not make everything look real.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganaug.metrics.memorisation import _flat

NEAREST_K = 5


def realism_scores(real: Tensor, fake: Tensor, *, nearest_k: int = NEAREST_K, chunk: int = 1024) -> Tensor:
    real, fake = _flat(real), _flat(fake)
    if len(real) <= nearest_k:
        raise ValueError(f"realism scores need more than {nearest_k} real images, not {len(real)}")
    radii = torch.cat([torch.cdist(real[i:i + chunk], real).kthvalue(nearest_k + 1, dim=1).values  # +1: itself
                       for i in range(0, len(real), chunk)])
    keep = radii <= radii.median()
    real, radii = real[keep], radii[keep]
    return torch.cat([(radii / torch.cdist(fake[i:i + chunk], real).clamp_min(1e-12)).max(dim=1).values
                      for i in range(0, len(fake), chunk)])
