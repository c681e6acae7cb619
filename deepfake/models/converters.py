"""Converters of peer detectors' published weights into our checkpoints, by family (python -m deepfake.convert)."""
from .ferretnet import convert_ferretnet
from .keras_import import convert_mesonet

CONVERTERS = {"ferretnet": convert_ferretnet, "mesonet": convert_mesonet}
