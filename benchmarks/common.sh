#!/usr/bin/env bash
# Sourced by the experiment scripts: their shared helpers. Expects RUNS, the folder of the scripts' GAN runs.

fit() {  # fit NAME RECIPE [--set ...]: continued when stopped, skipped when finished
  local name=$1 recipe=$2; shift 2
  if [ -f "$RUNS/$name/config.toml" ]; then
    ganaug fit --resume --out "$RUNS/$name"
  else
    ganaug fit "$recipe" --out "$RUNS/$name" "$@"
  fi
}
