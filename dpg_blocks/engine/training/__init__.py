"""Training runs: the trainer, the engine's session, taps, evaluation, scale-out and precision."""
