"""Where the shipped checkpoint is, found without importing torch (argument parsers name it in --help)."""
from pathlib import Path

SHIPPED_WEIGHTS = "deepfake_cnn.safetensors"


def _shipped_weights() -> Path:
    """The shipped checkpoint: in weights/ at the repository's top, which an installed wheel carries as
    deepfake/weights/ (pyproject.toml)."""
    package = Path(__file__).resolve().parent
    for folder in (package / "weights", package.parent / "weights"):
        if (folder / SHIPPED_WEIGHTS).is_file():
            return folder / SHIPPED_WEIGHTS
    return package.parent / "weights" / SHIPPED_WEIGHTS


DEFAULT_WEIGHTS = _shipped_weights()
