"""A local detection service: an HTTP API and a web page over one Detector.

    python -m deepfake.serve --port 8000        # or the deepfake-serve console script
    curl -F file=@photo.jpg http://127.0.0.1:8000/v1/predict

Layout: uploads.py streams a multipart body into a private temporary folder (size and time limits, type
sniffed from the bytes), model_queue.py runs every model call on one thread and batches plain images, app.py
holds the routes, settings.py their limits, page.html is the web page; the command line is deepfake.cli's.
"""
from .settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]


def __getattr__(name: str):
    # The web stack (FastAPI, an optional extra) loads only when the app is built, not for the settings.
    if name == "create_app":
        from .app import create_app
        return create_app
    raise AttributeError(name)
