"""Build the training corpus from the manifest: the selected files of each repository at its recorded commit,
checked, cut into tiles where they are grids, de-duplicated, and laid out so that the existing source-grouped
split and the leave-one-generator-out protocol both work:

    OUT/sources/<source>/{real,fake}/[<group>/]<file>   what trains (each a root for train.py --data)
    OUT/sources/<shared set> -> ../shared/datasets/...   the shared sets, linked as they are
    OUT/pool/real/<source>/[<group>/]<file>              the fixed pool of real photos no run trains on
    OUT/CORPUS.md, OUT/dropped.csv                       the corpus card, and every file left out and why

A ledger (OUT/.build/ledger.jsonl) records each file's outcome as it is decided, so an interrupted build
resumes where it stopped and takes the same decisions: files are visited in one fixed order, and duplicates
are judged against what was kept before them.
"""
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..errors import DeepfakeError
from .manifest import Manifest, Source
from .git_snapshot import ABSENT, Blob, BlobReader, list_blobs
from ..data.images import IMAGE_EXTENSIONS, load_rgb_image

LEDGER = Path(".build") / "ledger.jsonl"
SOURCES_FOLDER, POOL_FOLDER = "sources", "pool"


@dataclass(frozen=True)
class BuildLimits:
    # Below this on the shorter side there is too little to crop at native resolution (the models see 224 px).
    min_side: int = 128
    # Larger files are not camera photos or generator outputs but scans and panoramas; fetch's snapshots
    # leave out files of 4 MiB and more anyway.
    max_bytes: int = 16 * 2 ** 20
    # Two images whose 512-bit difference hashes differ in at most this many bits are one picture, re-encoded
    # or resized: across sources, the later one is dropped. A 64-bit hash at 4 bits joined a FLUX portrait
    # and a FLUX painting that merely shared a dark, centred layout; at 512 bits re-encoding and resizing
    # move a photo's hash by a few percent, unrelated pictures by about half.
    near_duplicate_bits: int = 32


@dataclass
class SourceReport:
    selected: int = 0
    kept: int = 0  # images in OUT/sources (tiles count one each)
    pooled: int = 0  # images in OUT/pool
    dropped: Dict[str, int] = field(default_factory=dict)  # reason kind -> count
    missing: str = ""  # why the source could not be read at all


HASH_SIDE = 16  # difference_hash: a 16x16 grid of neighbour comparisons each way, 512 bits
HASH_WORDS = 2 * HASH_SIDE * HASH_SIDE // 64


@dataclass
class _Seen:
    """What was kept so far, for the duplicate checks: exact (SHA-256 of the written bytes) and near
    (difference hashes, compared only with other sources')."""
    sha_to_file: Dict[str, str] = field(default_factory=dict)
    hashes: np.ndarray = field(default_factory=lambda: np.zeros((0, HASH_WORDS), dtype=np.uint64))
    source_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))  # beside each hash
    source_index: Dict[str, int] = field(default_factory=dict)
    hash_files: List[str] = field(default_factory=list)

    def add(self, file: str, sha: str, dhash: np.ndarray, source: str) -> None:
        self.sha_to_file.setdefault(sha, file)
        n = len(self.hash_files)
        if n == len(self.hashes):  # grow by doubling: one copy per doubling, not per image
            grow = max(64, n)
            self.hashes = np.concatenate([self.hashes, np.zeros((grow, HASH_WORDS), dtype=np.uint64)])
            self.source_ids = np.concatenate([self.source_ids, np.zeros(grow, dtype=np.int32)])
        self.hashes[n] = dhash
        self.source_ids[n] = self.source_index.setdefault(source, len(self.source_index))
        self.hash_files.append(file)

    def near_duplicate(self, dhash: np.ndarray, source: str, max_bits: int) -> Optional[Tuple[str, int]]:
        n = len(self.hash_files)
        if not n:
            return None
        distances = np.bitwise_count(self.hashes[:n] ^ dhash).sum(axis=1)
        other = self.source_ids[:n] != self.source_index.get(source, -1)
        close = np.flatnonzero(other & (distances <= max_bits))
        if not len(close):
            return None
        nearest = close[np.argmin(distances[close])]
        return self.hash_files[nearest], int(distances[nearest])


def difference_hash(image: Image.Image) -> np.ndarray:
    """dHash, both ways: a grey thumbnail, one bit per neighbour pair (is the next one brighter), across the
    rows and down the columns; HASH_WORDS 64-bit words."""
    grey = image.convert("L")
    across = np.asarray(grey.resize((HASH_SIDE + 1, HASH_SIDE), Image.BOX), dtype=np.int16)
    down = np.asarray(grey.resize((HASH_SIDE, HASH_SIDE + 1), Image.BOX), dtype=np.int16)
    bits = np.concatenate([(across[:, 1:] > across[:, :-1]).ravel(), (down[1:] > down[:-1]).ravel()])
    return np.packbits(bits).view(">u8").astype(np.uint64)


def hash_text(dhash: np.ndarray) -> str:
    return "".join(f"{word:016x}" for word in dhash.tolist())


