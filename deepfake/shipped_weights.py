"""Where the shipped checkpoint is, found without importing torch (argument parsers name it in --help)."""
from pathlib import Path

SHIPPED_WEIGHTS = "deepfake_cnn.safetensors"  # the whole-image model: pictures and AI-generated images
SHIPPED_FACE_WEIGHTS = "deepfake_faces.safetensors"  # the face model: face crops, from --faces and videos


def _shipped(name: str) -> Path:
    """A shipped checkpoint: in weights/ at the repository's top, which an installed wheel carries as
    deepfake/weights/ (pyproject.toml)."""
    package = Path(__file__).resolve().parent
    for folder in (package / "weights", package.parent / "weights"):
        if (folder / name).is_file():
            return folder / name
    return package.parent / "weights" / name


DEFAULT_WEIGHTS = _shipped(SHIPPED_WEIGHTS)
DEFAULT_FACE_WEIGHTS = _shipped(SHIPPED_FACE_WEIGHTS)
