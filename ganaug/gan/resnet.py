"""A ResNet GAN of the SNGAN / BigGAN family (Miyato et al. 2018, Brock et al. 2019) for square power-of-two images.

G: z -> linear to 4x4 -> one residual up-block per doubling (BN, ReLU, 2x nearest upsampling, 3x3 conv, BN, ReLU,
3x3 conv; a 1x1 conv on the upsampled input as shortcut) -> BN, ReLU, 3x3 conv, tanh. Block i has
g_width * 2^(n-1-i) channels, ending at g_width: BigGAN's 128 px schedule, halved per block. Conditional: the class
goes through one embedding shared by all blocks, and each block's batch norms take their gains and biases from it
through linear maps (ProjectedNorm), BigGAN's shared conditioning; unconditional: plain batch norm.

D: one residual down-block per halving down to 4x4 (SNGAN's "optimised" first block, then pre-activation blocks with
d_width * 2^i channels), ReLU, global sum pooling, a linear score plus the projection <embed(y), h> (Miyato & Koyama
2018); an AC-GAN head when the recipe's ac_weight > 0. D has no norm layers and is always spectrally normalised
(every conv, linear and embedding), as SNGAN's is: the recipe's model.spectral_norm and d_norm are DCGAN's settings.

Init: orthogonal for every conv, linear and embedding, as BigGAN does. Under spectral norm an orthogonal matrix is
already at spectral norm 1 with all its singular values 1, so the normalisation starts as a no-op and no layer
shrinks the signal; a Xavier or N(0, 0.02) matrix would be rescaled so that its largest singular value is 1, leaving
the others below 1 and the deep residual stack with a fading signal at the start.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Annotated

import pydantic
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganaug.gan.layers import ProjectedNorm, add_spectral_norm, projection_output
from ganaug.gan.models import MODELS, DiscriminatorOutput, GanSpec
from ganaug.limits import WIDTH_MAX


class UpBlock(nn.Module):
    """BigGAN's generator block; cond_dim = 0: unconditional batch norms."""

    def __init__(self, in_ch: int, out_ch: int, cond_dim: int) -> None:
        super().__init__()
        self.norm1 = ProjectedNorm(nn.BatchNorm2d(in_ch, affine=cond_dim == 0), cond_dim)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.norm2 = ProjectedNorm(nn.BatchNorm2d(out_ch, affine=cond_dim == 0), cond_dim)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: Tensor, c: Tensor | None) -> Tensor:
        h = F.interpolate(self.norm1(x, c).relu(), scale_factor=2.0)
        h = self.conv2(self.norm2(self.conv1(h), c).relu())
        return h + self.shortcut(F.interpolate(x, scale_factor=2.0))


class DownBlock(nn.Module):
    """SNGAN's discriminator block, halving the size; first: the "optimised" block on the image itself (no ReLU
    before the first conv, shortcut pooled before its conv)."""

    def __init__(self, in_ch: int, out_ch: int, first: bool) -> None:
        super().__init__()
        self.first = first
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.shortcut = nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(x if self.first else x.relu())
        h = F.avg_pool2d(self.conv2(h.relu()), 2)
        skip = self.shortcut(F.avg_pool2d(x, 2)) if self.first else F.avg_pool2d(self.shortcut(x), 2)
        return h + skip


class Generator(nn.Module):
    def __init__(self, spec: GanSpec, embedding_dim: int, hierarchical_z: bool, spectral_norm: bool) -> None:
        super().__init__()
        n = int(math.log2(spec.image_size)) - 2  # up-blocks: 4x4 -> image_size
        widths = [spec.g_width * 2 ** (n - 1 - i) for i in range(n)]  # each block's output; the stem has widths[0]
        conditional = spec.num_classes > 0
        # BigGAN's hierarchical z: one chunk for the stem, one per block joined to the class embedding.
        chunk = spec.z_dim // (n + 1) if conditional and hierarchical_z else 0
        self.z_sizes = [spec.z_dim - n * chunk] + [chunk] * n
        self.shared = nn.Embedding(spec.num_classes, embedding_dim) if conditional else None
        cond_dim = embedding_dim + chunk if conditional else 0
        self.stem = nn.Linear(self.z_sizes[0], 16 * widths[0])
        self.blocks = nn.ModuleList(UpBlock(a, b, cond_dim) for a, b in pairwise([widths[0], *widths]))
        self.out_norm = nn.BatchNorm2d(widths[-1])
        self.to_image = nn.Conv2d(widths[-1], spec.channels, 3, padding=1)
        self.apply(_orthogonal_init)
        if spectral_norm:  # not on the shared embedding, as in BigGAN: its vectors would shrink to norm <= 1
            for part in (self.stem, self.blocks, self.to_image):
                add_spectral_norm(part)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        z = z.view(len(z), -1)
        conditions: list[Tensor | None] = [None] * len(self.blocks)
        if self.shared is not None:
            if y is None:
                raise ValueError("a conditional generator needs class labels y")
            embedded = self.shared(y)
            z, *chunks = torch.split(z, self.z_sizes, dim=1)
            conditions = [torch.cat([embedded, chunk], dim=1) for chunk in chunks]
        h = self.stem(z).view(len(z), -1, 4, 4)
        for block, c in zip(self.blocks, conditions, strict=True):
            h = block(h, c)
        return self.to_image(self.out_norm(h).relu()).tanh()


class Discriminator(nn.Module):
    def __init__(self, spec: GanSpec) -> None:
        super().__init__()
        n = int(math.log2(spec.image_size)) - 2  # down-blocks: image_size -> 4x4
        widths = [spec.channels] + [spec.d_width * 2**i for i in range(n)]
        self.blocks = nn.Sequential(*(DownBlock(a, b, first=i == 0) for i, (a, b) in enumerate(pairwise(widths))))
        self.head = nn.Linear(widths[-1], 1)
        self.embed = nn.Embedding(spec.num_classes, widths[-1]) if spec.num_classes else None
        self.classifier = nn.Linear(widths[-1], spec.num_classes) if spec.aux_classifier else None
        self.apply(_orthogonal_init)
        add_spectral_norm(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DiscriminatorOutput:
        h = self.blocks(x).relu().sum(dim=(2, 3))
        return projection_output(self.head(h).flatten(), h, y, self.embed, self.classifier)


def _orthogonal_init(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.Linear, nn.Embedding)):
        nn.init.orthogonal_(module.weight)
    if isinstance(module, (nn.Conv2d, nn.Linear)) and module.bias is not None:
        nn.init.zeros_(module.bias)


Width = Annotated[int, pydantic.Field(ge=1, le=WIDTH_MAX)]


@MODELS.register("resnet")
def resnet(
    spec: GanSpec, *, embedding_dim: Width = 128, hierarchical_z: bool = True, g_spectral_norm: bool = True,
) -> tuple[Generator, Discriminator]:
    """The options ([model.options]); the first two matter only for a conditional model.

    embedding_dim: size of the class embedding shared by G's blocks (BigGAN: 128).
    hierarchical_z: split z into one chunk for the stem and one per block, each block's batch norms conditioned
        on [class embedding, its chunk] (BigGAN); false: all of z enters at the stem.
    g_spectral_norm: spectral norm on G's convs and linears too (BigGAN); D always has it.
    """
    return Generator(spec, embedding_dim, hierarchical_z, g_spectral_norm), Discriminator(spec)
