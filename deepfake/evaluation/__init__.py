"""Measuring checkpoints: metrics and threshold rules, reports on folders, the stress sweep and evasion
attacks."""
