"""The corpus manifest (data/sources.toml): which files of which public repositories, at which commit, are real
or fake, made by what, under which licence, and how each is cut. It is the single source of truth: the builder
reads it, and the corpus card (and the model card's data table) are written from it.
"""
import re
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from ..errors import DeepfakeError

# In a clone of the project; an installed wheel has none (load_manifest says so and names --manifest).
DEFAULT_MANIFEST = Path(__file__).resolve().parents[2] / "data" / "sources.toml"

# How a source's files become corpus images: copied whole, or cut into the square tiles of a grid.
PROCESSING = ("whole", "grid")
# What stays on one side of a train/validation split (data.datasets.split_train_val groups by sub-folder):
# every file alone, the files of one repository folder together (one camera), the tiles of one grid
# together (one prompt), or the files whose names share what `group_pattern` captures.
GROUPING = ("file", "folder", "grid", "pattern")
CLASSES = ("real", "fake")


@dataclass(frozen=True)
class Source:
    """One repository's contribution: its files matching `include` (and not `exclude`) at `commit`."""
    name: str  # the corpus folder: OUT/sources/<name>/
    repo: str  # owner/name on GitHub
    commit: str
    include: Tuple[str, ...]
    label: str  # "real" or "fake"
    family: str  # generator family (fakes: the leave-one-generator-out unit) or camera family (reals)
    made_by: str  # the generator, or the cameras
    licence: str
    exclude: Tuple[str, ...] = ()
    processing: str = "whole"
    tile: int = 0  # grid: the side of each square tile, in pixels
    grouping: str = "file"
    group_pattern: str = ""  # grouping = "pattern": a regex whose first group, on the file name, names the group
    cap: int = 0  # keep at most this many files (0: all), chosen by a hash of their path: one-subject sets
    note: str = ""

    @cached_property
    def _include(self) -> List[re.Pattern]:
        return [glob_to_regex(pattern) for pattern in self.include]

    @cached_property
    def _exclude(self) -> List[re.Pattern]:
        return [glob_to_regex(pattern) for pattern in self.exclude]

    def selects(self, path: str) -> bool:
        return any(p.fullmatch(path) for p in self._include) and not any(p.fullmatch(path) for p in self._exclude)

    @property
    def url(self) -> str:
        return f"https://github.com/{self.repo}"


@dataclass(frozen=True)
class SharedSet:
    """A set from ../shared/datasets that joins the corpus as it is (linked, never copied): both classes."""
    name: str
    folder: str  # below the shared datasets folder
    family: str  # the family of its fakes
    made_by: str
    reals: str  # what its real images are
    licence: str
    note: str = ""


@dataclass(frozen=True)
class Manifest:
    sources: Tuple[Source, ...]
    shared: Tuple[SharedSet, ...]
    pool_fraction: float  # of each corpus real source's groups, kept out of training as the fixed real pool
    path: Optional[Path] = None

    def families(self) -> Dict[str, List[str]]:
        """Each fake family and the corpus folders (sources and shared sets) that hold its fakes."""
        families: Dict[str, List[str]] = {}
        for entry in [source for source in self.sources if source.label == "fake"] + list(self.shared):
            families.setdefault(entry.family, []).append(entry.name)
        return families


def glob_to_regex(pattern: str) -> re.Pattern:
    """A repository path pattern: `*` and `?` stay within one folder, `**/` spans any number of them; matched
    without regard to case, since camera files end in .JPG and .jpg alike."""
    parts, index = [], 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif pattern[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            parts.append("[^/]")
            index += 1
        else:
            parts.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(parts), re.IGNORECASE)


SOURCE_KEYS = {"name", "repo", "commit", "include", "exclude", "class", "family", "made_by", "licence",
               "processing", "tile", "grouping", "group_pattern", "cap", "note"}
SHARED_KEYS = {"name", "folder", "family", "made_by", "reals", "licence", "note"}


