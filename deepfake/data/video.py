"""Video decoding with PyAV: N frames sampled uniformly, with their timestamps.

Frames are decoded in one forward pass and kept only at the sampled indices, so memory holds N frames
whatever the video's length. A truncated file yields the frames before the damage; a file with no
decodable frame is one DeepfakeError.
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List

import numpy as np
from PIL import Image

from ..errors import DeepfakeError
from ..extras import needs

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
            total = _frame_count(container, stream)
            wanted = set(np.linspace(0, total - 1, n_frames).round().astype(int).tolist()) if total else None
            frames = []
            try:
                for index, frame in enumerate(container.decode(stream)):
                    if wanted is None or index in wanted:
                        frames.append(VideoFrame(index, float(frame.time or 0.0), frame.to_image().convert("RGB")))
                        on_frame()
                    if wanted is not None and index >= max(wanted):
                        break
            except av.FFmpegError:
                pass  # a truncated or damaged tail: keep the frames decoded before it
    except DeepfakeError:
        raise
    except (av.FFmpegError, OSError, ValueError) as error:
        # FFmpeg's own words, without its error number or the path it repeats ("[Errno 1094995529] Invalid
        # data found when processing input: '...'").
        reason = getattr(error, "strerror", None) or str(error)
        raise DeepfakeError(f"{path}: not a readable video ({reason[:1].lower() + reason[1:]})") from None
    if not frames:
        raise DeepfakeError(f"{path}: no decodable video frames (empty, truncated or an unsupported codec)")
    if wanted is None and len(frames) > n_frames:  # length unknown up front: subsample what was decoded
        keep = np.linspace(0, len(frames) - 1, n_frames).round().astype(int)
        frames = [frames[i] for i in sorted(set(keep.tolist()))]
    return frames
