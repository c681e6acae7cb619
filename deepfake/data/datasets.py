"""Labelled image folders: discovery, the deterministic split, and the datasets that decode them.

A folder is labelled by its nearest ancestor named `real`/`fake` (or CNNDetection's `0_real`/`1_fake`), so
`DIR/real/`, `DIR/fake/` and `DIR/progan/cat/0_real/` all work. Images in a sub-folder of a class folder
(`real/<video_id>/*.jpg`) form one group and stay on one side of the split, so frames of a video never
leak between training and validation. Split by source (the default), `real/<name>/` and `fake/<name>/` are
one group: a fake made from a real video (DFDC's pairs) stays on the same side as its source.
"""
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from torch.utils.data import Dataset, default_collate, get_worker_info

from ..errors import DeepfakeError
from .images import (
    IMAGE_EXTENSIONS,
    check_judgeable,
    is_special_file,
    load_rgb_image,
    looks_like_image,
    unreadable_reason,
)

# Below this many images of either class, training (on its validation split) and evaluation say the metrics,
# calibration and threshold are noise.
MIN_VALIDATION_PER_CLASS = 50

CLASS_FOLDERS: Dict[str, int] = {"real": 0, "0_real": 0, "fake": 1, "1_fake": 1}
CLASS_NAMES = ("real", "fake")  # index = label: 1 = fake, 0 = real, everywhere
SPLIT_BY = ("source", "folder", "file")


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    label: int
    group: str  # the sub-folder of a class folder (one video's frames), or the file itself
    source: str = ""  # the group without its class folder: real/<name> and fake/<name> share it; "" = group

    @property
    def source_group(self) -> str:
        return self.source or self.group


def iter_image_files(root: Path, on_error: Callable[[str], None] = lambda message: None):
    return iter_media_files(root, IMAGE_EXTENSIONS, on_error)


def iter_media_files(root: Path, extensions: frozenset, on_error: Callable[[str], None] = lambda message: None):
    """Files with these extensions under `root`, recursively, sorted; symlink loops are reported, not fatal."""
    seen_dirs = set()
    def report(error: OSError) -> None:
        on_error(f"{error.filename}: {error.strerror}")

    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=report):
        real_dir = os.path.realpath(dirpath)
        if real_dir in seen_dirs:  # a symlink loop would otherwise walk forever
            dirnames[:] = []
            on_error(f"{dirpath}: symlink loop, skipped")
            continue
        seen_dirs.add(real_dir)
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            suffix = path.suffix.lower()
            # A file named without an extension is taken when its bytes are an image's (as a single path is).
            if suffix not in extensions and (suffix or not (extensions & IMAGE_EXTENSIONS)):
                continue
            if is_special_file(path):  # reading a FIFO blocks until someone writes to it: never open one
                on_error(f"{path}: {unreadable_reason(path)}")
            elif suffix or looks_like_image(path):
                yield path  # a broken link is yielded too: loading it reports it, counted with the failures


def discover_labelled_images(root) -> List[LabelledImage]:
    """Every image under `root` that sits below a class folder, with its label and sub-folder group."""
    root = Path(root)
    if not root.is_dir():
        raise DeepfakeError(f"{root}: no such folder")
    images = []
    for path in iter_image_files(root):
        parts = path.relative_to(root).parts
        class_index = max((i for i, part in enumerate(parts[:-1]) if part.lower() in CLASS_FOLDERS), default=None)
        if class_index is None:
            continue
        in_sub_folder = len(parts) - class_index > 2
        group = "/".join(parts[:class_index + 2] if in_sub_folder else parts)
        # A file directly in its class folder is its own source: real/0001.jpg and fake/0001.jpg are unrelated.
        source = "/".join(parts[:class_index] + parts[class_index + 1:class_index + 2]) if in_sub_folder else group
        images.append(LabelledImage(path, CLASS_FOLDERS[parts[class_index].lower()], group, source))
    if not images:
        raise DeepfakeError(f"{root}: no images below a real/ or fake/ folder (expected {root}/real/ and "
                            f"{root}/fake/, or 0_real/ and 1_fake/; see data/README.md)")
    return images


def file_list_sha256(entries: Iterable[Tuple[str, int]]) -> str:
    """A fingerprint of which files (path, label) a model saw, in any order; cheap, content-blind."""
    digest = hashlib.sha256()
    for path, label in sorted(entries):
        digest.update(f"{path}\t{label}\n".encode())
    return digest.hexdigest()


