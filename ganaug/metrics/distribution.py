"""How far generated images are from real ones, as distributions of features.

FID and KID come from torchmetrics (its Frechet and kernel distances, fed
precomputed features through a pass-through module, so the expensive embedding
is computed once and shared with the k-NN metrics). Precision, recall, density
and coverage come from `prdc`, the reference implementation of Naeem et al.
(2020): precision/density say how many generated images look real, recall/
coverage how much of the real data the generator reaches.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import torch
from torch import Tensor, nn

from ganaug.errors import DataError

NEAREST_K = 5
"""k of the k-NN manifold estimates, the value the prdc paper recommends."""


class _Precomputed(nn.Identity):
    """torchmetrics' feature module: the 'images' it is given already are features."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features


def frechet_distance(real: Tensor, fake: Tensor) -> float:
    from torchmetrics.image.fid import FrechetInceptionDistance

    _need(real, fake, 2, "FID")
    metric = FrechetInceptionDistance(feature=_Precomputed(real.shape[1]))
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    return float(metric.compute())


def kernel_distance(real: Tensor, fake: Tensor, *, subsets: int = 50, subset_size: int = 1000,
                    seed: int = 0) -> tuple[float, float]:
    """KID mean and std over random subsets (subset_size is capped at the smaller set); reproducible by seed."""
    from torchmetrics.image.kid import KernelInceptionDistance

    _need(real, fake, 2, "KID")
    size = min(subset_size, len(real), len(fake))
    with warnings.catch_warnings():  # its note that it keeps every feature in memory: so do we, by design
        warnings.simplefilter("ignore", UserWarning)
        metric = KernelInceptionDistance(feature=_Precomputed(real.shape[1]), subsets=subsets, subset_size=size)
    metric.update(real.double(), real=True)
    metric.update(fake.double(), real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def manifold_scores(real: Tensor, fake: Tensor, *, nearest_k: int = NEAREST_K) -> dict[str, float]:
    """precision, recall, density, coverage."""
    from prdc import compute_prdc

    _need(real, fake, nearest_k + 2, "precision/recall")  # each point is its own nearest neighbour
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the set sizes
        scores = compute_prdc(real.numpy(), fake.numpy(), nearest_k)
    return {name: float(value) for name, value in scores.items()}


def distribution_scores(real: Tensor, fake: Tensor, *, seed: int = 0) -> dict[str, float]:
    kid, kid_std = kernel_distance(real, fake, seed=seed)
    return {"fid": frechet_distance(real, fake), "kid": kid, "kid_std": kid_std, **manifold_scores(real, fake)}


def _need(real: Tensor, fake: Tensor, minimum: int, what: str) -> None:
    if min(len(real), len(fake)) < minimum:
        raise DataError(f"{what} needs at least {minimum} real and {minimum} generated images (got {len(real)} and "
                        f"{len(fake)}); give the validation split more images (data.val_fraction) or generate more")
    if real.shape[1:] != fake.shape[1:]:
        raise ValueError("real and generated features differ in shape: "
                         f"{tuple(real.shape[1:])} vs {tuple(fake.shape[1:])}")
