"""The XMP packet: IPTC's DigitalSourceType (which generators and editors write without C2PA) and the tool
fields (xmp:CreatorTool, tiff:Software) when they name a generator.

The packet is found by its markers in the raw bytes, which covers JPEG (APP1), PNG (iTXt), WebP, TIFF and GIF
alike, and parsed only within a size bound and without a DTD (no entity expansion)."""
import xml.etree.ElementTree as ElementTree
from typing import List, Optional, Tuple

from .evidence import Evidence, note
from .vocabulary import digital_source_type, named_generator

MAX_XMP_BYTES = 1 << 20  # real packets are kilobytes (Photoshop pads to 2-4 KB)
PACKET_MARKERS = ((b"<x:xmpmeta", b"</x:xmpmeta>"), (b"<rdf:RDF", b"</rdf:RDF>"))
RDF_RESOURCE = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}resource"
TOOL_FIELDS = ("CreatorTool", "Software")
# Real packets nest a dozen levels deep (x:xmpmeta, rdf:RDF, rdf:Description, a property, rdf:Alt, rdf:li). A
# crafted one nests thousands, and reading each wanted element's text below it would then cost quadratic time.
MAX_DEPTH = 64


class XmpLimit(Exception):
    pass


def find_packet(data: bytes) -> Optional[bytes]:
    for start_marker, end_marker in PACKET_MARKERS:
        start = data.find(start_marker)
        if start < 0:
            continue
        end = data.find(end_marker, start, start + MAX_XMP_BYTES + len(end_marker))
        if end < 0:
            if data.find(end_marker, start) >= 0:
                raise XmpLimit(f"XMP packet over {MAX_XMP_BYTES >> 20} MB; not read")
            raise XmpLimit("XMP packet has no end; not read")
        return data[start:end + len(end_marker)]
    return None


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def parse_bounded(packet: bytes) -> ElementTree.Element:
    """The packet's root element; XmpLimit past MAX_DEPTH levels, checked as the parser goes."""
    parser = ElementTree.XMLPullParser(events=("start", "end"))
    parser.feed(packet)
    root, depth = None, 0
    for event, element in parser.read_events():
        if event == "start":
            root = element if root is None else root
            depth += 1
            if depth > MAX_DEPTH:
                raise XmpLimit(f"XMP packet nests over {MAX_DEPTH} levels; not read")
        else:
            depth -= 1
    parser.close()
    return root


def packet_fields(packet: bytes) -> List[Tuple[str, str]]:
    """(local name, value) of every element and attribute whose local name we read."""
    if b"<!DOCTYPE" in packet or b"<!ENTITY" in packet:
        raise XmpLimit("XMP packet declares a DTD or entities; not read")
    root = parse_bounded(packet)
    fields = []
    wanted = ("DigitalSourceType",) + TOOL_FIELDS
    for element in root.iter():
        name = _local(element.tag)
        if name in wanted:
            value = element.get(RDF_RESOURCE) or "".join(element.itertext())
            fields.append((name, value.strip()))
        fields += [(_local(key), value.strip()) for key, value in element.attrib.items() if _local(key) in wanted]
    return fields


def read_xmp(data: bytes) -> List[Evidence]:
    try:
        packet = find_packet(data)
        if packet is None:
            return []
        fields = packet_fields(packet)
    except XmpLimit as limit:
        return [note("xmp", str(limit))]
    except ElementTree.ParseError as error:
        return [note("xmp", f"XMP packet is not well-formed XML ({error}); not read")]
    found = []
    for name, value in fields:
        if name == "DigitalSourceType" and value:
            says, type_name = digital_source_type(value)
            found.append(Evidence("xmp", says, f"XMP Iptc4xmpExt:DigitalSourceType = {type_name} (unsigned: anyone "
                                               f"can write it)", verified=False))
        elif name in TOOL_FIELDS and (generator := named_generator(value)):
            found.append(Evidence("xmp", "ai_generated", f"XMP {name} names {generator}: {value}", verified=False))
    return found
