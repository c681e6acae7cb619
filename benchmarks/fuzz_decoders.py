"""Mutate images and videos by the thousand and feed each to the decoders and the provenance readers: any
exception that is not the project's one-line DeepfakeError is a finding, printed with the file that raised it.

    python benchmarks/fuzz_decoders.py [--mutations 20000] [--videos 300] [--out runs/fuzz]

Originals: a JPEG with an EXIF block (orientation, Software, capture fields), a PNG with generation text and
an XMP packet, a GIF, a WebP, a TIFF and a short MP4. Each mutation flips, inserts, deletes or overwrites a few
bytes (more often inside the metadata, where parsers are hand-written), or truncates the file. Seeded: the
same run finds the same files. Findings are written to --out so they can be replayed.
"""
import argparse
import io
import random
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

ROOT = Path(__file__).resolve().parents[1]

from deepfake.data.images import load_rgb_image  # noqa: E402
from deepfake.errors import DeepfakeError  # noqa: E402
from deepfake.provenance import read_evidence  # noqa: E402
from deepfake.samples import write_synthetic_clip  # noqa: E402

XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="Midjourney"/></rdf:RDF>'
       b'</x:xmpmeta>')


def originals() -> dict:
    rng = np.random.default_rng(0)
    picture = Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8))
    made = {}
    exif = Image.Exif()
    exif[0x0112], exif[0x0131], exif[0x010F] = 6, "Stable Diffusion", "Canon"
    exif[0x8769] = {0x9003: "2024:01:01 10:00:00", 0x829A: (1, 100)}
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", exif=exif.tobytes(), quality=90)
    made["jpg"] = buffer.getvalue()
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1", zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    for format_name, options in (("png", {"pnginfo": info}), ("gif", {}), ("webp", {"lossless": True}),
                                 ("tiff", {})):
        buffer = io.BytesIO()
        picture.save(buffer, format_name.upper(), **options)
        made[format_name] = buffer.getvalue()
    return made


def video_original(folder: Path) -> bytes:
    return write_synthetic_clip(folder / "original.mp4", n_frames=10, rate=10, step=20).read_bytes()


def metadata_region(data: bytes) -> tuple:
    """Where the metadata lies (the EXIF block, the PNG text and XMP chunks), else the first kilobytes."""
    for marker, length in ((b"Exif\0\0", 128), (b"zTXt", 512), (b"<x:xmpmeta", len(XMP))):
        start = data.find(marker)
        if start >= 0:
            return start, min(len(data), start + length)
    return 0, min(len(data), 2048)


def mutate(data: bytes, rng: random.Random) -> bytes:
    region = metadata_region(data)
    data = bytearray(data)
    if rng.random() < 0.1:
        return bytes(data[:rng.randrange(1, len(data))])  # truncated
    # Most edits land in the metadata, where the parsers are hand-written or rewrite what they read.
    start, end = region if rng.random() < 0.7 else (0, len(data))
    for _ in range(rng.randint(1, 3)):
        position = rng.randrange(start, end)
        kind = rng.random()
        if kind < 0.5:
            data[position] = rng.randrange(256)
        elif kind < 0.7:
            data[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif kind < 0.85:
            del data[position:position + rng.randint(1, 16)]
        else:  # a large length field: the classic way to make a parser over-allocate
            data[position:position + 4] = rng.choice((b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x00"))
    return bytes(data)


def attempt(path: Path, is_video: bool) -> str:
    """'' when the file decoded or failed with DeepfakeError; else the exception's kind."""
    try:
        if is_video:
            from deepfake.data.video import sample_frames
            sample_frames(path, n_frames=4)
        else:
            read_evidence(path)  # never raises: it reports a reader's failure as a note
            load_rgb_image(path)
    except DeepfakeError:
        return ""
    except Exception as error:  # noqa: BLE001 -- what we are looking for
        return f"{type(error).__name__}: {str(error)[:120]}\n{traceback.format_exc(limit=3)}"
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutations", type=int, default=20000, help="mutated images (default %(default)s)")
    parser.add_argument("--videos", type=int, default=300, help="mutated videos (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/fuzz")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # PIL warns on every damaged EXIF block: thousands of lines, no finding
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    sources = originals()
    jobs = [(name, data, False) for name, data in sources.items()]
    if args.videos:
        jobs.append(("mp4", video_original(out), True))
    findings, outcomes, slowest = [], Counter(), (0.0, "")
    start = time.perf_counter()
    for index in range(args.mutations + args.videos):
        is_video = index >= args.mutations
        name, data, _ = jobs[-1] if is_video else jobs[index % (len(jobs) - bool(args.videos))]
        path = out / f"case.{name}"
        path.write_bytes(mutate(data, rng))
        began = time.perf_counter()
        problem = attempt(path, is_video)
        took = time.perf_counter() - began
        slowest = max(slowest, (took, f"mutation {index} of the {name}"))
        outcomes["video" if is_video else "image"] += 1
        if problem:
            kept = out / f"finding-{index}.{name}"
            path.rename(kept)
            findings.append((kept, problem))
            print(f"{kept}: {problem}")
    elapsed = time.perf_counter() - start
    print(f"{outcomes['image']} mutated images and {outcomes['video']} mutated videos in {elapsed:.1f} s; "
          f"slowest case {slowest[0]:.2f} s ({slowest[1]}); findings (exceptions other than DeepfakeError): "
          f"{len(findings)}")


if __name__ == "__main__":
    main()
