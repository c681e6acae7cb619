"""Faces: the box a detector returns, the square crop around it, and OpenCV's Haar cascade. The detectors by
name, and the crop cache training uses, are in face_detectors.py.

Two detectors, both offline:
- `mtcnn` (the default; faces/mtcnn.py): a CNN cascade whose weights ship inside facenet-pytorch's wheel.
- `haar`: OpenCV's bundled Haar cascade (`alt2`, minNeighbors=3: the best recall of the bundled frontal
  cascades), a frontal detector that misses turned, small and occluded faces.
docs/experiments.md ("Which face detector") compares them on the shared face sets. With no face found the
whole image is scored instead, and the output says so.
"""
from dataclasses import asdict, dataclass
from typing import List, Protocol, Tuple

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


class FaceDetector(Protocol):
    name: str

    def detect(self, image: Image.Image) -> List[FaceBox]:
        """Faces, largest first."""


class HaarFaceDetector:
    name = "haar"

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
