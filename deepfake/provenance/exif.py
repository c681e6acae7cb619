"""EXIF: the Software / ImageDescription / UserComment fields when they name a generator (AUTOMATIC1111 writes
its settings into a JPEG's UserComment), and camera traces (Make, Model, capture fields), which are weak: any
editor rewrites them, so they are reported and never decide."""
import io
import warnings
from typing import Dict, List, Tuple

from PIL import Image

from .evidence import Evidence, note
from .png_text import exif_chunk
from .vocabulary import a1111_settings, named_generator

SOFTWARE, IMAGE_DESCRIPTION, MAKE, MODEL = 0x0131, 0x010E, 0x010F, 0x0110
EXIF_IFD = 0x8769
USER_COMMENT = 0x9286
CAPTURE_FIELDS = {0x829A: "exposure time", 0x829D: "f-number", 0x8827: "ISO", 0x9003: "date taken",
                  0x920A: "focal length"}
TEXT_FIELDS = {SOFTWARE: "Software", IMAGE_DESCRIPTION: "ImageDescription", USER_COMMENT: "UserComment"}


def _text(value) -> str:
    if isinstance(value, bytes):
        # UserComment starts with an 8-byte character code ("ASCII\0\0\0", "UNICODE\0" as UTF-16).
        code, body = value[:8], value[8:]
        if code.startswith(b"UNICODE"):
            encoding = "utf-16-be" if body[:1] == b"\0" else "utf-16-le"
            return body.decode(encoding, errors="replace").strip("\0 ")
        return (body if code.rstrip(b"\0").isalpha() else value).decode("utf-8", errors="replace").strip("\0 ")
    return str(value).strip("\0 ")


def open_with_exif(data: bytes) -> Tuple[Image.Image, Dict[int, object], List[str]]:
    """The file opened (header only), its EXIF fields (the main and the Exif IFD's) read without decoding its
    pixels, and PIL's complaints about a damaged block. Opening is inside the watch too: PIL parses a JPEG's
    EXIF as it opens it, for the resolution."""
    with warnings.catch_warnings(record=True) as complaints:  # PIL warns, per file, on a damaged EXIF block
        warnings.simplefilter("always")
        image = Image.open(io.BytesIO(data))
        if image.format == "PNG":
            exif = Image.Exif()
            exif.load(exif_chunk(data))  # image.getexif() would decode the whole PNG to look past its pixels
        else:
            exif = image.getexif()
        fields = dict(exif)
        if exif:
            fields.update(exif.get_ifd(EXIF_IFD))
    return image, fields, [str(complaint.message) for complaint in complaints]


def read_exif(fields: Dict[int, object], complaints: List[str] = ()) -> List[Evidence]:
    found = [note("exif", f"EXIF block is damaged ({complaints[0]}); read what parsed")] if complaints else []
    for tag, name in TEXT_FIELDS.items():
        if tag not in fields:
            continue
        text = _text(fields[tag])
        settings = a1111_settings(text)
        generator = named_generator(text)
        if settings:
            found.append(Evidence("exif", "ai_generated", f"EXIF {name} holds AUTOMATIC1111-style generation "
                                                          f"settings: {settings}", verified=False))
        elif generator:
            found.append(Evidence("exif", "ai_generated", f"EXIF {name} names {generator}: {text}", verified=False))
    camera = " ".join(_text(fields[tag]) for tag in (MAKE, MODEL) if tag in fields and _text(fields[tag]))
    if camera:
        captured = ", ".join(label for tag, label in CAPTURE_FIELDS.items() if tag in fields)
        found.append(Evidence("exif", "camera", f"EXIF names a camera: {camera}"
                                                f"{f' (capture fields: {captured})' if captured else ''}; weak: any "
                                                f"editor can write it", verified=False, decisive=False))
    return found
