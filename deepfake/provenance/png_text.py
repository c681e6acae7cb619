"""PNG text chunks (tEXt, zTXt, iTXt): where AUTOMATIC1111, ComfyUI, InvokeAI and NovelAI write how a picture
was generated. Walked by hand, header by header, so a crafted file costs bounded time and memory."""
import json
import struct
import zlib
from typing import Iterator, List, Tuple

from .evidence import Evidence, note
from .vocabulary import a1111_settings, named_generator

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_CHUNKS = 4096           # a real PNG has tens; thousands of chunks is a crafted file
MAX_TEXT_BYTES = 1 << 20    # per text, after decompression: a ComfyUI workflow is tens of kilobytes
XMP_KEYWORD = b"XML:com.adobe.xmp\0"  # the XMP packet, stored uncompressed as the XMP spec asks: the xmp reader's

# Keys generators write, and what they are. Any other key counts only if its text names a generator.
GENERATION_KEYS = {
    "parameters": "AUTOMATIC1111-style generation settings",
    "prompt": "ComfyUI prompt graph",
    "workflow": "ComfyUI workflow",
    "invokeai_metadata": "InvokeAI generation metadata",
    "invokeai_graph": "InvokeAI graph",
    "sd-metadata": "InvokeAI generation metadata",
    "dream": "InvokeAI (dream) command",
    "generation_data": "generation settings",
}
DESCRIPTIVE_KEYS = ("software", "comment", "description", "source", "title", "author", "disclaimer")


class PngLimit(Exception):
    pass


def chunks(data: bytes) -> Iterator[Tuple[bytes, bytes]]:
    """(type, body) of each chunk, in file order; raises PngLimit at the bound. Only headers are parsed: pixel
    data is sliced past by its length field."""
    position = len(PNG_SIGNATURE)
    for _ in range(MAX_CHUNKS):
        if position + 8 > len(data):
            return  # truncated: the image loader reports that; here, no more chunks
        length, chunk_type = struct.unpack(">I4s", data[position:position + 8])
        if chunk_type == b"IEND":
            return
        yield chunk_type, data[position + 8:position + 8 + length]
        position += 12 + length  # length, type, data, CRC
    raise PngLimit(f"over {MAX_CHUNKS} chunks; stopped reading there")


def text_chunks(data: bytes) -> Iterator[Tuple[str, str]]:
    """(keyword, text) of each text chunk but the XMP packet's, in file order."""
    for chunk_type, body in chunks(data):
        if chunk_type in (b"tEXt", b"zTXt", b"iTXt") and not body.startswith(XMP_KEYWORD):
            parsed = _parse_text_chunk(chunk_type, body)
            if parsed:
                yield parsed


def exif_chunk(data: bytes) -> bytes:
    """The eXIf chunk's TIFF-structured bytes, or b"". PIL finds one after the pixel data only by decoding the
    whole image first; this walk does not."""
    try:
        return next((body for chunk_type, body in chunks(data) if chunk_type == b"eXIf"), b"")
    except PngLimit:
        return b""  # the png_text reader reports the bound


def _parse_text_chunk(chunk_type: bytes, body: bytes):
    keyword, _, rest = body.partition(b"\0")
    if chunk_type == b"tEXt":
        raw, compressed = rest, False
    elif chunk_type == b"zTXt":
        raw, compressed = rest[1:], True  # compression method byte, then zlib data
    else:  # iTXt: flag, method, language\0, translated keyword\0, text
        if len(rest) < 2:
            return None
        compressed = rest[0] == 1
        _, _, after_language = rest[2:].partition(b"\0")
        _, _, raw = after_language.partition(b"\0")
    if compressed:
        decompressor = zlib.decompressobj()
        try:
            raw = decompressor.decompress(raw, MAX_TEXT_BYTES + 1)
        except zlib.error:
            return keyword.decode("latin-1"), ""
    if len(raw) > MAX_TEXT_BYTES:
        raise PngLimit(f"text chunk {keyword.decode('latin-1')!r} is over {MAX_TEXT_BYTES >> 20} MB; not read")
    encoding = "utf-8" if chunk_type == b"iTXt" else "latin-1"
    return keyword.decode("latin-1"), raw.decode(encoding, errors="replace")


def _comfyui_models(text: str) -> List[str]:
    """Checkpoint names in a ComfyUI prompt graph, to say which model made the picture."""
    try:
        graph = json.loads(text)
    except (ValueError, RecursionError):
        return []
    nodes = graph.values() if isinstance(graph, dict) else []
    return sorted({str(node["inputs"]["ckpt_name"]) for node in nodes if isinstance(node, dict)
                   and isinstance(node.get("inputs"), dict) and "ckpt_name" in node["inputs"]})


def read_png_text(data: bytes) -> List[Evidence]:
    if not data.startswith(PNG_SIGNATURE):
        return []
    found = []
    try:
        for keyword, text in text_chunks(data):
            key = keyword.strip().lower()
            if key in GENERATION_KEYS:
                what = GENERATION_KEYS[key]
                if key == "parameters":
                    settings = a1111_settings(text)
                    if not settings:
                        continue  # some other program's "parameters"
                    what += f": {settings}"
                elif key == "prompt":
                    models = _comfyui_models(text)
                    what += f", checkpoint {', '.join(models)}" if models else ""
                found.append(Evidence("png_text", "ai_generated", f"PNG text {keyword!r}: {what}", verified=False))
            elif key in DESCRIPTIVE_KEYS and (generator := named_generator(text)):
                found.append(Evidence("png_text", "ai_generated", f"PNG text {keyword!r} names {generator}: {text}",
                                      verified=False))
    except PngLimit as limit:
        found.append(note("png_text", f"PNG {limit}"))
    return found