def file_list_hash(images: Sequence[LabelledImage], root) -> str:
    """file_list_sha256 of a --data folder's images by their path below it, shortened as checkpoints record it."""
    return file_list_sha256((image.path.relative_to(root).as_posix(), image.label) for image in images)[:16]


def split_train_val(images: Sequence[LabelledImage], val_fraction: float, seed: int, split_by: str = "source"
                    ) -> Tuple[List[LabelledImage], List[LabelledImage]]:
    """Deterministic, stratified, group-aware split of one root's images.

    Groups are split in strata that keep the class balance on both sides: by class for "folder" and "file";
    for "source", by which classes a source holds (only real, only fake, both), so a real video and the fakes
    made from it are one group. A root is split on its own, so evaluating one root reproduces exactly the
    validation images it had in a larger run. A root without shared names splits by source exactly as by folder.
    split_by="file" ignores sub-folders and splits image by image.
    """
    if not 0 < val_fraction < 1:
        raise DeepfakeError(f"--val-fraction must be between 0 and 1, not {val_fraction}")
    if split_by not in SPLIT_BY:
        raise ValueError(f"split_by must be one of {SPLIT_BY}")
    from sklearn.model_selection import train_test_split  # lazily: scikit-learn costs prediction ~0.9 s to import

    group_of = {"source": lambda image: image.source_group, "folder": lambda image: image.group,
                "file": lambda image: str(image.path)}[split_by]
    labels_of: Dict[str, set] = {}
    for image in images:
        labels_of.setdefault(group_of(image), set()).add(image.label)
    # A root may hold one class only (a generator's folder of the corpus, or a folder of camera photos): the
    # trainer checks that the roots together hold both. Each class a root has needs 2 groups to split.
    for label in (0, 1):
        n_groups = sum(label in labels for labels in labels_of.values())
        if n_groups == 1:
            raise DeepfakeError(f"only 1 {CLASS_NAMES[label]} group to split; a validation split needs at least 2 "
                                f"of each class a folder holds (add images, or use --split-by file)")
    # Strata in a fixed order (real only, fake only, both): for "folder" and "file" the first two are the
    # classes, which is exactly the split this function made before "source" existed (old checkpoints).
    val_groups = set()
    for stratum in ({0}, {1}, {0, 1}):
        groups = sorted(group for group, labels in labels_of.items() if labels == stratum)
        if len(groups) >= 2:
            val_groups.update(train_test_split(groups, test_size=val_fraction, random_state=seed)[1])
        # a lone group of its kind trains: one cannot be split, and validation has both classes without it
    train, val = [], []
    for label in (0, 1):  # class by class, as before, so the order of the lists is unchanged too
        for image in images:
            if image.label == label:
                (val if group_of(image) in val_groups else train).append(image)
    return train, val


def count_labels(images: Sequence[LabelledImage]) -> Dict[str, int]:
    n_fake = sum(image.label for image in images)
    return {"n_real": len(images) - n_fake, "n_fake": n_fake}


def load_for(transform: Callable, path):
    """Decode `path` for `transform`: one that resizes its input down (EvalTransform with a resize) declares
    the size in `decode_shorter_side`, and a large JPEG is then decoded at a reduced scale. Training and
    perturbed transforms declare nothing and get every pixel."""
    return load_rgb_image(path, getattr(transform, "decode_shorter_side", 0))


class LabelledImageDataset(Dataset):
    """(image tensor, label, index) triples; a file that fails to decode yields a DecodeFailure instead,
    which collate_skipping_failures sets aside so one bad file never stops a batch."""

    def __init__(self, images: Sequence[LabelledImage], transform: Callable):
        self.images = list(images)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        item = self.images[index]
        try:
            return self.transform(load_for(self.transform, item.path)), item.label, index
        except DeepfakeError as error:
            return DecodeFailure(index, str(error))


class ImagePathDataset(LabelledImageDataset):
    """Unlabelled images for prediction (label -1). `read_evidence(path, decoded image)`, if given, runs in the
    worker beside the decode, and its result rides along as a fourth element (Batch.evidence)."""

    def __init__(self, paths: Sequence[Path], transform: Callable, read_evidence: Optional[Callable] = None):
        super().__init__([LabelledImage(Path(path), -1, str(path)) for path in paths], transform)
        self.read_evidence = read_evidence

    def __getitem__(self, index: int):
        path = self.images[index].path
        try:
            image = check_judgeable(load_for(self.transform, path), path)
        except DeepfakeError as error:
            return DecodeFailure(index, str(error))
        if self.read_evidence is None:
            return self.transform(image), -1, index
        return self.transform(image), -1, index, self.read_evidence(path, image)


@dataclass(frozen=True)
class DecodeFailure:
    index: int
    message: str


