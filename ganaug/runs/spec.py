"""The model spec: which architecture a recipe asks for, on data of a given shape.

fit builds its models from it and every later stage rebuilds the generator from
it, so a run's weights always meet the architecture they were trained in. It is
also where code outside the architecture reads z_dim and the number of classes:
never off the modules, which a DistributedDataParallel wrapper would hide.
"""

from __future__ import annotations

from ganaug.config import Recipe
from ganaug.gan.models import GanSpec, check_options


def gan_spec(recipe: Recipe, channels: int, image_size: int, num_classes: int) -> GanSpec:
    """The architecture a recipe asks for, on data of this shape (num_classes: the data's classes)."""
    m = recipe.model
    return GanSpec(
        channels=channels, image_size=image_size, num_classes=num_classes if m.conditional else 0,
        z_dim=m.z_dim, g_width=m.g_width, d_width=m.d_width, d_norm=recipe.d_norm,
        spectral_norm=m.spectral_norm, aux_classifier=m.ac_weight > 0, options=check_options(m.name, m.options),
    )
