"""ganaug: GAN-based data augmentation for PyTorch image classifiers.

The data flow is visible in the package layout: `fit` trains a GAN on a
classifier's training split (using `data` and `gan`); later stages turn the
run into labelled synthetic data and mix it into a training set.
"""

__version__ = "0.1.0"
