"""The pipeline, side by side and in order: fit -> augment -> (evaluate) -> wrap -> compare.

Each stage stands on the core (`ganaug.runs`, `ganaug.labels`, `ganaug.data`,
`ganaug.gan`, `ganaug.classify`, `ganaug.metrics`) and may use an earlier stage,
never a later one. The functions users call are exported from `ganaug` itself.
"""
