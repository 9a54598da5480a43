"""DCGAN (Radford et al. 2016) for square power-of-two images, optionally class-conditional.

With num_classes = 0 and width 64 at 64x64 this is exactly the pytorch/examples
DCGAN: transposed convs with batch norm and ReLU in G, strided convs with
LeakyReLU(0.2) in D, no biases, N(0, 0.02) init. Conditioning uses conditional
batch norm in G and a projection discriminator (Miyato & Koyama 2018); an
optional auxiliary classifier head gives AC-GAN. It takes no [model.options]:
its settings are the recipe's model fields (widths, d_norm, spectral_norm, z_dim).
"""

from __future__ import annotations

import math
from itertools import pairwise

import torch
from torch import Tensor, nn

from ganaug.gan.layers import ConditionalNorm, add_spectral_norm, dcgan_init, projection_output
from ganaug.gan.models import MODELS, DiscriminatorOutput, GanSpec


class Generator(nn.Module):
    def __init__(self, spec: GanSpec) -> None:
        super().__init__()
        n_up = int(math.log2(spec.image_size)) - 2  # 4x4 -> image_size
        widths = [spec.g_width * 2 ** (n_up - 1 - i) for i in range(n_up)]
        # Conditional: the class joins the noise at the input as a learnable one-hot code (Mirza &
        # Osindero), and every batch norm is class-conditional. Conditional batch norm alone barely
        # conditions at this data size; a noise-sized embedding conditions but lets G ignore z.
        self.label_embed = nn.Embedding(spec.num_classes, spec.num_classes) if spec.num_classes else None
        if self.label_embed is not None:
            nn.init.eye_(self.label_embed.weight)
        in_dim = spec.z_dim + spec.num_classes
        self.stem = nn.ConvTranspose2d(in_dim, widths[0], 4, 1, 0, bias=False)
        self.norms = nn.ModuleList(
            ConditionalNorm(nn.BatchNorm2d(w, affine=spec.num_classes == 0), spec.num_classes) for w in widths
        )
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False) for a, b in pairwise(widths)
        )
        self.to_image = nn.ConvTranspose2d(widths[-1], spec.channels, 4, 2, 1, bias=False)
        self.apply(dcgan_init)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.label_embed is not None:
            if y is None:
                raise ValueError("a conditional generator needs class labels y")
            z = torch.cat([z.view(z.shape[0], -1), self.label_embed(y)], dim=1)
        h = self.stem(z.view(z.shape[0], -1, 1, 1))
        for i, norm in enumerate(self.norms):
            h = norm(h, y).relu()
            if i < len(self.ups):
                h = self.ups[i](h)
        return self.to_image(h).tanh()


class Discriminator(nn.Module):
    def __init__(self, spec: GanSpec) -> None:
        super().__init__()
        n_down = int(math.log2(spec.image_size)) - 2  # image_size -> 4x4
        widths = [spec.d_width * 2**i for i in range(n_down)]
        layers: list[nn.Module] = [nn.Conv2d(spec.channels, widths[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
        for a, b in pairwise(widths):
            layers.append(nn.Conv2d(a, b, 4, 2, 1, bias=False))
            if spec.d_norm == "batch":
                layers.append(nn.BatchNorm2d(b))
            layers.append(nn.LeakyReLU(0.2))
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(widths[-1], 1, 4, 1, 0, bias=False)
        self.embed = nn.Embedding(spec.num_classes, widths[-1]) if spec.num_classes else None
        self.classifier = nn.Linear(widths[-1], spec.num_classes) if spec.aux_classifier else None
        self.apply(dcgan_init)
        if self.embed is not None:
            nn.init.xavier_uniform_(self.embed.weight)
        if spec.spectral_norm:
            add_spectral_norm(self)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DiscriminatorOutput:
        h = self.features(x)
        return projection_output(self.head(h).flatten(), h.sum(dim=(2, 3)), y, self.embed, self.classifier)


@MODELS.register("dcgan")
def dcgan(spec: GanSpec) -> tuple[Generator, Discriminator]:
    return Generator(spec), Discriminator(spec)
