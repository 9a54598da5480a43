#!/usr/bin/env bash
# Issue 5 figures: FID/KID, precision/recall, memorisation and label agreement over training, with and without
# DiffAugment, on mnist5k (50 per class) and digits, then `ganaug evaluate --checkpoint best` of each. GAN runs
# go to runs/quality/; the report, plots and evaluation reports to results/quality/ (quality_report.py).
#
#   bash benchmarks/quality_over_training.sh
set -euo pipefail
RUNS=runs/quality
mkdir -p "$RUNS"

fit() {  # fit NAME RECIPE [--set ...]: skipped when finished
  local name=$1 recipe=$2; shift 2
  [ -f "$RUNS/$name/checkpoints/best/best.json" ] && [ -n "$(ls "$RUNS/$name/checkpoints" | grep step_)" ] && return 0
  rm -rf "$RUNS/$name"
  ganaug fit "$recipe" --out "$RUNS/$name" "$@"
}

# mnist5k: its recipe uses DiffAugment (color,translation,cutout); the other run turns it off.
fit mnist5k-diffaugment mnist5k --set eval.every=250
fit mnist5k-plain mnist5k --set eval.every=250 --set train.diffaugment=""
# digits: the quick recipe has no DiffAugment; the other run turns it on, as in mnist5k.
fit digits-plain digits --set eval.every=50
fit digits-diffaugment digits --set eval.every=50 --set train.diffaugment=color,translation,cutout
# The best checkpoint of each, measured in full (2,000 images, with the sanity references).
for name in mnist5k-diffaugment mnist5k-plain digits-plain digits-diffaugment; do
  [ -f "$RUNS/$name/evaluation/best/metrics.json" ] || ganaug evaluate "$RUNS/$name" --checkpoint best --count 2000
done
python benchmarks/quality_report.py --runs "$RUNS" --out results/quality
