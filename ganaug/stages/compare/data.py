"""Everything a comparison cell trains and tests on, held in memory: the run's splits and the synthetic set.

The real images are the run's own split (the GAN's training split for training,
validation for picking the epoch, test for the one final score); the synthetic
set must come from the same data (its fingerprint is checked).

A cell's synthetic images, their targets and its loss come from the functions
AugmentedDataset and AugmentedLoss use (draw_rows, synthetic_targets,
AugmentedLoss.for_labeller), so a comparison measures what users train with;
tests/test_compare.py checks a cell against an AugmentedDataset of the same
seed, strategy and ratio.

How a cell uses its images (grid.USES): `mix` draws its rows once from the
cell's seed; `confident` draws them from the rows whose teacher confidence
reaches CONFIDENT; `fresh` deals a permutation of the whole set out epoch by
epoch, so no image comes back (the set must hold epochs x the draw);
`pretrain` trains on its draw alone, then on the real images alone;
`balance` draws per class, the quotas evening out the real class counts;
`oversample` draws as `mix` (the training loop oversamples).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ganaug.classify import TensorSet
from ganaug.classify.train import LossFn
from ganaug.errors import RunDirError, UsageError
from ganaug.labels import Labeller, SampleInfo, create_labeller, fill_smallest
from ganaug.runs.run_dir import RunDir
from ganaug.runs.synthset import SynthSet
from ganaug.stages.compare.grid import CAS, CONFIDENT, Cell
from ganaug.stages.wrap.loss import AugmentedLoss
from ganaug.stages.wrap.synthetic import draw_per_class, draw_rows, synthetic_targets


@dataclass(frozen=True)
class Images:
    images: Tensor
    """uint8, N x C x S x S."""
    labels: Tensor


@dataclass(frozen=True)
class Provenance:
    """Which run and split the real data is: a synthetic set must have been made from exactly these."""

    run_id: str
    split_id: str
    fingerprint: str
    run_root: str

    def check(self, synthetic: SynthSet) -> None:
        """Refuse a set from other data, another split of it (its GAN may have seen this run's validation and
        test images), or another run."""
        m, where = synthetic.manifest, f"the synthetic set {str(synthetic.root)!r}"
        if m.get("fingerprint") != self.fingerprint:
            raise RunDirError(f"{where} was made from other data than the run {self.run_root!r}; "
                              "use a set generated from this run")
        if m.get("split") != self.split_id:
            reason = ("records no split (made by an older ganaug)" if m.get("split") is None
                      else "comes from a GAN trained on another split of this data, which may have seen this "
                           "run's validation and test images")
            raise RunDirError(f"{where} {reason}; generate one from this run with ganaug augment")
        if m.get("run_id") != self.run_id:
            raise RunDirError(f"{where} was made from another run ({m.get('run')!r}) than {self.run_root!r}; "
                              "use a set generated from this run")


@dataclass
class CompareData:
    class_names: list[str]
    train: Images
    val: Images
    test: Images
    synthetic: SynthSet | None
    synthetic_images: Tensor | None
    synthetic_info: SampleInfo | None
    provenance: Provenance

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
    def load(cls, run: RunDir, synthetic: SynthSet | None = None) -> CompareData:
        """The run's real splits, and the synthetic set (checked to come from this run and split), if given."""
        pool, split = run.load_data()

        def part(indices: list[int]) -> Images:
            rows = torch.tensor(indices)
            return Images(pool.images[rows], pool.labels[rows])

        data = cls(pool.class_names, part(split.train), part(split.val), part(split.test), None, None, None,
                   Provenance(run.id, split.id, split.fingerprint, str(run.root)))
        return data if synthetic is None else data.with_synthetic(synthetic)

    def with_synthetic(self, synthetic: SynthSet) -> CompareData:
        """This data with a synthetic set, which must come from this run's GAN on this very split."""
        self.provenance.check(synthetic)
        return dataclasses.replace(self, synthetic=synthetic, synthetic_images=synthetic.all_images(),
                                   synthetic_info=synthetic.sample_info())

    def synthetic_set(self) -> tuple[SynthSet, Tensor, SampleInfo]:
        """The synthetic set, its images and what is known about them, for a cell that uses the GAN."""
        if self.synthetic is None or self.synthetic_images is None or self.synthetic_info is None:
            raise UsageError("strategies with GAN images need a synthetic set")
        return self.synthetic, self.synthetic_images, self.synthetic_info

    def labeller_for(self, cell: Cell) -> Labeller | None:
        if not cell.uses_gan:
            return None
        if cell.strategy == CAS:  # images alone must carry the class: the generated-for class, else the teacher's
            return create_labeller("conditional" if self.synthetic_set()[0].conditional else "argmax")
        return create_labeller(cell.labels)

    def check(self, cells: list[Cell], epochs: int) -> None:
        """Fail before any training if a cell needs what the synthetic set lacks (`epochs`: per cell, for
        `fresh`, which needs new images for each)."""
        for cell in cells:
            labeller = self.labeller_for(cell)
            if labeller is None:
                continue
            if self.synthetic is None:
                raise UsageError(f"strategy {cell.name} needs a synthetic set")
            where = f"the synthetic set {str(self.synthetic.root)!r}"
            labeller.check(conditional=self.synthetic.conditional, has_teacher=self.synthetic.has_teacher,
                           where=where)
            if cell.use == "confident" and not self.synthetic.has_teacher:
                raise UsageError(f"strategy {cell.name} keeps the images the teacher is confident about, but {where} "
                                 "has no teacher probabilities; generate it with ganaug augment --labels soft")
            if cell.use == "balance":
                self._check_balance(cell)
                continue
            wanted, fresh = self.synthetic_wanted(cell), cell.use == "fresh"
            available = len(self.eligible_rows(cell, labeller))
            if wanted * (epochs if fresh else 1) > available:
                kind = "" if cell.use != "confident" else f" with teacher confidence >= {CONFIDENT}"
                need = f"{wanted} new synthetic images for each of {epochs} epochs" if fresh else \
                    f"{wanted} synthetic images"
                raise UsageError(f"{cell.name} at ratio {cell.ratio:g} needs {need} but {self.synthetic.root} has "
                                 f"{available}{kind}; generate more or lower --ratios")

    def balance_quotas(self, cell: Cell) -> tuple[int, ...]:
        """Synthetic images per class for a `balance` cell: its draw, the classes with the fewest real images first."""
        return fill_smallest(torch.bincount(self.train.labels, minlength=self.num_classes).tolist(),
                             self.synthetic_wanted(cell))

    def _check_balance(self, cell: Cell) -> None:
        _, _, info = self.synthetic_set()
        classes = info.classes()
        if classes is None:
            raise UsageError(f"{cell.name} shares images out by class, but {self.synthetic_set()[0].root} knows no "
                             "image's class (an unconditional run without a teacher); generate it with ganaug "
                             "augment --labels soft")
        available = torch.bincount(classes, minlength=self.num_classes).tolist()
        for name, wanted, have in zip(self.class_names, self.balance_quotas(cell), available, strict=True):
            if wanted > have:
                raise UsageError(f"{cell.name} at ratio {cell.ratio:g} needs {wanted} synthetic images of class "
                                 f"{name!r} but the set has {have}; generate more or lower --ratios")

    def synthetic_wanted(self, cell: Cell) -> int:
        """Synthetic images per cell (per epoch for `fresh`): ratio x real training images, rounded as
        AugmentedDataset rounds them."""
        return round(cell.ratio * len(self.train.labels))

    def eligible_rows(self, cell: Cell, labeller: Labeller) -> np.ndarray:
        """The rows the cell may draw from: all, or for `confident` those whose teacher probability for the class
        the labels give them reaches CONFIDENT."""
        _, _, info = self.synthetic_set()
        if cell.use != "confident":
            return np.arange(info.count)
        return np.flatnonzero((labeller.confidence(info) >= CONFIDENT).numpy())

    def synthetic_rows(self, cell: Cell, epoch: int = 1) -> np.ndarray:
        """The rows of the synthetic set the cell trains on (in `epoch`, from 1, for `fresh`), in the order drawn
        from the cell's seed."""
        labeller, wanted, rng = self.labeller_for(cell), self.synthetic_wanted(cell), np.random.default_rng(cell.seed)
        assert labeller is not None, "only cells with GAN images draw synthetic rows"
        eligible = self.eligible_rows(cell, labeller)
        if cell.use == "fresh":
            return eligible[rng.permutation(len(eligible))[(epoch - 1) * wanted : epoch * wanted]]
        if cell.use == "balance":
            classes = self.synthetic_set()[2].classes()
            assert classes is not None, "check() refuses balance cells on sets that know no classes"
            return draw_per_class(classes.numpy(), self.balance_quotas(cell), rng)
        return eligible[draw_rows(len(eligible), wanted, rng)]

    def real_set(self, outputs: int) -> TensorSet:
        return TensorSet.real(self.train.images, self.train.labels, outputs)

    def training_set(self, cell: Cell, epoch: int = 1) -> tuple[TensorSet, int, LossFn]:
        """The cell's training images and targets (in `epoch` for `fresh`; the pre-training stage's for
        `pretrain`), the classifier's number of outputs, and its loss."""
        labeller = self.labeller_for(cell)
        k = self.num_classes
        if labeller is None:
            return self.real_set(k), k, AugmentedLoss(k)
        outputs = labeller.num_outputs(k)
        _, images, info = self.synthetic_set()
        rows = torch.from_numpy(self.synthetic_rows(cell, epoch))
        synthetic = TensorSet(images[rows], synthetic_targets(labeller, info.take(rows), k),
                              torch.ones(len(rows), dtype=torch.bool))
        loss = AugmentedLoss.for_labeller(labeller, k)
        if cell.strategy == CAS or cell.use == "pretrain":
            return synthetic, outputs, loss
        return self.real_set(outputs).concat(synthetic), outputs, loss
