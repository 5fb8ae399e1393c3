"""Block packs: discovery, the registry of block specs, and probing plugins in a child process."""
