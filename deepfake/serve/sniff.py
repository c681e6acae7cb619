"""What an upload is, from its first bytes: the client's file name and Content-Type are never trusted.

Each kind maps to the extension the rest of the toolkit dispatches on (images.IMAGE_EXTENSIONS,
video.VIDEO_EXTENSIONS), so a sniffed file is saved under a name of our own choosing with that extension.
"""
from typing import Optional

SNIFF_BYTES = 16


def sniff_extension(head: bytes) -> Optional[str]:
    """'.jpg', '.png', ..., '.mp4', ... for a file starting with `head`; None for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return ".gif"
    if head.startswith(b"BM"):
        return ".bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return ".tif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return ".webp"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return ".avi"
    if head[4:8] == b"ftyp":  # ISO base media: QuickTime says so in its brand, the rest is MP4 to PyAV
        return ".mov" if head[8:12] == b"qt  " else ".mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska and WebM
        return ".mkv"
    if head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3"):  # MPEG program stream, MPEG-1/2 video
        return ".mpg"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):  # ASF (WMV)
        return ".wmv"
    return None
