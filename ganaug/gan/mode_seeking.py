"""Mode seeking (Mao et al. 2019, MSGAN): a generator regulariser against conditional GANs drawing too few styles.

A conditional generator tends to ignore its noise and draw one typical image per class: precise, not varied (low
recall). MSGAN asks that two images of the same class differ in proportion to their noise vectors, and adds
1 / (|G(z1, y) - G(z2, y)| / |z1 - z2| + eps) to the generator loss. The paper generates a second batch for the
pairs; here the pairs are the images of one batch that share a class (every pair, on unconditional runs), so the
term costs two small distance matrices instead of a second generator pass. A batch with no such pair adds 0.

    [model.g_regularisers]
    mode_seeking = 0.1     # the paper's 1 overwhelmed the hinge loss of mnist5k-resnet (results/generators)
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganaug.gan.regularisers import REGULARISERS, GeneratorBatch

EPS = 1e-5
"""MSGAN's: keeps the term finite when the images of a pair are equal."""


@REGULARISERS.register("mode_seeking")
class ModeSeeking:
    def __call__(self, batch: GeneratorBatch) -> Tensor:
        images = batch.fake.float().flatten(1)
        z = batch.z.float()
        pairs = torch.ones(len(z), len(z), dtype=torch.bool, device=z.device).triu(1)
        if batch.y is not None:
            pairs &= batch.y[:, None] == batch.y[None, :]
        image_distance = torch.cdist(images, images, p=1) / images.shape[1]  # mean absolute difference, as MSGAN
        noise_distance = torch.cdist(z, z, p=1) / z.shape[1]
        ratio = (image_distance / noise_distance.clamp_min(EPS))[pairs]
        count = pairs.sum()
        mean_ratio = ratio.sum() / count.clamp_min(1)
        return torch.where(count > 0, 1 / (mean_ratio + EPS), torch.zeros_like(mean_ratio))
