#!/usr/bin/env bash
# The issue-4 experiments: does GAN augmentation help, and which labelling wins?
# Runs one setting (or all, in order) into results/compare/<setting>/; GAN runs go under runs/experiments/.
# A setting interrupted part-way continues where it stopped (compare skips finished cells; fit is skipped if done).
#
#   bash benchmarks/compare_experiments.sh [mnist5k-10 mnist5k-50 mnist5k-100 digits-full digits-20 mnist5k-50-resnet18
#                                           mnist5k-50-filtered mnist5k-100-filtered]
# Then: python benchmarks/compare_report.py && python benchmarks/compare_diagnostics.py
set -euo pipefail
ALL="baseline,classic,extra,argmax,argmax-dynamic,uniform,conditional,soft,extra+classic,argmax+classic,argmax-dynamic+classic,uniform+classic,conditional+classic,soft+classic,cas"
FILTERED="baseline,classic,conditional,soft,conditional+classic,soft+classic"
RUNS=runs/experiments
mkdir -p "$RUNS" results/compare

fit() {  # fit NAME RECIPE [--set ...]: train the GAN once
  local name=$1 recipe=$2; shift 2
  [ -d "$RUNS/$name/checkpoints" ] && ls "$RUNS/$name/checkpoints" | grep -q step_ && return 0
  ganaug fit "$recipe" --out "$RUNS/$name" "$@"
}

filtered() {  # filtered RUN COUNT RATIO: label noise; keep only images the teacher gives >= 0.9 for their generated-for class
  local run=$1 count=$2 ratio=$3
  [ -d "results/compare/sets/$run-confident" ] || ganaug augment "$RUNS/$run" \
    --out "results/compare/sets/$run-confident" --count "$count" --labels conditional --min-confidence 0.9
  ganaug compare "$RUNS/$run" --synthetic "results/compare/sets/$run-confident" \
    --out "results/compare/$run-filtered" --strategies "$FILTERED" --ratios "$ratio" --seeds 5
}

setting() {
  case $1 in
    mnist5k-10)  fit mnist5k-10 mnist5k --set data.train_per_class=10
                 ganaug compare "$RUNS/mnist5k-10" --out results/compare/mnist5k-10 --strategies "$ALL" --ratios 0.5,1,2 --seeds 5 ;;
    mnist5k-50)  fit mnist5k-50 mnist5k
                 ganaug compare "$RUNS/mnist5k-50" --out results/compare/mnist5k-50 --strategies "$ALL" --ratios 0.5,1,2 --seeds 5 ;;
    mnist5k-100) fit mnist5k-100 mnist5k --set data.train_per_class=100
                 ganaug compare "$RUNS/mnist5k-100" --out results/compare/mnist5k-100 --strategies "$ALL" --ratios 0.5,1,2 --seeds 5 ;;
    digits-full) fit digits-full-cond digits --set model.conditional=true --set loss.name=hinge --set train.steps=2000 --set data.image_size=16
                 ganaug compare "$RUNS/digits-full-cond" --out results/compare/digits-full --strategies "$ALL" --ratios 0.5,1,2 --seeds 5 ;;
    digits-20)   fit digits-20-cond digits --set model.conditional=true --set loss.name=hinge --set train.steps=2000 --set data.image_size=16 --set data.train_per_class=20
                 ganaug compare "$RUNS/digits-20-cond" --out results/compare/digits-20 --strategies "$ALL" --ratios 0.5,1,2 --seeds 5 ;;
    mnist5k-50-resnet18) fit mnist5k-50 mnist5k
                 ganaug compare "$RUNS/mnist5k-50" --synthetic results/compare/mnist5k-50/synthetic --out results/compare/mnist5k-50-resnet18 \
                   --strategies baseline,classic,extra,argmax,uniform,conditional,soft,extra+classic,argmax+classic,uniform+classic,conditional+classic,soft+classic \
                   --ratios 1 --seeds 5 --model resnet18 --epochs 15 ;;
    mnist5k-50-filtered)  fit mnist5k-50 mnist5k
                 filtered mnist5k-50 2000 0.5 ;;
    mnist5k-100-filtered) fit mnist5k-100 mnist5k --set data.train_per_class=100
                 filtered mnist5k-100 4000 1 ;;
    *) echo "unknown setting $1" >&2; exit 2 ;;
  esac
}

for name in "${@:-mnist5k-10 mnist5k-50 mnist5k-100 digits-full digits-20 mnist5k-50-resnet18 mnist5k-50-filtered mnist5k-100-filtered}"; do
  for one in $name; do setting "$one"; done
done
