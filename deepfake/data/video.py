"""Video decoding with PyAV: N frames sampled uniformly, with their timestamps.

Frames are decoded in one forward pass and kept only at the sampled indices, so memory holds N frames
whatever the video's length; where the container declares no length, at most 2N frames are kept at a
stride that doubles as the video goes on (see EvenSample). A frame larger than MAX_FRAME_PIXELS is refused
before it is converted, and at most MAX_FRAMES_READ frames are decoded. A truncated file yields the frames
before the damage; a file with no decodable frame is one DeepfakeError.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List

import numpy as np
from PIL import Image

from ..errors import DeepfakeError
from ..extras import needs

# A video's frames are held together, so a frame gets a tighter pixel limit than a still image: 8K UHD, the
# largest format cameras record, is refused above; a kept frame above 4K UHD is reduced to it as it is
# decoded (no model looks at more: the whole-image model sees 224 px, faces are cropped and resized).
MAX_FRAME_PIXELS = 7680 * 4320
KEPT_FRAME_PIXELS = 3840 * 2160
# Decoding stops here whatever the container says: an hour at 30 frames per second. A crafted file can
# declare no length and hold millions of tiny frames, each of which costs decoding time.
MAX_FRAMES_READ = 108_000

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})


def is_video_file(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


@dataclass
class VideoFrame:
    index: int
    time: float  # seconds from the start
    image: Image.Image


def _frame_count(container, stream) -> int:
    if stream.frames:
        return int(stream.frames)
    duration = (stream.duration * stream.time_base if stream.duration else
                container.duration / 1_000_000 if container.duration else 0)
    rate = float(stream.average_rate or 0)
    return int(duration * rate)


class EvenSample:
    """Frames spread evenly over a stream of unknown length, in bounded memory: every `stride`-th frame is kept,
    and when 2N are held every other one is dropped and the stride doubles. At the end at most 2N frames, evenly
    spaced, remain, from which N are taken."""

    def __init__(self, n_frames: int):
        self.n_frames, self.stride, self.kept = n_frames, 1, []

    def wants(self, index: int) -> bool:
        return index % self.stride == 0

    def add(self, frame: VideoFrame) -> None:
        self.kept.append(frame)
        if len(self.kept) >= 2 * self.n_frames:
            self.kept, self.stride = self.kept[::2], self.stride * 2

    def frames(self) -> List[VideoFrame]:
        if len(self.kept) <= self.n_frames:
            return self.kept
        keep = np.linspace(0, len(self.kept) - 1, self.n_frames).round().astype(int)
        return [self.kept[i] for i in sorted(set(keep.tolist()))]


def check_frame_size(path: Path, frame) -> None:
    if frame.width * frame.height > MAX_FRAME_PIXELS:
        raise DeepfakeError(f"{path}: video frames of {frame.width}x{frame.height} pixels are over the "
                            f"{MAX_FRAME_PIXELS:,}-pixel limit for a frame")


def frame_image(frame) -> Image.Image:
    image = frame.to_image().convert("RGB")
    if image.width * image.height > KEPT_FRAME_PIXELS:
        scale = (KEPT_FRAME_PIXELS / (image.width * image.height)) ** 0.5
        image = image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale))),
                             Image.BICUBIC)
    return image


def sample_frames(path, n_frames: int = 16, on_frame: Callable[[], None] = lambda: None) -> List[VideoFrame]:
    """Up to n_frames frames spread evenly over the video (every frame if it has fewer)."""
    with needs("video input"):
        import av  # only video users pay for it

    path = Path(path)
    if not path.is_file():
        raise DeepfakeError(f"{path}: no such file")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DeepfakeError(f"{path}: has no video stream")
            stream = container.streams.video[0]
            total = min(_frame_count(container, stream), MAX_FRAMES_READ)
            wanted = set(np.linspace(0, total - 1, n_frames).round().astype(int).tolist()) if total else None
            unknown_length = EvenSample(n_frames)
            frames = []
            try:
                for index, frame in enumerate(container.decode(stream)):
                    if index >= MAX_FRAMES_READ:
                        break
                    keep = index in wanted if wanted is not None else unknown_length.wants(index)
                    if keep:
                        check_frame_size(path, frame)
                        sampled = VideoFrame(index, float(frame.time or 0.0), frame_image(frame))
                        frames.append(sampled) if wanted is not None else unknown_length.add(sampled)
                        on_frame()
                    if wanted is not None and index >= max(wanted):
                        break
            except av.FFmpegError:
                pass  # a truncated or damaged tail: keep the frames decoded before it
            if wanted is None:
                frames = unknown_length.frames()
    except DeepfakeError:
        raise
    except (av.FFmpegError, OSError, ValueError) as error:
        # FFmpeg's own words, without its error number or the path it repeats ("[Errno 1094995529] Invalid
        # data found when processing input: '...'").
        reason = getattr(error, "strerror", None) or str(error)
        raise DeepfakeError(f"{path}: not a readable video ({reason[:1].lower() + reason[1:]})") from None
    if not frames:
        raise DeepfakeError(f"{path}: no decodable video frames (empty, truncated or an unsupported codec)")
    return frames
