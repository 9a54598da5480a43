"""GAN building blocks: architectures (one small file each, registered in `models.MODELS`), losses, generator
regularisers (`regularisers.REGULARISERS`), DiffAugment, EMA.

`models` is the seam every architecture plugs into: the GanSpec it is built from, the Generator and
Discriminator protocols it must satisfy, and its options (the factory's keyword-only arguments, set in a
recipe's [model.options]). As in timm, this package imports every architecture so that each registers
itself; `models` defines the registry and imports none of them.
"""

from ganaug.gan import (
    dcgan,  # noqa: F401  (registers "dcgan")
    mode_seeking,  # noqa: F401  (registers the generator regulariser "mode_seeking")
    resnet,  # noqa: F401  (registers "resnet")
)
