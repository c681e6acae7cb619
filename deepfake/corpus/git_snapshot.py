"""Reading files out of a bare git repository at one commit, without a work tree: the layout the search tool's
`fetch` leaves (owner+name/repo), or a bare clone made here at the commit a manifest records."""
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from ..errors import DeepfakeError


ABSENT = -1  # Blob.size of a file whose content the snapshot does not hold


@dataclass(frozen=True)
class Blob:
    path: str  # inside the repository
    oid: str
    size: int  # bytes, or ABSENT


def mirror_folder(mirror_root: Path, repo: str) -> Optional[Path]:
    """The bare repository for owner/name under a mirror folder: owner+name/repo (fetch's layout), owner+name,
    or owner/name(.git); None if there is none."""
    owner, name = repo.split("/")
    for candidate in (mirror_root / f"{owner}+{name}" / "repo", mirror_root / f"{owner}+{name}",
                      mirror_root / owner / name, mirror_root / owner / f"{name}.git"):
        if (candidate / "objects").is_dir():
            return candidate
    return None


def _git(git_dir: Path, *args: str, input_bytes: Optional[bytes] = None) -> bytes:
    done = subprocess.run(["git", "--git-dir", str(git_dir), *args], input=input_bytes, capture_output=True)
    if done.returncode:
        raise DeepfakeError(f"{git_dir}: git {args[0]} failed ({done.stderr.decode(errors='replace').strip()})")
    return done.stdout


def has_commit(git_dir: Path, commit: str) -> bool:
    return subprocess.run(["git", "--git-dir", str(git_dir), "cat-file", "-e", f"{commit}^{{commit}}"],
                          capture_output=True).returncode == 0


def list_blobs(git_dir: Path, commit: str) -> List[Blob]:
    """Every file at `commit`, sorted by path (-z: names with spaces or odd bytes come through unquoted)."""
    blobs = []
    for entry in _git(git_dir, "ls-tree", "-r", "-l", "-z", commit).split(b"\0"):
        if not entry:
            continue
        meta, path = entry.split(b"\t", 1)
        _mode, kind, oid, size = meta.split()
        if kind == b"blob":  # not submodules (commit) entries
            # A blob the snapshot left out (fetch drops files of 4 MiB and more) has no size: git prints BAD.
            blobs.append(Blob(path.decode("utf-8", errors="surrogateescape"), oid.decode(),
                              int(size) if size.isdigit() else ABSENT))
    return sorted(blobs, key=lambda blob: blob.path)


class BlobReader:
    """One `git cat-file --batch` process that answers blob after blob; None for a blob the snapshot lacks
    (fetch leaves out files of 4 MiB and more)."""

    def __init__(self, git_dir: Path):
        self.git_dir = git_dir
        self.process = subprocess.Popen(["git", "--git-dir", str(git_dir), "cat-file", "--batch"],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def read(self, oid: str) -> Optional[bytes]:
        self.process.stdin.write(f"{oid}\n".encode())
        self.process.stdin.flush()
        header = self.process.stdout.readline().split()
        if len(header) < 3 or header[1] == b"missing":
            return None
        data = self.process.stdout.read(int(header[2]))
        self.process.stdout.read(1)  # the newline after each object
        return data

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()

    def __enter__(self) -> "BlobReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def clone_at(url: str, commit: str, into: Path) -> Path:
    """A bare clone of `url` holding `commit` (plain git, for users with internet); reused when present."""
    if (into / "objects").is_dir() and has_commit(into, commit):
        return into
    into.parent.mkdir(parents=True, exist_ok=True)
    if not (into / "objects").is_dir():
        done = subprocess.run(["git", "clone", "--bare", "--quiet", url, str(into)], capture_output=True)
        if done.returncode:
            raise DeepfakeError(f"{url}: git clone failed ({done.stderr.decode(errors='replace').strip()})")
    if not has_commit(into, commit):
        subprocess.run(["git", "--git-dir", str(into), "fetch", "--quiet", "origin", commit], capture_output=True)
    if not has_commit(into, commit):
        raise DeepfakeError(f"{url}: commit {commit} is not in the repository (was it rewritten?)")
    return into
