"""A local detection service: an HTTP API and a web page over one Detector.

    python -m deepfake.serve --port 8000        # or the deepfake-serve console script
    curl -F file=@photo.jpg http://127.0.0.1:8000/v1/predict

Layout: uploads.py streams a multipart body into a private temporary folder (size limit, type sniffed from the
bytes), model_queue.py runs every model call on one thread and batches plain images, app.py holds the routes,
page.html is the web page, main.py the command line.
"""
from .app import ServiceSettings, create_app

__all__ = ["ServiceSettings", "create_app"]
