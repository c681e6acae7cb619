"""Importing this package registers every architecture in it."""
from . import artifact_cnn, ferretnet, mesonet, pretrained  # noqa: F401  (each module registers its architectures)
