"""deepfake: tell whether an image or a face is a deepfake or AI-generated.

    from deepfake import load_detector
    detector = load_detector()                  # the shipped weights
    result = detector.predict("photo.jpg")      # Prediction(path, label, fake_probability)
    result.evidence, result.decided_by          # provenance read from the file (deepfake.provenance)
"""
__version__ = "0.1.0"

from .errors import DeepfakeError  # noqa: E402
from .registry import create_model, list_models, register_model  # noqa: E402
from . import models  # noqa: E402,F401  (fills the registry)


def __getattr__(name):
    # Inference pulls in the data stack; import it only when asked for.
    if name in ("Detector", "load_detector", "Prediction", "DEFAULT_WEIGHTS"):
        from .inference import detector
        return getattr(detector, name)
    if name in ("Evidence", "read_evidence"):
        from . import provenance
        return getattr(provenance, name)
    raise AttributeError(f"module 'deepfake' has no attribute {name!r}")


__all__ = ["DeepfakeError", "create_model", "list_models", "register_model", "Detector", "load_detector",
           "Prediction", "DEFAULT_WEIGHTS", "Evidence", "read_evidence", "__version__"]
