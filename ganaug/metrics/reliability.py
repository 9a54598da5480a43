"""When a figure is computed from too few images to trust, say so, and say how many it would need.

Every metric here is an estimate from samples, and on small data sets (a few
dozen validation images) the estimates can be far off while looking precise:
a collapsed generator can score FID below the real-vs-real floor, precision
0.96 and coverage 1.00. `reliability` returns, per figure, a note a reader
sees beside the number: fid="unreliable: 34 real validation images, needs at
least 500". A figure without a note (None) had enough images.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

from ganaug.metrics.distribution import NEAREST_K
from ganaug.metrics.record import JsonRecord

MIN_FID_IMAGES = 500
"""FID fits a Gaussian (mean and D x D covariance) to each side, and its bias grows as 1/N: below a few hundred
images per side it is dominated by sample size (Chong & Forsyth 2020), so a figure from fewer is not comparable
with anything measured at another size."""
FID_IMAGES_PER_FEATURE = 2
"""...and a covariance needs more images than features to be full rank: with a wide user feature module (e.g.
2048-d), 500 is not enough, so FID needs this many images per feature dimension if that is more."""
MIN_KID_IMAGES = 100
"""KID is unbiased at any size, but its spread over subsets of a few dozen images understates how much it
would change with other images; from about a hundred per side the reported ± is a fair error bar."""
MIN_KNN_IMAGES = 20 * NEAREST_K
"""Precision/recall/density/coverage estimate each set's manifold from k-NN radii (k = 5). Among fewer than
~100 images the 5th neighbour is far away, the radii cover most of feature space, and almost anything scores
near 1 (a collapsed generator measured against 34 real images scored coverage 1.00)."""
MIN_PER_CLASS_FID = 10
"""Per-class FID is not computed from fewer images of a class (either side); from more it still carries the
MIN_FID_IMAGES note, since a class rarely has 500 validation images."""
MIN_DIVERSITY_IMAGES = 10
"""Images of a class, on each side, for a diversity ratio. Its denominator, the real images' mean pairwise
distance, depends on which images the split picked: on digits (teacher features) 90% of random picks of 5
images of a class land within -28%/+30% of the class's mean, of 10 images within -18%/+17%, of 40 within 7%."""


@dataclass(frozen=True)
class Reliability(JsonRecord):
    """A note per figure whose sample is too small to trust; None where it had enough images.

    On disk only the notes are kept: {"fid": "unreliable: ..."}, and {} when every figure is trustworthy.
    """

    fid: str | None = None
    kid: str | None = None
    precision: str | None = None
    recall: str | None = None
    density: str | None = None
    coverage: str | None = None
    per_class_fid: str | None = None
    diversity: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {name: note for name, note in asdict(self).items() if note is not None}


def reliability(real: int, generated: int, feature_dim: int,
                per_class: list[tuple[int, int]] | None = None) -> Reliability:
    """Notes for the figures whose sample is too small; per_class: (real, generated) counts of each class."""
    knn = _too_few([real], [generated], MIN_KNN_IMAGES)
    groups = per_class or [(real, generated)]
    return Reliability(
        fid=_too_few([real], [generated], fid_needs(feature_dim)),
        kid=_too_few([real], [generated], MIN_KID_IMAGES),
        precision=knn, recall=knn, density=knn, coverage=knn,
        per_class_fid=None if per_class is None else _per_class_fid(per_class, fid_needs(feature_dim)),
        diversity=_too_few([r for r, _ in groups], [g for _, g in groups], MIN_DIVERSITY_IMAGES,
                           " of a class" if per_class else ""))


def below_floor(notes: Reliability, fid: float, floor: float) -> Reliability:
    """`notes` with the FID flagged if it is below the real-vs-real floor: no generator beats real data."""
    if fid >= floor:
        return notes
    reason = (f"below the real-vs-real floor ({floor:.3f}), which happens when the sample is too small for FID "
              "to be stable or when the generator copies the training data (see near-copies)")
    return replace(notes, fid=f"{notes.fid}; {reason}" if notes.fid else f"unreliable: {reason}")


def fid_needs(feature_dim: int) -> int:
    """Images FID needs per side in a feature space this wide (MIN_FID_IMAGES, FID_IMAGES_PER_FEATURE)."""
    return max(MIN_FID_IMAGES, FID_IMAGES_PER_FEATURE * feature_dim)


def _per_class_fid_missing(per_class: list[tuple[int, int]]) -> str:
    """Why per-class FID has no value for some classes, naming the counts this evaluation actually has."""
    real, generated = [r for r, _ in per_class], [g for _, g in per_class]
    reasons = []
    if min(real) < MIN_PER_CLASS_FID:
        reasons.append(f"at least {MIN_PER_CLASS_FID} validation images of a class; this split has {_span(real)}")
    if min(generated) < MIN_PER_CLASS_FID:
        reasons.append(f"at least {MIN_PER_CLASS_FID} generated images of a class; this evaluation made "
                       f"{_span(generated)}")
    return "per-class FID needs " + ", and ".join(reasons)


def _per_class_fid(per_class: list[tuple[int, int]], needs: int) -> str | None:
    computed = [(r, g) for r, g in per_class if min(r, g) >= MIN_PER_CLASS_FID]
    notes: list[str | None] = []
    if len(computed) < len(per_class):
        notes.append(f"not computed for {len(per_class) - len(computed)} of {len(per_class)} classes: "
                     + _per_class_fid_missing(per_class))
    if computed:
        notes.append(_too_few([r for r, _ in computed], [g for _, g in computed], needs, " per class"))
    return "; ".join(note for note in notes if note) or None


def _too_few(real: list[int], generated: list[int], needs: int, unit: str = "") -> str | None:
    """The note for a figure from `real` and `generated` images (a count, or one per class), if either is short."""
    short = [f"{_span(real)} real validation images"] * (min(real) < needs) + \
        [f"{_span(generated)} generated images"] * (min(generated) < needs)
    if not short:
        return None
    return f"unreliable: {' and '.join(short)}{unit}, needs at least {needs}" + (" of each" if len(short) == 2 else "")


def _span(counts: Iterable[int]) -> str:
    """'3' or '3-4': the range of counts, for a message."""
    counts = sorted(counts)
    return str(counts[0]) if counts[0] == counts[-1] else f"{counts[0]}-{counts[-1]}"
