"""`python -m deepfake.samples DIR`: write a few public-domain photos from scikit-image to DIR.

They give a first run something real to score without downloading anything; all are genuine
photographs, so a good detector calls them real. make_labelled_folder writes synthetic real/ and fake/ images
(a fine checker pattern marks the fakes) that a tiny model learns in seconds: the tests' data, and the
pictures of a report that are safe to publish.
"""
import sys
from pathlib import Path

import numpy as np
from PIL import Image

SAMPLE_NAMES = ("astronaut", "coffee", "chelsea", "rocket")


def write_samples(out_dir) -> list:
    from skimage import data

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SAMPLE_NAMES:
        path = out_dir / f"{name}.png"
        Image.fromarray(getattr(data, name)()).convert("RGB").save(path)
        written.append(path)
    return written


def synthetic_image(rng: np.random.Generator, fake: bool, size: int = 48) -> Image.Image:
    base = rng.normal(128, 30, (6, 6, 3)).clip(0, 255).astype(np.uint8)
    pixels = np.asarray(Image.fromarray(base).resize((size, size), Image.BICUBIC), dtype=np.float32)
    if fake:
        pixels[::2, ::2] += 40
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


ASTRONAUT_FACE = (150, 20, 290, 160)  # (left, top, right, bottom) of the face in scikit-image's astronaut


def face_image(rng: np.random.Generator, size: int = 96) -> Image.Image:
    """A real face for the tests of face methods (landmarks, self-blending): the astronaut's, public domain,
    reframed and tinted a little per draw, so that each draw is a different file."""
    from skimage import data

    left, top, right, bottom = ASTRONAUT_FACE
    dx, dy = rng.integers(-8, 9, size=2)
    face = Image.fromarray(data.astronaut()).crop((left + dx, top + dy, right + dx, bottom + dy))
    pixels = np.asarray(face.resize((size, size), Image.BICUBIC), dtype=np.float32) + rng.uniform(-8, 8, size=3)
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def make_labelled_folder(root: Path, n_per_class: int = 24, seed: int = 0, layout=("real", "fake")) -> Path:
    rng = np.random.default_rng(seed)
    for label, folder in enumerate(layout):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            synthetic_image(rng, fake=bool(label)).save(root / folder / f"{i:03d}.png")
    return root


def write_synthetic_clip(path: Path, n_frames: int, rate: int = 30, size=(64, 48), step: int = 2) -> Path:
    """An MPEG-4 clip of flat grey frames, each `step` levels brighter than the last (PyAV, the video extra)."""
    import av
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(n_frames):
            pixels = np.full((height, width, 3), (index * step) % 256, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())
    return Path(path)


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else "samples"
    for sample in write_samples(target):
        print(sample)
