"""The data behind Input blocks: readers, splits, batching, and what an Input's data holds."""
