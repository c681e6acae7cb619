"""Offline face detection and cropping: OpenCV's bundled Haar cascade (ships inside the pip wheel).

Chosen by measurement on the 1,100 real FFHQ photos of faces-stylegan (see weights/MODEL_CARD.md): the
`alt2` cascade with minNeighbors=3 found a face in 95.7% of the first 300 at about 30 images/s on two
busy cores, the best recall of the bundled frontal cascades. It is a frontal detector: profiles and
heavily occluded faces are missed, and then the whole image is scored instead (and the output says so).
"""
import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import List, Tuple

import numpy as np
from PIL import Image

CASCADE_FILE = "haarcascade_frontalface_alt2.xml"


@dataclass(frozen=True)
class FaceBox:
    x: int
    y: int
    width: int
    height: int

    def to_dict(self) -> dict:
        return asdict(self)


class FaceDetector:
    def __init__(self, min_neighbors: int = 3, min_size: int = 24, max_faces: int = 5):
        import cv2  # imported here so image-only users never pay for it

        self._cascade = cv2.CascadeClassifier(cv2.data.haarcascades + CASCADE_FILE)
        if self._cascade.empty():
            raise RuntimeError(f"OpenCV's {CASCADE_FILE} is missing from the installed wheel")
        self.min_neighbors, self.min_size, self.max_faces = min_neighbors, min_size, max_faces

    def detect(self, image: Image.Image) -> List[FaceBox]:
        """Faces, largest first; at most max_faces."""
        grey = np.asarray(image.convert("L"))
        found = self._cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=self.min_neighbors,
                                               minSize=(self.min_size, self.min_size))
        boxes = [FaceBox(int(x), int(y), int(w), int(h)) for x, y, w, h in found]
        boxes.sort(key=lambda box: box.width * box.height, reverse=True)
        return boxes[: self.max_faces]


def face_crop_box(image: Image.Image, box: FaceBox, margin: float = 0.3) -> Tuple[int, int, int, int]:
    """(left, top, right, bottom) of the square crop around the face, `margin` of its size added on each side
    (blending seams live there), kept inside the picture."""
    side = int(max(box.width, box.height) * (1 + 2 * margin))
    centre_x, centre_y = box.x + box.width // 2, box.y + box.height // 2
    left = min(max(0, centre_x - side // 2), max(0, image.width - side))
    top = min(max(0, centre_y - side // 2), max(0, image.height - side))
    return left, top, min(image.width, left + side), min(image.height, top + side)


def crop_face(image: Image.Image, box: FaceBox, margin: float = 0.3) -> Image.Image:
    return image.crop(face_crop_box(image, box, margin))


class FaceCropCache:
    """Face crops for training, detected once and kept on disk, keyed by each file's path, size and mtime.

    The largest face with its margin is saved as PNG (lossless, so no new compression traces); an image
    without a detectable face is used whole. Later epochs and later runs read the crops directly.
    """

    def __init__(self, cache_dir, detector: "FaceDetector" = None):
        self.cache_dir = Path(cache_dir)
        self.detector = detector

    def crop_path(self, path) -> Path:
        stat = os.stat(path)
        key = hashlib.sha1(f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
        return self.cache_dir / f"{key[:20]}.png"

    def crop(self, path) -> Tuple[Path, bool]:
        """(path of the crop to train on, whether a face was found); decodes and detects only on a cache miss."""
        from .images import load_rgb_image
        target = self.crop_path(path)
        marker = target.with_suffix(".noface")
        if target.exists():
            return target, True
        if marker.exists():
            return path, False
        image = load_rgb_image(path)
        self.detector = self.detector or FaceDetector()
        boxes = self.detector.detect(image)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        if not boxes:
            marker.touch()
            return path, False
        temporary = target.with_suffix(".tmp.png")
        crop_face(image, boxes[0]).save(temporary)
        temporary.replace(target)  # atomic: an interrupted run never leaves a half-written crop
        return target, True