def load_manifest(path=DEFAULT_MANIFEST) -> Manifest:
    """Read and check the manifest; every mistake is one DeepfakeError naming the file and the entry."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text())
    except FileNotFoundError:
        # An installed deepfake carries no manifest (it lists what to fetch, for those who build the corpus):
        # the clone of the project has it, at data/sources.toml.
        raise DeepfakeError(f"{path}: no such manifest; run from a clone of the project, or pass --manifest "
                            f"PATH/TO/data/sources.toml") from None
    except tomllib.TOMLDecodeError as error:
        raise DeepfakeError(f"{path}: not valid TOML ({error})") from None
    sources = tuple(_source(path, entry) for entry in document.get("source", []))
    shared = tuple(_shared(path, entry) for entry in document.get("shared", []))
    pool_fraction = document.get("pool", {}).get("fraction", 0.0)
    if not isinstance(pool_fraction, (int, float)) or not 0 <= pool_fraction < 1:
        raise DeepfakeError(f"{path}: [pool] fraction must be a number in [0, 1), not {pool_fraction!r}")
    names = [entry.name for entry in sources + shared]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DeepfakeError(f"{path}: each name must be used once; repeated: {', '.join(repeated)}")
    if not sources:
        raise DeepfakeError(f"{path}: no [[source]] entries")
    return Manifest(sources, shared, float(pool_fraction), path)


def _checked_keys(path: Path, entry: dict, allowed: set, required: set, kind: str) -> str:
    label = entry.get("name", "?")
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise DeepfakeError(f"{path}: [[{kind}]] {label}: unknown key(s) {', '.join(unknown)}")
    missing = sorted(required - set(entry))
    if missing:
        raise DeepfakeError(f"{path}: [[{kind}]] {label}: missing key(s) {', '.join(missing)}")
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", str(entry["name"])):
        raise DeepfakeError(f"{path}: [[{kind}]] {label}: a name is lower-case letters, digits, '.', '_', '-' "
                            f"(it becomes a folder)")
    return label


def _source(path: Path, entry: dict) -> Source:
    required = {"name", "repo", "commit", "include", "class", "family", "made_by", "licence"}
    label = _checked_keys(path, entry, SOURCE_KEYS, required, "source")
    where = f"{path}: [[source]] {label}"
    if entry["class"] not in CLASSES:
        raise DeepfakeError(f"{where}: class must be real or fake, not {entry['class']!r}")
    if not re.fullmatch(r"[0-9a-f]{40}", entry["commit"]):
        raise DeepfakeError(f"{where}: commit must be a full 40-digit hash, not {entry['commit']!r}")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", entry["repo"]):
        raise DeepfakeError(f"{where}: repo must be owner/name, not {entry['repo']!r}")
    processing, grouping = entry.get("processing", "whole"), entry.get("grouping", "file")
    if processing not in PROCESSING:
        raise DeepfakeError(f"{where}: processing must be one of {', '.join(PROCESSING)}")
    if grouping not in GROUPING:
        raise DeepfakeError(f"{where}: grouping must be one of {', '.join(GROUPING)}")
    tile = int(entry.get("tile", 0))
    if (processing == "grid") != (tile > 0):
        raise DeepfakeError(f"{where}: a grid needs its tile size (tile = 512), and only a grid has one")
    if (grouping == "pattern") != bool(entry.get("group_pattern")):
        raise DeepfakeError(f"{where}: grouping = \"pattern\" needs a group_pattern, and only it has one")
    if entry.get("group_pattern"):
        try:
            if re.compile(entry["group_pattern"]).groups < 1:
                raise DeepfakeError(f"{where}: group_pattern needs one (capturing group)")
        except re.error as error:
            raise DeepfakeError(f"{where}: group_pattern is not a regular expression ({error})") from None
    include = entry["include"]
    if not include or not all(isinstance(pattern, str) and pattern for pattern in include):
        raise DeepfakeError(f"{where}: include must be a non-empty list of path patterns")
    return Source(name=entry["name"], repo=entry["repo"], commit=entry["commit"], include=tuple(include),
                  label=entry["class"], family=entry["family"], made_by=entry["made_by"], licence=entry["licence"],
                  exclude=tuple(entry.get("exclude", ())), processing=processing, tile=tile, grouping=grouping,
                  group_pattern=entry.get("group_pattern", ""), cap=int(entry.get("cap", 0)),
                  note=entry.get("note", ""))


def _shared(path: Path, entry: dict) -> SharedSet:
    _checked_keys(path, entry, SHARED_KEYS, SHARED_KEYS - {"note"}, "shared")
    return SharedSet(**entry)
