"""The face detectors by name (FACE_DETECTORS: mtcnn, the default, and haar), and the face-crop cache that
training reads. docs/experiments.md ("Which face detector") measured the two on the shared face sets."""
import hashlib
import os
from pathlib import Path
from typing import Callable, Dict, Tuple

from ..errors import DeepfakeError
from .boxes import FaceDetector, HaarFaceDetector, crop_face


def _mtcnn() -> FaceDetector:
    from .mtcnn import MTCNNFaceDetector  # torch and the packaged weights, only when asked for
    return MTCNNFaceDetector()


FACE_DETECTORS: Dict[str, Callable[[], FaceDetector]] = {"mtcnn": _mtcnn, "haar": HaarFaceDetector}
DEFAULT_FACE_DETECTOR = "mtcnn"


def create_face_detector(name: str = DEFAULT_FACE_DETECTOR) -> FaceDetector:
    if name not in FACE_DETECTORS:
        raise DeepfakeError(f"unknown face detector {name!r}; choose one of {', '.join(FACE_DETECTORS)}")
    return FACE_DETECTORS[name]()


def face_detector_name(training: dict, requested: str = None) -> str:
    """The detector to score faces with: the one asked for, else the one a face-trained checkpoint was trained
    with (its card's training record), else the default."""
    return requested or training.get("face_detector", DEFAULT_FACE_DETECTOR)


class FaceCropCache:
    """Face crops for training, detected once and kept on disk, keyed by each file's path, size and mtime and
    by the detector's name.

    The largest face with its margin is saved as PNG (lossless, so no new compression traces); an image
    without a detectable face is used whole. Later epochs and later runs read the crops directly.
    """

    def __init__(self, cache_dir, detector_name: str = DEFAULT_FACE_DETECTOR, detector: "FaceDetector" = None):
        self.cache_dir = Path(cache_dir)
        self.detector_name = detector_name
        self.detector = detector

    def crop_path(self, path) -> Path:
        stat = os.stat(path)
        key = hashlib.sha1(f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}|{self.detector_name}"
                           .encode()).hexdigest()
        return self.cache_dir / f"{key[:20]}.png"

    def crop(self, path) -> Tuple[Path, bool]:
        """(path of the crop to train on, whether a face was found); decodes and detects only on a cache miss."""
        from ..data.images import load_rgb_image
        target = self.crop_path(path)
        marker = target.with_suffix(".noface")
        if target.exists():
            return target, True
        if marker.exists():
            return path, False
        image = load_rgb_image(path)
        self.detector = self.detector or create_face_detector(self.detector_name)
        boxes = self.detector.detect(image)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        if not boxes:
            marker.touch()
            return path, False
        temporary = target.with_suffix(".tmp.png")
        crop_face(image, boxes[0]).save(temporary)
        temporary.replace(target)  # atomic: an interrupted run never leaves a half-written crop
        return target, True
