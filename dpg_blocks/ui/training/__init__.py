"""Optimization & Results: training settings, runs, torchrun, evaluation."""
