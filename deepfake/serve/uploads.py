"""A multipart/form-data body streamed into a private folder, checked as it arrives.

Starlette's own form parser spools large parts to the system's temporary folder and reads the whole body
before the route sees it; this one writes file parts straight into the request's private folder (mkdtemp:
mode 0700) under names of its own (`part-0`, `part-1`, ...), counts the bytes as they come and stops at the
limit, so an oversized upload gets 413 without being read whole.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator, Dict, List, Optional

from python_multipart.multipart import MultipartParser, parse_options_header

from .sniff import SNIFF_BYTES, sniff_extension

MAX_FIELD_BYTES = 1024  # form fields are short options (faces, frames, aggregate, explain)
MAX_PARTS = 256
FILE_FIELDS = ("file", "files")


class UploadRejected(Exception):
    """The body cannot be taken: `status` (400, 413, 415) and a one-line reason."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    name: str  # the client's file name, shown back in results and never used as a path
    path: Path  # where its bytes are: inside the request's private folder, named by us
    size: int = 0
    head: bytes = b""

    @property
    def extension(self) -> Optional[str]:
        return sniff_extension(self.head)


@dataclass
class Form:
    fields: Dict[str, str] = field(default_factory=dict)
    files: List[Upload] = field(default_factory=list)


def display_name(client_name: Optional[str], index: int) -> str:
    """The client's name for a file, reduced to something safe to print: its last path component, printable
    characters only, at most 200 of them."""
    name = re.split(r"[\\/]", client_name or "")[-1]
    name = "".join(character for character in name if character.isprintable()).strip()
    return name[:200] or f"upload-{index}"


def too_large(limit_bytes: int) -> UploadRejected:
    return UploadRejected(413, f"the upload is over the service's {limit_bytes / 2**20:g} MB limit (--max-upload-mb)")


async def receive_form(content_type: str, content_length: Optional[str], chunks: AsyncIterator[bytes],
                       folder: Path, limit_bytes: int) -> Form:
    """Parse the body `chunks` (a request's stream) into fields and files written under `folder`."""
    kind, options = parse_options_header(content_type or "")
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise UploadRejected(415, "send the file as multipart/form-data, in a field named 'file' "
                                  "(curl -F file=@photo.jpg)")
    if content_length and content_length.isdigit() and int(content_length) > limit_bytes:
        raise too_large(limit_bytes)  # declared too large: refused before a byte of it is read
    form = Form()
    state = {"headers": {}, "field": b"", "name": "", "current": None, "handle": None, "header": [b"", b""]}

    def on_part_begin():
        state["headers"], state["field"], state["current"] = {}, b"", None

    def on_header_field(data, start, end):
        state["header"][0] += data[start:end]

    def on_header_value(data, start, end):
        state["header"][1] += data[start:end]

    def on_header_end():
        key, value = state["header"]
        state["headers"][key.strip().lower()] = value.strip()
        state["header"] = [b"", b""]

    def on_headers_finished():
        if len(form.files) + len(form.fields) >= MAX_PARTS:
            raise UploadRejected(400, f"more than {MAX_PARTS} parts in one request")
        _, disposition = parse_options_header(state["headers"].get(b"content-disposition", b""))
        state["name"] = disposition.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in disposition or state["name"] in FILE_FIELDS:
            index = len(form.files)
            client_name = disposition.get(b"filename", b"").decode("utf-8", "replace")
            upload = Upload(display_name(client_name, index), folder / f"part-{index}")
            state["current"], state["handle"] = upload, open(upload.path, "xb")
            form.files.append(upload)

    def on_part_data(data, start, end):
        chunk = data[start:end]
        upload = state["current"]
        if upload is None:
            state["field"] += chunk
            if len(state["field"]) > MAX_FIELD_BYTES:
                raise UploadRejected(400, f"form field {state['name']!r} is over {MAX_FIELD_BYTES} bytes")
            return
        if len(upload.head) < SNIFF_BYTES:
            upload.head += chunk[:SNIFF_BYTES - len(upload.head)]
        upload.size += len(chunk)
        state["handle"].write(chunk)

    def on_part_end():
        if state["current"] is None:
            form.fields[state["name"]] = state["field"].decode("utf-8", "replace")
        else:
            state["handle"].close()
            state["current"] = state["handle"] = None

    received = 0
    try:
        # Built inside the guard: python-multipart refuses some boundaries (over 256 characters) as it starts.
        parser = MultipartParser(options[b"boundary"], {
            "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
            "on_header_end": on_header_end, "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data, "on_part_end": on_part_end})
        async for chunk in chunks:
            received += len(chunk)
            if received > limit_bytes:
                raise too_large(limit_bytes)
            parser.write(chunk)
        parser.finalize()
    except UploadRejected:
        raise
    except Exception as error:  # python-multipart's parse errors carry no common base worth naming
        raise UploadRejected(400, f"malformed multipart body ({error})") from None
    finally:
        if state["handle"] is not None:
            state["handle"].close()
    return form