@dataclass
class Batch:
    images: torch.Tensor  # training: [batch, 3, S, S]; evaluation: every image's crops in turn, [crops, 3, S, S]
    labels: torch.Tensor
    indices: List[int]
    failures: List[DecodeFailure]
    crops_per_image: Optional[List[int]] = None  # evaluation only: how many of `images` belong to each image
    evidence: Optional[List] = None  # prediction with provenance: each image's evidence (ImagePathDataset)


def concatenate_crops(crop_sets: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, List[int]]:
    """Each image's [crops, 3, S, S] (a number that depends on its size) -> one [all crops, 3, S, S] tensor
    and the count per image."""
    counts = [len(crops) for crops in crop_sets]
    first = crop_sets[0]
    out = None
    # Inside a DataLoader worker, write straight into shared memory, as default_collate does: a plain cat
    # would build the batch on the worker's heap and copy it over, and that heap (glibc keeps it) grew the
    # worker by over a gigabyte on a 10,000-image folder.
    if get_worker_info() is not None:
        storage = first._typed_storage()._new_shared(sum(crops.numel() for crops in crop_sets), device=first.device)
        out = first.new(storage).resize_(sum(counts), *first.shape[1:])
    return torch.cat(list(crop_sets), out=out), counts


def collate_skipping_failures(samples) -> Batch:
    """Batch the decodable samples; carry the failures along so the caller can report them."""
    good = [sample for sample in samples if not isinstance(sample, DecodeFailure)]
    failures = [sample for sample in samples if isinstance(sample, DecodeFailure)]
    if not good:
        return Batch(torch.empty(0), torch.empty(0), [], failures, [])
    tensors = [sample[0] for sample in good]
    labels = torch.tensor([sample[1] for sample in good], dtype=torch.float32)
    indices = [sample[2] for sample in good]
    evidence = [sample[3] for sample in good] if len(good[0]) > 3 else None
    if tensors[0].dim() == 4:  # evaluation crops (EvalTransform): their number varies with the image
        images, crops_per_image = concatenate_crops(tensors)
        return Batch(images, labels, indices, failures, crops_per_image, evidence)
    # default_collate also stacks straight into shared memory inside a worker.
    return Batch(default_collate(tensors), labels, indices, failures)


def split_roots(images_by_root: Dict[str, List[LabelledImage]], val_fraction: float, seed: int,
                split_by: str = "source", train_fraction: float = 1.0):
    """Split each root on its own; returns (train, val, per-root summary for the checkpoint).

    train_fraction < 1 keeps that share of each root's training side (whole groups, each class on its own),
    and the validation side is exactly the one of the full run: a learning curve's points are then scored on
    the same images."""
    check_train_fraction(train_fraction)
    train, val, summary = [], [], []
    for root, images in images_by_root.items():
        root_train, root_val = split_train_val(images, val_fraction, seed, split_by)
        if train_fraction < 1:
            root_train, _ = split_train_val(root_train, 1 - train_fraction, seed, split_by)
        train += root_train
        val += root_val
        summary.append({"name": Path(root).resolve().name, **count_labels(images),
                        "n_train": len(root_train), "n_val": len(root_val),
                        "file_list_sha256": file_list_hash(images, root)})
    return train, val, summary


def check_train_fraction(train_fraction: float) -> None:
    if not 0 < train_fraction <= 1:
        raise DeepfakeError(f"--train-fraction must be above 0 and at most 1, not {train_fraction}")


def discover_roots(roots: Sequence) -> Dict[str, List[LabelledImage]]:
    return {str(root): discover_labelled_images(root) for root in roots}


def load_split(roots: Sequence, val_fraction: float, seed: int, split_by: str = "source",
               train_fraction: float = 1.0):
    return split_roots(discover_roots(roots), val_fraction, seed, split_by, train_fraction)


def select_split(images_by_root: Dict[str, List[LabelledImage]], split: str, val_fraction: float, seed: int,
                 split_by: str = "source", train_fraction: float = 1.0) -> List[LabelledImage]:
    """All images, or only the train or validation side of the split a checkpoint recorded."""
    if split == "all":
        return [image for images in images_by_root.values() for image in images]
    train, val, _ = split_roots(images_by_root, val_fraction, seed, split_by, train_fraction)
    return {"train": train, "val": val}[split]


def worker_count(requested: Optional[int]) -> int:
    """Decoding workers: by default one per spare core, none on a single core (spawn costs more than it saves)."""
    if requested is not None:
        return max(0, requested)
    return min(4, max(0, (os.cpu_count() or 1) - 1))