def hash_from_text(text: str) -> np.ndarray:
    return np.array([int(text[i:i + 16], 16) for i in range(0, len(text), 16)], dtype=np.uint64)


def safe_name(text: str) -> str:
    """A repository path or name as one file-system-safe component."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text.replace("/", "__")).strip("._") or "unnamed"
    return cleaned[:150]


def group_of(source: Source, blob_path: str) -> str:
    """The sub-folder that keeps related files on one side of a split ("" = the file is its own group)."""
    parent, _, name = blob_path.rpartition("/")
    stem = name.rsplit(".", 1)[0]
    if source.grouping == "folder":
        return safe_name(parent or "top")
    if source.grouping == "grid":
        return safe_name(stem)
    if source.grouping == "pattern":
        match = re.search(source.group_pattern, blob_path)
        return safe_name(match.group(1) if match else stem)
    return ""


def in_pool(source: Source, group: str, blob_path: str, fraction: float) -> bool:
    """Whether a real file belongs to the held-out pool: a hash of its group (or path), so the choice is
    fixed by the manifest alone and a group never straddles the pool and training."""
    if source.label != "real" or fraction <= 0:
        return False
    key = f"{source.name}\t{group or blob_path}".encode()
    return int(hashlib.sha256(key).hexdigest()[:8], 16) / 2 ** 32 < fraction


def selected_blobs(source: Source, blobs: List[Blob]) -> List[Blob]:
    chosen = [blob for blob in blobs if source.selects(blob.path)
              and Path(blob.path).suffix.lower() in IMAGE_EXTENSIONS]
    if source.cap and len(chosen) > source.cap:
        # A hash of the path, not the first N by name: a cap then samples every sub-folder (every class of
        # a one-subject set) and does not change when files are added elsewhere.
        chosen = sorted(chosen, key=lambda blob: hashlib.sha256(blob.path.encode()).hexdigest())[:source.cap]
        chosen.sort(key=lambda blob: blob.path)
    return chosen


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, path)


def _decoded(data: bytes, scratch: Path) -> Image.Image:
    """The file's pixels through the same decoder and guards as training's (load_rgb_image)."""
    _atomic_write(scratch, data)
    try:
        return load_rgb_image(scratch)
    except DeepfakeError as error:
        raise DeepfakeError(str(error).split(": ", 1)[-1]) from None
    finally:
        scratch.unlink(missing_ok=True)


def _tiles(image: Image.Image, tile: int) -> List[Tuple[str, Image.Image]]:
    columns, rows = image.width // tile, image.height // tile
    if image.width % tile or image.height % tile or columns * rows < 2:
        raise DeepfakeError(f"{image.width}x{image.height} is not a grid of {tile}-px tiles")
    return [(f"r{row}c{column}", image.crop((column * tile, row * tile, (column + 1) * tile, (row + 1) * tile)))
            for row in range(rows) for column in range(columns)]


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    # Lossless: a tile keeps the generator's pixels exactly. Level 1: a quarter of level 6's time on a
    # 512-px tile (27 ms against 103), for files 13% larger.
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class CorpusBuilder:
    def __init__(self, manifest: Manifest, out_dir: Path, limits: BuildLimits = BuildLimits(),
                 show_progress: bool = True, log: Callable[[str], None] = print):
        self.manifest, self.out_dir, self.limits = manifest, Path(out_dir), limits
        self.show_progress, self.log = show_progress, log
        self.seen = _Seen()
        self.ledger: Dict[str, dict] = {}
        self.drops: List[Dict[str, str]] = []

    # ------------------------------------------------------------------ the ledger
    def _ledger_path(self) -> Path:
        return self.out_dir / LEDGER

    def _read_ledger(self) -> None:
        path = self._ledger_path()
        if not path.exists():
            return
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by an interruption: that file is decided again
            self.ledger[record["key"]] = record

    def _append(self, record: dict) -> None:
        path = self._ledger_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    # ------------------------------------------------------------------ building
    def build(self, locate: Callable[[Source], Path], shared_root: Optional[Path]) -> Dict[str, SourceReport]:
        """Every source in manifest order (then the shared sets linked); returns a report per name."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._read_ledger()
        reports: Dict[str, SourceReport] = {}
        for source in self.manifest.sources:
            try:
                git_dir = locate(source)
            except DeepfakeError as error:
                reports[source.name] = SourceReport(missing=str(error))
                self.log(f"skipped: {source.name}: {error}")
                continue
            reports[source.name] = self._build_source(source, git_dir)
        for shared in self.manifest.shared:
            reports[shared.name] = self._link_shared(shared, shared_root)
        return reports

    def _build_source(self, source: Source, git_dir: Path) -> SourceReport:
        report = SourceReport()
        blobs = selected_blobs(source, list_blobs(git_dir, source.commit))
        report.selected = len(blobs)
        scratch = self.out_dir / ".build" / "decoding"
        with BlobReader(git_dir) as reader:
            for blob in tqdm(blobs, desc=source.name, unit="file", leave=False, disable=not self.show_progress):
                key = f"{source.name}\t{blob.path}\t{blob.oid}"
                record = self.ledger.get(key)
                if record is None or not all((self.out_dir / item["file"]).exists() for item in record["kept"]):
                    record = self._decide(source, blob, reader, scratch, key)
                    self._append(record)
                for item in record["kept"]:
                    self.seen.add(item["file"], item["sha256"], hash_from_text(item["dhash"]), source.name)
                    if item["file"].startswith(POOL_FOLDER + "/"):
                        report.pooled += 1
                    else:
                        report.kept += 1
                for drop in record["dropped"]:
                    kind = drop["reason"].split(" (")[0].split(" of ")[0]
                    report.dropped[kind] = report.dropped.get(kind, 0) + 1
                    self.drops.append({"source": source.name, "path": drop["item"], "reason": drop["reason"]})
        total = report.kept + report.pooled
        self.log(f"{source.name}: {report.selected} files -> {total} images ({report.pooled} in the real pool), "
                 f"{sum(report.dropped.values())} dropped")
        return report

    def _decide(self, source: Source, blob: Blob, reader: BlobReader, scratch: Path, key: str) -> dict:
        """Read, check, cut and de-duplicate one repository file; the ledger record of what became of it."""
        record = {"key": key, "kept": [], "dropped": []}

        def drop(item: str, reason: str) -> dict:
            record["dropped"].append({"item": item, "reason": reason})
            self.log(f"dropped: {source.repo}:{item}: {reason}")
            return record

        absent = "absent from the snapshot (files of 4 MiB and more are left out)"
        if blob.size == ABSENT:
            return drop(blob.path, absent)
        if blob.size > self.limits.max_bytes:
            return drop(blob.path, f"over the size cap ({blob.size / 2 ** 20:.2f} MiB > "
                                   f"{self.limits.max_bytes / 2 ** 20:.2f} MiB)")
        data = reader.read(blob.oid)
        if data is None:
            return drop(blob.path, absent)
        try:
            image = _decoded(data, scratch.with_suffix(Path(blob.path).suffix.lower()))
        except DeepfakeError as error:
            return drop(blob.path, f"unreadable ({error})")
        try:
            pieces = _tiles(image, source.tile) if source.processing == "grid" else [("", image)]
        except DeepfakeError as error:
            return drop(blob.path, f"not a grid ({error})")
        group = group_of(source, blob.path)
        pooled = in_pool(source, group, blob.path, self.manifest.pool_fraction)
        folder = (Path(POOL_FOLDER) / "real" / source.name if pooled
                  else Path(SOURCES_FOLDER) / source.name / source.label)
        if group:
            folder = folder / group
        stem = safe_name(blob.path.rsplit(".", 1)[0])
        written: Dict[str, str] = {}  # this file's own tiles so far; the caller adds them to self.seen
        for tile_name, piece in pieces:
            item = f"{blob.path}#{tile_name}" if tile_name else blob.path
            if min(piece.size) < self.limits.min_side:
                drop(item, f"tiny ({piece.width}x{piece.height}, under {self.limits.min_side} px)")
                continue
            # A whole file is kept byte for byte (its format and metadata are part of what the shortcut
            # check measures); a tile is new, and lossless.
            payload = _png_bytes(piece) if tile_name else data
            extension = ".png" if tile_name else Path(blob.path).suffix.lower()
            file = (folder / (f"{stem}_{tile_name}" if tile_name else stem)).as_posix() + extension
            sha = hashlib.sha256(payload).hexdigest()
            earlier = self.seen.sha_to_file.get(sha) or written.get(sha)
            if earlier:
                drop(item, f"exact duplicate of {earlier}")
                continue
            dhash = difference_hash(piece)
            near = self.seen.near_duplicate(dhash, source.name, self.limits.near_duplicate_bits)
            if near:
                drop(item, f"near-duplicate of {near[0]} ({near[1]} of {64 * HASH_WORDS} hash bits differ)")
                continue
            _atomic_write(self.out_dir / file, payload)
            written[sha] = file
            record["kept"].append({"file": file, "sha256": sha, "dhash": hash_text(dhash),
                                   "width": piece.width, "height": piece.height})
        return record

    def _link_shared(self, shared, shared_root: Optional[Path]) -> SourceReport:
        link = self.out_dir / SOURCES_FOLDER / shared.name
        target = (shared_root / shared.folder).resolve() if shared_root else None
        if target is None or not target.is_dir():
            why = f"{target or shared.folder}: no such folder (pass --shared DIR)"
            self.log(f"skipped: {shared.name}: {why}")
            return SourceReport(missing=why)
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() and Path(os.readlink(link)) != target:
            link.unlink()
        if not link.exists():
            link.symlink_to(target, target_is_directory=True)
        report = SourceReport()
        report.kept = sum(1 for path in target.rglob("*") if path.suffix.lower() in IMAGE_EXTENSIONS)
        report.selected = report.kept
        self.log(f"{shared.name}: linked {target} ({report.kept} images)")
        return report
