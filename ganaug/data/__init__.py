"""Where images come from: named sources, in-memory pools, splits and batches."""

from ganaug.data.batches import InMemoryBatches
from ganaug.data.pool import ImagePool
from ganaug.data.samples import SourceData, to_pool
from ganaug.data.sources import SOURCES, load_pool
from ganaug.data.split import Split, make_split

__all__ = ["SOURCES", "ImagePool", "InMemoryBatches", "SourceData", "Split", "load_pool", "make_split", "to_pool"]
