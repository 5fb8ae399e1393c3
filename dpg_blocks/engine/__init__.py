"""The engine: registry and plugins, compiler, validation, training (imports torch)."""
