"""The core every stage stands on: what a run is on disk and how its pieces load.

    run_dir      the run directory: recipe, split, data record, logs
    checkpoint   the checkpoint layout: save, list, load (safetensors + JSON)
    spec         the model spec a recipe asks for, on data of a given shape
    generator    a run's EMA generator, loaded for sampling
    teacher      the classifier trained on a run's training split, cached in the run
    quality      generated images measured against the run's validation split
    synthset     the synthetic set on disk (shards, per-sample table, manifest)

Stages (fit, augment, evaluate, wrap, compare) import from here, never from each other backwards.
"""
