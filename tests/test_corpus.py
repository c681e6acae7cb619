"""The corpus: its manifest's schema, and the builder on a tiny bare git repository made here, with a grid,
duplicates, a corrupt file, a WebP, a tiny image and a file over the size cap."""
import csv
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deepfake.cli import corpus_main
from deepfake.corpus.builder import BuildLimits, difference_hash
from deepfake.corpus.manifest import DEFAULT_MANIFEST, glob_to_regex, load_manifest
from deepfake.data.datasets import discover_labelled_images
from deepfake.errors import DeepfakeError


def noise_image(seed: int, size=(96, 96)) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def encoded(image: Image.Image, format_name: str, **options) -> bytes:
    import io
    buffer = io.BytesIO()
    image.save(buffer, format=format_name, **options)
    return buffer.getvalue()


def make_repo(root: Path, files: dict) -> tuple:
    """A bare repository whose one commit holds `files` (path -> bytes): (git dir, commit)."""
    work = root / "work"
    for path, data in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_bytes(data)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q", str(work)], check=True)
    subprocess.run([*git, "-C", str(work), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(work), "commit", "-q", "-m", "files"], check=True)
    commit = subprocess.run(["git", "-C", str(work), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    bare = root / "mirror" / "someone+images" / "repo"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return bare, commit


def write_manifest(path: Path, commit: str, pool_fraction: float = 0.0, extra: str = "") -> Path:
    path.write_text(f'''
[pool]
fraction = {pool_fraction}

[[source]]
name = "gen-grids"
repo = "someone/images"
commit = "{commit}"
include = ["grids/*"]
class = "fake"
family = "GenA"
made_by = "Generator A"
licence = "MIT"
processing = "grid"
tile = 64
grouping = "grid"

[[source]]
name = "gen-files"
repo = "someone/images"
commit = "{commit}"
include = ["fakes/**/*"]
exclude = ["fakes/skip/*"]
class = "fake"
family = "GenB"
made_by = "Generator B"
licence = "MIT"

[[source]]
name = "camera"
repo = "someone/images"
commit = "{commit}"
include = ["photos/*/*.jpg"]
class = "real"
family = "cameras"
made_by = "two cameras"
licence = "CC0"
grouping = "pattern"
group_pattern = "^photos/([^/]+)/"
{extra}''')
    return path


@pytest.fixture
def tiny_repo(tmp_path):
    grid = Image.new("RGB", (128, 128))
    for index, (left, top) in enumerate([(0, 0), (64, 0), (0, 64), (64, 64)]):
        grid.paste(noise_image(index, (64, 64)), (left, top))
    photo = noise_image(10)
    files = {
        "grids/one.png": encoded(grid, "PNG"),
        "grids/not-a-grid.png": encoded(noise_image(11, (100, 70)), "PNG"),
        "fakes/a.webp": encoded(noise_image(12), "WEBP", quality=90),
        "fakes/nested/b.png": encoded(noise_image(13), "PNG"),
        "fakes/copy-of-a.webp": encoded(noise_image(12), "WEBP", quality=90),  # the same bytes: exact duplicate
        "fakes/broken.png": b"\x89PNG\r\n\x1a\n not really",
        "fakes/tiny.png": encoded(noise_image(14, (20, 20)), "PNG"),
        "fakes/huge.png": encoded(noise_image(15, (400, 400)), "PNG"),  # ~480 KB: over the test's cap
        "fakes/skip/c.png": encoded(noise_image(16), "PNG"),
        "fakes/notes.txt": b"not an image",
        "photos/cam1/p1.jpg": encoded(photo, "JPEG", quality=95),
        "photos/cam1/p2.jpg": encoded(noise_image(17), "JPEG", quality=95),
        # The fake a.webp again, re-encoded as a camera JPEG: a near-duplicate across sources.
        "photos/cam2/p3.jpg": encoded(noise_image(12), "JPEG", quality=92),
        "photos/cam2/p4.jpg": encoded(noise_image(18), "JPEG", quality=95),
    }
    files["fakes/left-out.png"] = encoded(noise_image(19), "PNG")
    bare, commit = make_repo(tmp_path, files)
    # As fetch leaves a file of 4 MiB or more: named in the tree, its content absent (git ls-tree says BAD).
    oid = subprocess.run(["git", "--git-dir", str(bare), "rev-parse", f"{commit}:fakes/left-out.png"],
                         capture_output=True, text=True, check=True).stdout.strip()
    (bare / "objects" / oid[:2] / oid[2:]).unlink()
    return tmp_path / "mirror", commit


LIMITS = ["--min-side", "32", "--max-mb", "0.25", "--no-progress"]


def build(tmp_path, mirror, manifest, out="corpus", extra=()):
    return corpus_main(["build", "--mirror", str(mirror), "--out", str(tmp_path / out), "--manifest", str(manifest),
                        "--shared", str(tmp_path / "no-shared"), *LIMITS, *extra])


def test_the_builder_tiles_checks_and_deduplicates(tmp_path, tiny_repo, capsys):
    mirror, commit = tiny_repo
    manifest = write_manifest(tmp_path / "sources.toml", commit)
    assert build(tmp_path, mirror, manifest) == 0
    out = tmp_path / "corpus"
    files = sorted(path.relative_to(out).as_posix() for path in out.rglob("*") if path.is_file()
                   and ".build" not in path.parts and path.suffix != ".md" and path.suffix != ".csv")
    tiles = [f"sources/gen-grids/fake/one/grids__one_r{row}c{column}.png" for row in (0, 1)
             for column in (0, 1)]
    assert files == sorted(tiles + [
        "sources/gen-files/fake/fakes__a.webp", "sources/gen-files/fake/fakes__nested__b.png",
        "sources/camera/real/cam1/photos__cam1__p1.jpg", "sources/camera/real/cam1/photos__cam1__p2.jpg",
        "sources/camera/real/cam2/photos__cam2__p4.jpg"])
    # A tile is the grid's pixels exactly (lossless); a whole file is the repository's bytes.
    assert np.array_equal(np.asarray(Image.open(out / tiles[1])), np.asarray(noise_image(1, (64, 64))))
    assert (out / "sources/gen-files/fake/fakes__a.webp").read_bytes() == encoded(noise_image(12), "WEBP",
                                                                                    quality=90)
    dropped = {row["path"]: row["reason"] for row in csv.DictReader(open(out / "dropped.csv"))}
    assert dropped.keys() == {"grids/not-a-grid.png", "fakes/copy-of-a.webp", "fakes/broken.png", "fakes/tiny.png",
                              "fakes/huge.png", "photos/cam2/p3.jpg", "fakes/left-out.png"}
    assert dropped["fakes/left-out.png"].startswith("absent from the snapshot")
    assert dropped["fakes/copy-of-a.webp"].startswith("exact duplicate of sources/gen-files/fake/fakes__a.webp")
    assert dropped["photos/cam2/p3.jpg"].startswith("near-duplicate of sources/gen-files/fake/fakes__a.webp")
    assert dropped["grids/not-a-grid.png"] == "not a grid (100x70 is not a grid of 64-px tiles)"
    assert dropped["fakes/broken.png"].startswith("unreadable (corrupt or truncated")
    assert dropped["fakes/tiny.png"].startswith("tiny (20x20")
    assert dropped["fakes/huge.png"].startswith("over the size cap")
    log = capsys.readouterr().err
    assert log.count("dropped: someone/images:fakes/broken.png:") == 1  # one line per file
    card = (out / "CORPUS.md").read_text()
    assert "| `gen-grids` | fake | GenA | Generator A; 64-px tiles of grids | [someone/images]" in card
    assert "| 2 | 4 | 0 | 1 |" in card  # grids: 2 files -> 4 tiles, none pooled, 1 dropped
    assert "| 7 | 2 | 0 | 5 |" in card  # fakes: 7 image files (not notes.txt, not skip/) -> 2 kept, 5 dropped
    assert "- exact duplicate: 1" in card and "- near-duplicate: 1" in card
    # The layout trains as it is: grids' tiles and cameras are groups that a split never cuts.
    images = discover_labelled_images(out / "sources" / "gen-grids")
    assert {image.group for image in images} == {"fake/one"}
    cameras = discover_labelled_images(out / "sources" / "camera")
    assert {image.source_group for image in cameras} == {"cam1", "cam2"}


def test_a_build_resumes_and_decides_the_same(tmp_path, tiny_repo):
    mirror, commit = tiny_repo
    manifest = write_manifest(tmp_path / "sources.toml", commit)
    assert build(tmp_path, mirror, manifest, out="whole") == 0
    assert build(tmp_path, mirror, manifest, out="cut") == 0
    ledger = tmp_path / "cut" / ".build" / "ledger.jsonl"
    lines = ledger.read_text().splitlines()
    # As if interrupted after five files, mid-write of the sixth: that record is cut short, its file half there.
    ledger.write_text("\n".join(lines[:5]) + "\n" + lines[5][:20])
    decided_later = [json.loads(line) for line in lines[5:]]
    for record in decided_later:
        for item in record["kept"]:
            (tmp_path / "cut" / item["file"]).unlink()
    assert build(tmp_path, mirror, manifest, out="cut") == 0

    def tree(root):
        return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*")
                if path.is_file() and ".build" not in path.parts}
    assert tree(tmp_path / "cut") == tree(tmp_path / "whole")


def test_real_groups_go_whole_to_the_pool(tmp_path, tiny_repo):
    mirror, commit = tiny_repo
    manifest = write_manifest(tmp_path / "sources.toml", commit, pool_fraction=0.5)
    assert build(tmp_path, mirror, manifest) == 0
    pooled = {path.parent.name for path in (tmp_path / "corpus" / "pool").rglob("*.jpg")}
    trained = {path.parent.name for path in (tmp_path / "corpus" / "sources" / "camera").rglob("*.jpg")}
    assert pooled and trained and not pooled & trained  # a camera is in the pool or in training, never both
    assert not list((tmp_path / "corpus" / "pool").rglob("*.png"))  # fakes never go to the pool


def test_a_missing_mirror_or_commit_is_one_line_and_the_rest_builds(tmp_path, tiny_repo, capsys):
    mirror, commit = tiny_repo
    manifest = write_manifest(tmp_path / "sources.toml", commit, extra=f'''
[[source]]
name = "elsewhere"
repo = "nobody/absent"
commit = "{"0" * 40}"
include = ["*"]
class = "real"
family = "x"
made_by = "x"
licence = "x"
''')
    assert build(tmp_path, mirror, manifest) == 1
    assert "skipped: elsewhere: no mirror of nobody/absent under" in capsys.readouterr().err
    assert "## Not built" in (tmp_path / "corpus" / "CORPUS.md").read_text()
    assert (tmp_path / "corpus" / "sources" / "gen-files" / "fake" / "fakes__a.webp").exists()


def test_shared_sets_are_linked_not_copied(tmp_path, tiny_repo):
    mirror, commit = tiny_repo
    shared = tmp_path / "shared"
    for label in ("real", "fake"):
        (shared / "set-a" / label).mkdir(parents=True)
        noise_image(20).save(shared / "set-a" / label / "x.png")
    manifest = write_manifest(tmp_path / "sources.toml", commit, extra='''
[[shared]]
name = "set-a"
folder = "set-a"
family = "GenC"
made_by = "Generator C"
reals = "photos"
licence = "research"
''')
    assert corpus_main(["build", "--mirror", str(mirror), "--out", str(tmp_path / "corpus"), "--manifest",
                        str(manifest), "--shared", str(shared), *LIMITS]) == 0
    link = tmp_path / "corpus" / "sources" / "set-a"
    assert link.is_symlink() and link.resolve() == (shared / "set-a").resolve()
    assert load_manifest(manifest).families() == {"GenA": ["gen-grids"], "GenB": ["gen-files"],
                                                  "GenC": ["set-a"]}


# ---------------------------------------------------------------- the manifest
def test_the_shipped_manifest_is_valid_and_names_every_family():
    manifest = load_manifest(DEFAULT_MANIFEST)
    assert {"SDXL", "FLUX", "SD 1.x", "GPT image", "Gemini edits", "StyleGAN faces", "face swaps",
            "DFDC"} <= set(manifest.families())
    assert all(len(source.commit) == 40 for source in manifest.sources)
    assert {source.label for source in manifest.sources} == {"real", "fake"}
    assert 0 < manifest.pool_fraction < 0.5


def test_the_model_cards_data_table_describes_every_folder_the_shipped_model_trained_on(capsys):
    """tools/card_tables.py: the checkpoint's own record of each folder, joined with what the manifest says of it."""
    from conftest import load_tool
    from deepfake.checkpoint import load_model
    from deepfake.inference.detector import DEFAULT_WEIGHTS
    load_tool("card_tables").data(DEFAULT_WEIGHTS)
    lines = capsys.readouterr().out.splitlines()
    total = next(i for i, line in enumerate(lines) if line.startswith("| **all**"))
    rows = [line.split(" | ") for line in lines[2:total + 1]]
    card = load_model(DEFAULT_WEIGHTS)[1]
    recorded = card.training["data"]
    assert [row[0].strip("| `") for row in rows[:-1]] == [entry["name"] for entry in recorded]
    if "initialised_from" in card.training:  # what the model it started from trained on, split alike
        assert "split differently" not in lines[-1] and "same files" in lines[-1], lines[-1]
    assert not any("not in the manifest" in row[2] for row in rows)
    total_train = sum(entry["n_train"] for entry in recorded)
    assert rows[-1][-2] == f"**{total_train:,}**"


def test_a_model_started_from_another_says_whether_their_splits_agree():
    from conftest import load_tool
    note = load_tool("card_tables").started_from_note
    entry = {"name": "faces", "file_list_sha256": "a", "n_train": 8, "n_val": 2}
    split = {"seed": 0, "val_fraction": 0.2, "split_by": "source"}
    started = {"weights": "v2.safetensors", "arch": "mobilenet_v2", "data": [entry], "split": split}
    training = dict(split, data=[dict(entry), {"name": "sdxl", "file_list_sha256": "b", "n_train": 4, "n_val": 1}])
    same = note(started, training)
    assert "`faces`" in same and "split alike" in same
    assert "split differently in the two runs: faces" in note(started, dict(training, data=[dict(entry, n_val=3)]))
    assert "split differently in the two runs: faces" in note(started, dict(training, seed=1))
    unrecorded = {name: value for name, value in started.items() if name != "split"}
    assert "split settings are not in this record" in note(unrecorded, training)


@pytest.mark.parametrize("change, message", [
    ('class = "fake"', "class must be real or fake"),
    ('commit = "abc"', "commit must be a full 40-digit hash"),
    ('processing = "grid"', "a grid needs its tile size"),
    ('grouping = "pattern"', "needs a group_pattern"),
    ('colour = "blue"', "unknown key(s) colour"),
])
def test_a_bad_manifest_entry_is_named(tmp_path, change, message):
    entry = {"name": '"x"', "repo": '"a/b"', "commit": f'"{"1" * 40}"', "include": '["*"]', "class": '"real"',
             "family": '"f"', "made_by": '"m"', "licence": '"l"'}
    key = change.split(" = ")[0]
    if key == "class":
        change = 'class = "unknown"'
    entry[key] = change.split(" = ", 1)[1]
    text = "[[source]]\n" + "\n".join(f"{name} = {value}" for name, value in entry.items())
    path = tmp_path / "m.toml"
    path.write_text(text)
    with pytest.raises(DeepfakeError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        load_manifest(path)
    assert str(error.value).startswith(f"{path}: [[source]] x")


def test_patterns_stay_in_a_folder_unless_told_and_ignore_case():
    assert glob_to_regex("img/*.webp").fullmatch("img/A.WEBP")
    assert not glob_to_regex("img/*.webp").fullmatch("img/sub/a.webp")
    assert glob_to_regex("a/**/*.jpg").fullmatch("a/b/c/d.jpg") and glob_to_regex("a/**/*.jpg").fullmatch("a/d.jpg")


def test_the_difference_hash_survives_re_encoding_and_tells_pictures_apart():
    import io
    # Smooth content, as photos have: noise enlarged.
    photo = noise_image(3, (64, 64)).resize((256, 256), Image.BICUBIC)
    again = Image.open(io.BytesIO(encoded(photo.resize((200, 200)), "JPEG", quality=70)))
    other = noise_image(4, (64, 64)).resize((256, 256), Image.BICUBIC)
    same_bits = int(np.bitwise_count(difference_hash(photo) ^ difference_hash(again)).sum())
    other_bits = int(np.bitwise_count(difference_hash(photo) ^ difference_hash(other)).sum())
    assert same_bits <= BuildLimits().near_duplicate_bits < other_bits


def test_clone_takes_the_recorded_commit_and_refuses_a_missing_one(tmp_path, tiny_repo):
    """--clone: a bare git clone at the manifest's commit (a local repository stands in for the remote)."""
    from deepfake.corpus.git_snapshot import clone_at, has_commit, list_blobs
    mirror, commit = tiny_repo
    origin = mirror / "someone+images" / "repo"
    cloned = clone_at(str(origin), commit, tmp_path / "clones" / "someone+images")
    assert has_commit(cloned, commit) and any(blob.path == "fakes/a.webp" for blob in list_blobs(cloned, commit))
    assert clone_at(str(origin), commit, cloned) == cloned  # present: reused, not cloned again
    with pytest.raises(DeepfakeError, match="is not in the repository"):
        clone_at(str(origin), "f" * 40, tmp_path / "clones" / "other")
