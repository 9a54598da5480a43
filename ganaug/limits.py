"""Bounds that recipes, the CLI and the Python API all check, in a module that imports nothing
(so `--help` is quick)."""

SEED_MAX = 2**31 - 1
"""Seeds are 0 .. 2**31 - 1: every RNG ganaug feeds (torch, numpy, scikit-learn) takes them as they are."""
WIDTH_MAX = 1024
"""Model widths and z_dim above this would need more memory than any machine has for these models."""
