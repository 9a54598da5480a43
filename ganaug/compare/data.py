"""Everything a comparison cell trains and tests on, held in memory: the run's splits and the synthetic set.

The real images are the run's own split (the GAN's training split for training,
validation for picking the epoch, test for the one final score); the synthetic
set must come from the same data (its fingerprint is checked).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ganaug.augment.labellers import Labeller, SampleInfo, create_labeller
from ganaug.augment.synthset import SynthSet
from ganaug.classify import TensorSet
from ganaug.classify.train import LossFn
from ganaug.compare.grid import CAS, Cell
from ganaug.errors import GanaugError
from ganaug.fit.run_dir import RunDir
from ganaug.wrap.loss import AugmentedLoss


@dataclass(frozen=True)
class Images:
    images: Tensor
    """uint8, N x C x S x S."""
    labels: Tensor


@dataclass
class CompareData:
    class_names: list[str]
    train: Images
    val: Images
    test: Images
    synthetic: SynthSet | None
    synthetic_images: Tensor | None
    synthetic_info: SampleInfo | None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def channels(self) -> int:
        return self.train.images.shape[1]

    @property
    def image_size(self) -> int:
        return self.train.images.shape[-1]

    @classmethod
    def load(cls, run: RunDir, synthetic: SynthSet | None) -> CompareData:
        pool, split = run.load_data()
        if synthetic is not None and synthetic.manifest["fingerprint"] != split.fingerprint:
            raise GanaugError(f"the synthetic set {synthetic.root} was made from other data than {run.root}; "
                              "use a set generated from this run")

        def part(indices: list[int]) -> Images:
            rows = torch.tensor(indices)
            return Images(pool.images[rows], pool.labels[rows])

        return cls(pool.class_names, part(split.train), part(split.val), part(split.test), synthetic,
                   synthetic.all_images() if synthetic is not None else None,
                   synthetic.sample_info() if synthetic is not None else None)

    def labeller_for(self, cell: Cell) -> Labeller | None:
        if cell.strategy == "baseline":
            return None
        if cell.strategy == CAS:  # images alone must carry the class: the generated-for class, else the teacher's
            return create_labeller("conditional" if self.synthetic.conditional else "argmax")
        return create_labeller(cell.strategy)

    def check(self, cells: list[Cell]) -> None:
        """Fail before any training if a cell needs what the synthetic set lacks."""
        for cell in cells:
            labeller = self.labeller_for(cell)
            if labeller is None:
                continue
            if self.synthetic is None:
                raise GanaugError(f"strategy {cell.name} needs a synthetic set")
            labeller.check(conditional=self.synthetic.conditional, has_teacher=self.synthetic.has_teacher,
                           where=f"the synthetic set {str(self.synthetic.root)!r}")
            wanted = round(cell.ratio * len(self.train.labels))
            if wanted > len(self.synthetic):
                raise GanaugError(f"ratio {cell.ratio:g} needs {wanted} synthetic images but "
                                  f"{self.synthetic.root} has {len(self.synthetic)}; generate more or lower --ratios")

    def training_set(self, cell: Cell) -> tuple[TensorSet, int, LossFn]:
        """The cell's training images and targets, the classifier's number of outputs, and its loss."""
        labeller = self.labeller_for(cell)
        k = self.num_classes
        if labeller is None:
            return TensorSet.real(self.train.images, self.train.labels, k), k, AugmentedLoss(k)
        outputs = labeller.num_outputs(k)
        wanted = round(cell.ratio * len(self.train.labels))
        rows = torch.from_numpy(np.random.default_rng(cell.seed).choice(len(self.synthetic), wanted, replace=False))
        info = self.synthetic_info.take(rows)
        synthetic = TensorSet(self.synthetic_images[rows], labeller.targets(info, k),
                              torch.ones(wanted, dtype=torch.bool))
        loss = AugmentedLoss(k, synthetic_weight=0.1 if labeller.dynamic else 1.0, dynamic=labeller.dynamic)
        if cell.strategy == CAS:
            return synthetic, outputs, loss
        return TensorSet.real(self.train.images, self.train.labels, outputs).concat(synthetic), outputs, loss
