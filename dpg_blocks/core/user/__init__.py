"""The user's own folder and what it holds: library, trust, plugin folders, quarantine."""
