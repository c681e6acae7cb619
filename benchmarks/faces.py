"""The face path end to end against scoring whole images, on photos and on a 10-second 720p clip, in one run.

    python benchmarks/faces.py --folder data/corpus/sources/digicam [--images 30] [--clip-seconds 10]

Times Detector.predict_files on the same files, decoding included, after one warm-up file each, three ways:
`whole` (no --faces), `faces, whole-image model` (--faces with the face crops scored by the whole-image model:
the path before the face model, and what a user's own --weights does) and `faces, face model` (--faces with the
shipped pair: crops scored by weights/deepfake_faces.safetensors). The clip is written first: the astronaut's
face (scikit-image, public domain) drifting over a 1280 x 720 background, 30 frames a second, 16 of them
sampled. Prints ms per photo (and per MP) and per clip, and the ratios against `whole` and between the two face
paths. A newcomer measured 14x on 1-MP photos before MTCNN's crops were batched (issue 37).
"""
import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from deepfake import load_detector  # noqa: E402
from deepfake.data.images import IMAGE_EXTENSIONS  # noqa: E402
from deepfake.inference.options import PredictOptions  # noqa: E402

PATHS = {  # name -> (face model beside the whole-image one, PredictOptions)
    "whole": (True, PredictOptions()),
    "faces, whole-image model": (False, PredictOptions(faces=True)),
    "faces, face model": (True, PredictOptions(faces=True)),
}


def write_clip(path: Path, seconds: int, rate: int = 30) -> Path:
    """A 720p H.264 clip: a face drifting across a smooth background."""
    import av
    import numpy as np
    from PIL import Image
    from skimage import data
    face = Image.fromarray(data.astronaut()).crop((100, 0, 340, 240)).resize((300, 300))
    background = Image.fromarray(data.coffee()).resize((1280, 720))
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        for index in range(seconds * rate):
            frame = background.copy()
            frame.paste(face, (300 + int(200 * np.sin(index / 40)), 200))
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def timed(detector, paths, options) -> float:
    list(detector.predict_files(paths[:1], options, workers=0))  # warm-up: weights, lazy imports
    start = time.perf_counter()
    results = list(detector.predict_files(paths, options, workers=0))
    assert len(results) == len(paths)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", required=True, help="photos of any size (camera originals: 1-12 MP)")
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--clip-seconds", type=int, default=10)
    args = parser.parse_args()
    from PIL import Image
    paths = sorted(path for path in Path(args.folder).rglob("*") if path.suffix.lower() in IMAGE_EXTENSIONS)
    paths = paths[:: max(1, len(paths) // args.images)][: args.images]
    megapixels = 0.0
    for path in paths:
        with Image.open(path) as image:
            megapixels += image.width * image.height / 1e6
    detectors = {with_face_model: load_detector(device="cpu", face_model=with_face_model)
                 for with_face_model in (True, False)}
    with tempfile.TemporaryDirectory() as folder:
        clip = write_clip(Path(folder) / "clip.mp4", args.clip_seconds)
        seconds = {}
        for name, (with_face_model, options) in PATHS.items():
            detector = detectors[with_face_model]
            seconds[name] = timed(detector, paths, options), timed(detector, [clip, clip], options) / 2
            photos, video = seconds[name]
            print(f"{name}: {1000 * photos / len(paths):.0f} ms per photo ({len(paths)} photos, "
                  f"{megapixels / len(paths):.1f} MP on average; {1000 * photos / megapixels:.0f} ms per MP), "
                  f"{1000 * video:.0f} ms per {args.clip_seconds}-s 720p clip (16 frames)", flush=True)
    for index, kind in enumerate(("photos", "clip")):
        whole = seconds["whole"][index]
        print(f"{kind}: faces / whole {seconds['faces, face model'][index] / whole:.2f} with the face model, "
              f"{seconds['faces, whole-image model'][index] / whole:.2f} with the whole-image model; face model / "
              f"whole-image model on the face path "
              f"{seconds['faces, face model'][index] / seconds['faces, whole-image model'][index]:.2f}")


if __name__ == "__main__":
    main()
