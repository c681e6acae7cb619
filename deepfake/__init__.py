"""deepfake: tell whether an image or a face is a deepfake or AI-generated.

    from deepfake import load_detector
    detector = load_detector()                  # the shipped weights
    result = detector.predict("photo.jpg")      # Prediction(path, label, fake_probability)
    result.evidence, result.decided_by          # provenance read from the file (deepfake.provenance)
"""
__version__ = "0.1.0"

from .errors import DeepfakeError  # noqa: E402


def __getattr__(name):
    # Everything that needs torch is imported when first asked for, so that `predict.py --help` and a command
    # that stops at a bad flag answer before torch loads (seconds on a cold start).
    if name in ("create_model", "list_models", "register_model"):
        from . import registry
        return getattr(registry, name)
    if name in ("Detector", "load_detector", "Prediction", "DEFAULT_WEIGHTS"):
        from .inference import detector
        return getattr(detector, name)
    if name in ("Evidence", "read_evidence"):
        from . import provenance
        return getattr(provenance, name)
    raise AttributeError(f"module 'deepfake' has no attribute {name!r}")


__all__ = ["DeepfakeError", "create_model", "list_models", "register_model", "Detector", "load_detector",
           "Prediction", "DEFAULT_WEIGHTS", "Evidence", "read_evidence", "__version__"]
