"""Importing this package registers every architecture in it."""
from . import artifact_cnn  # noqa: F401  (registers artifact_cnn, artifact_cnn_tiny)
