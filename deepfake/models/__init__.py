"""Importing this package registers every architecture in it."""
# Each module registers its architectures.
from . import artifact_cnn, ferretnet, mesonet, pretrained, two_view  # noqa: F401
