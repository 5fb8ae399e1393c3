"""The GUI-side handle on the engine process (no torch)."""
