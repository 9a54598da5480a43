"""GAN building blocks: architectures (one small file each, registered in `models.MODELS`), losses, DiffAugment, EMA.

As in timm, this package imports every architecture so that each registers
itself; `models` defines the registry and imports none of them.
"""

from ganaug.gan import dcgan  # noqa: F401  (registers "dcgan")
