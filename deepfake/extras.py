"""Optional dependencies, by the pip extra that brings each (pyproject.toml's optional-dependencies).

A feature imports its dependency inside `with needs("feature"):`; when the package is missing, the user gets
one line that names the extra to install instead of a traceback. requirements.txt installs them all.
"""
from contextlib import contextmanager

from .errors import DeepfakeError

EXTRA_OF = {
    "av": "video", "matplotlib": "report", "captum": "report",
    "onnx": "onnx", "onnxscript": "onnx", "onnxruntime": "onnx",
    "fastapi": "serve", "starlette": "serve", "uvicorn": "serve", "python_multipart": "serve",
    "fastapi_offline": "serve", "timm": "pretrained", "h5py": "pretrained",
}


@contextmanager
def needs(feature: str):
    try:
        yield
    except ModuleNotFoundError as error:
        package = (error.name or "").split(".")[0]
        if package not in EXTRA_OF:
            raise
        raise DeepfakeError(f"{feature} needs {package}, which is not installed: pip install "
                            f"'deepfake[{EXTRA_OF[package]}]' (or pip install -r requirements.txt)") from None
