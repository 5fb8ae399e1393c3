"""Run folders beside a project: writing, reading, and what changed between runs."""
