"""Decoding an image file into an RGB PIL image, or one DeepfakeError that names the file and the reason."""
import base64
import errno
import io
import math
import os
import stat
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import DeepfakeError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"})

# Decompression-bomb guard: about 89 megapixels (PIL's own default) is far above any camera photo and stops
# a crafted 64k x 64k PNG from taking the machine's memory. The header is checked before any pixel is decoded;
# our own check keeps the guard even where an embedding application has switched PIL's off.
MAX_IMAGE_PIXELS = 89_478_485

# A JPEG that will be resized down may be decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling, through
# PIL's draft mode), which skips most of the decoding work, but always to at least this many times the
# shorter side it is resized to: the bicubic resize that follows then still does the anti-aliasing, as it does
# on a fully decoded image (weights/MODEL_CARD.md measures both).
DRAFT_OVERSAMPLING = 2


# Below this on the shorter side a picture is not judged: the model would see it enlarged many times over
# (its crops are 128-224 px), and its score would measure the enlargement, not the picture. A 1x1 PNG was
# called fake at 0.86.
MIN_JUDGED_SIDE = 32


def check_judgeable(image: Image.Image, path) -> Image.Image:
    """The image, if it is large enough to score; else one DeepfakeError naming the file and its size."""
    if min(image.size) < MIN_JUDGED_SIDE:
        raise DeepfakeError(f"{path}: {image.width}x{image.height} pixels is too small to judge (the shorter "
                            f"side must be at least {MIN_JUDGED_SIDE} px)")
    return image


def is_special_file(path: Path) -> bool:
    """A FIFO, socket or device: something that exists but is neither a regular file nor a folder."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def unreadable_reason(path: Path) -> str:
    """Why `path` is no file to open (missing, a broken link, a symlink loop, a FIFO or device, which would
    block or never end when read), or "" for a regular file or a folder."""
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "symlink loop (its links lead back to themselves and never reach a file)"
        if os.path.islink(path):
            return f"broken symlink (it points to {os.readlink(path)}, which does not exist)"
        if error.errno == errno.EACCES:
            return "permission denied"
        return "no such file or folder"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return ""
    return "not a regular file (a FIFO, socket or device); not read"


def load_rgb_image(path, shorter_side: int = 0) -> Image.Image:
    """Open, apply EXIF orientation, take the first frame of an animation, and convert to 8-bit RGB.

    shorter_side: the side the caller will resize the image's shorter side to (0: it keeps every pixel); a
    large JPEG is then decoded at a reduced scale that keeps DRAFT_OVERSAMPLING times that."""
    path = Path(path)
    problem = unreadable_reason(path)
    if problem:
        raise DeepfakeError(f"{path}: {'no such file' if problem.startswith('no such') else problem}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise DeepfakeError(f"{path}: {width}x{height} pixels is over the "
                                        f"{MAX_IMAGE_PIXELS:,}-pixel limit (decompression-bomb guard)")
                image.seek(0)
                if shorter_side and image.format == "JPEG":
                    _decode_at_reduced_scale(image, DRAFT_OVERSAMPLING * shorter_side)
                image = ImageOps.exif_transpose(image)
                return to_rgb(image)
    except DeepfakeError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise DeepfakeError(f"{path}: over the {MAX_IMAGE_PIXELS:,}-pixel limit (decompression-bomb guard)") from None
    except FileNotFoundError:
        reason = "broken symlink" if path.is_symlink() else "no such file"
        raise DeepfakeError(f"{path}: {reason}") from None
    except PermissionError:
        raise DeepfakeError(f"{path}: permission denied") from None
    except IsADirectoryError:
        raise DeepfakeError(f"{path}: is a folder, not an image") from None
    except UnidentifiedImageError:
        raise DeepfakeError(f"{path}: {why_unidentified(path)}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        # PIL reports truncated and corrupt data as OSError/SyntaxError/ValueError depending on the codec.
        raise DeepfakeError(f"{path}: {corrupt_reason(error)}") from None
    except Exception as error:  # noqa: BLE001 -- a crafted file is this file's error, never the run's
        # A damaged EXIF block makes exif_transpose raise struct.error or TypeError as it rewrites the tags;
        # a codec plug-in can raise other kinds. Whatever it is, it belongs to this file alone.
        raise DeepfakeError(f"{path}: corrupt image ({type(error).__name__}: {error})") from None


def corrupt_reason(error: Exception) -> str:
    """One phrase for PIL's complaint, saying "truncated" once: PIL's own wording is "image file is truncated
    (48 bytes not processed)"."""
    message = str(error)
    if "truncated" in message.lower():
        detail = message[message.find("(") + 1:message.rfind(")")] if "(" in message else ""
        return f"truncated image{f' ({detail})' if detail else ''}"
    return f"corrupt or truncated image ({message})"


def _decode_at_reduced_scale(image: Image.Image, shorter_side: int) -> None:
    scale = shorter_side / min(image.size)
    if scale <= 0.5:  # DCT scaling halves at the least
        # draft() picks the smallest scale whose result is at least this size in both directions.
        image.draft("RGB", (math.ceil(image.width * scale), math.ceil(image.height * scale)))


# File signatures, to tell a damaged image from a file that never was one.
_SIGNATURES = {b"\x89PNG": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF8": "GIF", b"BM": "BMP", b"RIFF": "WebP",
               b"II*\x00": "TIFF", b"MM\x00*": "TIFF"}


def looks_like_image(path: Path) -> bool:
    """Whether a file's first bytes are an image format's signature: for files named without an extension."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError:
        return False
    return any(head.startswith(signature) for signature in _SIGNATURES)


def why_unidentified(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(8)
    if not head:
        return "empty file"
    kind = next((name for signature, name in _SIGNATURES.items() if head.startswith(signature)), None)
    if kind:
        return f"corrupt or truncated image (starts like a {kind} file but does not decode)"
    return "not an image file (no known image format)"


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB from any PIL mode; transparency is composited on white, 16-bit is rescaled, not clipped."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.point(lambda value: value * (1 / 256)).convert("L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return background
    return image.convert("RGB")


def data_uri(image: Image.Image, max_side: int = 0, format_name: str = "PNG") -> str:
    """The image as a data: URI (the HTML report's pictures, the service's Grad-CAM overlays); max_side shrinks
    a copy first."""
    if max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    image.save(buffer, format_name, **({"quality": 85} if format_name == "JPEG" else {}))
    return f"data:image/{format_name.lower()};base64,{base64.b64encode(buffer.getvalue()).decode()}"
