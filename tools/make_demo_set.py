"""Rebuild data/demo/, the small labelled set that ships with the project so that `python evaluate.py` and
`python train.py --data data/demo --epochs 1` run on a fresh clone (a demonstration, not a benchmark).

    python tools/make_demo_set.py --corpus data/corpus [--weights weights/deepfake_cnn.safetensors]

Reals: scikit-image's public-domain photographs and CC0 photos from the corpus's real pool (digicam, clothing),
which no shipped model trained on. Fakes: MIT- and Apache-licensed generator outputs from the corpus, taken only
from the validation side of the split the shipped checkpoint recorded, so the shipped model never trained on
them. Each is resized so its longer side is SIDE px and saved as JPEG; NOTICE.md credits every file.
"""
import argparse
import hashlib
import io
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

from deepfake.checkpoint import load_model  # noqa: E402
from deepfake.data.datasets import discover_labelled_images, load_split  # noqa: E402
from deepfake.data.images import load_rgb_image  # noqa: E402
from deepfake.evaluation.evaluate import recorded_split  # noqa: E402

SIDE, QUALITY = 384, 88
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry")
# (corpus pool folder, how many, licence, where it comes from)
REAL_SOURCES = (("digicam", 10, "CC0 1.0", "drewnoakes/digicam_corpus"),
                ("clothing", 8, "CC0 1.0", "alexeygrigorev/clothing-dataset"))
# (corpus source, how many, licence, repository, generator)
FAKE_SOURCES = (("sdxl-portraits", 5, "MIT", "andygock/stable-diffusion-style-cheatsheet", "RealVisXL V3 (SDXL)"),
                ("flux-portraits", 5, "MIT", "andygock/stable-diffusion-style-cheatsheet", "FLUX.1-dev"),
                ("sd15-styles", 4, "MIT", "SupaGruen/StableDiffusion-CheatSheet", "Stable Diffusion 1.5"),
                ("gpt-image-2", 5, "MIT", "freestylefly/awesome-gpt-image-2", "GPT image 2"),
                ("nano-banana", 5, "Apache-2.0", "PicoTrex/Awesome-Nano-Banana-images", "Gemini 2.5 Flash Image"))

# What the MIT and Apache licences ask to be kept with copies of the work.
NOTICES = """## Licence notices

- andygock/stable-diffusion-style-cheatsheet: MIT License, Copyright (c) 2024 Andy Gock.
- SupaGruen/StableDiffusion-CheatSheet: MIT License, Copyright (c) 2023 SupaGruen.
- freestylefly/awesome-gpt-image-2: MIT License, Copyright (c) 2026 freestylefly.
- PicoTrex/Awesome-Nano-Banana-images: Apache License 2.0 (the images are reproduced resized and re-encoded).

The MIT licence's terms: permission is hereby granted, free of charge, to any person obtaining a copy of this
software and associated documentation files, to deal in them without restriction, subject to the condition that
the above copyright notice and this permission notice be included in all copies or substantial portions; they are
provided "as is", without warranty of any kind. drewnoakes/digicam_corpus and alexeygrigorev/clothing-dataset
are CC0 1.0 (no rights reserved).
"""


def by_hash(paths, n):
    """n of `paths`, chosen by a hash of their names: the same files on every machine."""
    return sorted(paths, key=lambda path: hashlib.sha256(path.name.encode()).hexdigest())[:n]


def save_small(image: Image.Image, target: Path) -> None:
    image = image.convert("RGB")
    image.thumbnail((SIDE, SIDE), Image.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=QUALITY)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="data/corpus")
    parser.add_argument("--weights", default="weights/deepfake_cnn.safetensors")
    parser.add_argument("--out", default="data/demo")
    args = parser.parse_args()
    corpus, out = Path(args.corpus), Path(args.out)
    from skimage import data
    credits = []
    for name in SKIMAGE_PHOTOS:
        save_small(Image.fromarray(getattr(data, name)()), out / "real" / f"skimage-{name}.jpg")
        credits.append(f"| real/skimage-{name}.jpg | photograph | scikit-image `data.{name}` | public domain "
                       f"(scikit-image's data README) |")
    for folder, n, licence, repository in REAL_SOURCES:
        for path in by_hash([p for p in (corpus / "pool" / "real" / folder).rglob("*") if p.is_file()], n):
            target = f"real/{folder}-{path.stem}.jpg"
            save_small(load_rgb_image(path), out / target)
            credits.append(f"| {target} | photograph | {repository}, `{path.name}` | {licence} |")
    _, card = load_model(args.weights)
    split = recorded_split(card)
    for source, n, licence, repository, generator in FAKE_SOURCES:
        _, val, _ = load_split([corpus / "sources" / source], split["val_fraction"], split["seed"],
                               split["split_by"], split["train_fraction"])
        fakes = [image.path for image in val if image.label == 1]
        if len(fakes) < n:
            raise SystemExit(f"{source}: only {len(fakes)} validation fakes")
        for path in by_hash(fakes, n):
            target = f"fake/{source}-{path.stem}.jpg"
            save_small(load_rgb_image(path), out / target)
            credits.append(f"| {target} | {generator} | {repository}, `{path.name}` | {licence} |")
    n_real = len(discover_labelled_images(out)) - len(list((out / "fake").iterdir()))
    (out / "NOTICE.md").write_text(
        "# data/demo: where each file comes from\n\n"
        "A demonstration set, not a benchmark: "
        f"{n_real} real photographs and {len(list((out / 'fake').iterdir()))} AI-generated images, each resized "
        f"to at most {SIDE} px and saved as JPEG quality {QUALITY} by `python tools/make_demo_set.py`. The fakes "
        "come from the validation side of the shipped model's split (it never trained on them); the corpus "
        "photos from its real pool (no shipped model trained on them). Content differs between the classes "
        "(portraits and styled scenes against snapshots and products), so a score on it says little about "
        "detection: weights/MODEL_CARD.md has the measurements.\n\n"
        "| file | what | source | licence |\n|---|---|---|---|\n" + "\n".join(credits) + "\n\n" + NOTICES)
    print(f"{len(credits)} files in {out}")


if __name__ == "__main__":
    main()
