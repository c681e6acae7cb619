"""Can the class be read off the file instead of the picture? A metadata-only classifier on the corpus.

    python experiments/metadata_shortcut.py --corpus data/corpus [--per-source 300] [--json out.json]

The corpus's sources differ in format (generators' WebP and PNG, cameras' JPEG), size, compression and EXIF.
This fits logistic regression on metadata alone (format, pixel size, aspect, bits per pixel, a JPEG quality
estimate from the quantisation tables, EXIF presence) and reports its out-of-fold ROC-AUC (5-fold, stratified):
- raw: the files as the corpus holds them;
- after the chain: what a model trained with --format-blind is shown, each image resized and re-encoded by one
  draw of the chain (data.format_blind; "none" leaves decoded pixels: no file, no codec, no EXIF).
Each feature group is also scored on its own, so the table says which cue carries the label. 0.5 = no shortcut.
"""
import argparse
import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image


from deepfake.data.datasets import discover_labelled_images  # noqa: E402
from deepfake.data.format_blind import PIL_FORMATS, FormatChain, Reencoding  # noqa: E402
from deepfake.data.images import load_rgb_image  # noqa: E402
from deepfake.errors import DeepfakeError  # noqa: E402

FORMATS = ("JPEG", "PNG", "WEBP")
# libjpeg's standard luminance table (quality 50), in the natural order PIL reports quantisation tables.
STANDARD_LUMINANCE = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=float)
FEATURE_GROUPS = {
    "format": ["is_jpeg", "is_png", "is_webp"],
    "pixel size": ["log2_pixels", "aspect"],
    "bits per pixel": ["bits_per_pixel"],
    "JPEG quality": ["jpeg_quality"],
    "EXIF": ["has_exif"],
}
FEATURES = [name for names in FEATURE_GROUPS.values() for name in names]


def jpeg_quality(image: Image.Image) -> float:
    """libjpeg's quality setting that would give this luminance table (0 for a file that is not a JPEG);
    Pillow reports the tables in natural order, as STANDARD_LUMINANCE is."""
    tables = getattr(image, "quantization", None)
    if image.format != "JPEG" or not tables or len(tables[0]) != 64:
        return 0.0
    scale = 100 * np.mean(np.array(tables[0], dtype=float) / STANDARD_LUMINANCE)
    return float(np.clip((200 - scale) / 2 if scale <= 100 else 5000 / scale, 1, 100))


def file_features(data: bytes) -> dict:
    """The metadata of one encoded file, read from its header and size; no pixel is looked at."""
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
        exif = image.info.get("exif") or (image.getexif() if hasattr(image, "getexif") else None)
        return {"is_jpeg": float(image.format == "JPEG"), "is_png": float(image.format == "PNG"),
                "is_webp": float(image.format == "WEBP"), "log2_pixels": math.log2(width * height),
                "aspect": width / height, "bits_per_pixel": 8 * len(data) / (width * height),
                "jpeg_quality": jpeg_quality(image), "has_exif": float(bool(exif))}


def decoded_features(image: Image.Image) -> dict:
    """What a model is shown when the chain keeps the decoded pixels: a picture, with no file behind it."""
    return {"is_jpeg": 0.0, "is_png": 0.0, "is_webp": 0.0, "log2_pixels": math.log2(image.width * image.height),
            "aspect": image.width / image.height, "bits_per_pixel": 0.0, "jpeg_quality": 0.0, "has_exif": 0.0}


def after_chain_features(path: Path, chain: FormatChain, view_size: int) -> dict:
    """The metadata of what the model is shown after one draw of the chain: the re-encoded file, or pixels."""
    image = load_rgb_image(path)
    drawn = chain.draw(image.size, view_size)
    if drawn.codec == "none":
        return decoded_features(Reencoding(drawn.scale, "none", 0).apply(image))
    resized = Reencoding(drawn.scale, "none", 0).apply(image)
    buffer = io.BytesIO()
    resized.save(buffer, format=PIL_FORMATS[drawn.codec], quality=drawn.quality)
    return file_features(buffer.getvalue())


def sample(corpus: Path, per_source: int, seed: int):
    """Up to `per_source` images of each class of each folder under corpus/sources, chosen at random by seed."""
    rng = np.random.default_rng(seed)
    chosen = []
    for root in sorted((corpus / "sources").iterdir()):
        images = discover_labelled_images(root)
        for label in (0, 1):
            of_class = [image for image in images if image.label == label]
            if len(of_class) > per_source:
                of_class = [of_class[i] for i in sorted(rng.choice(len(of_class), per_source, replace=False))]
            chosen += [(root.name, image) for image in of_class]
    return chosen


def out_of_fold_auc(rows, labels, columns, seed: int) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    features = np.array([[row[column] for column in columns] for row in rows])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    scores = cross_val_predict(model, features, labels, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(labels, scores))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="data/corpus", help="the folder python -m deepfake.corpus build wrote")
    parser.add_argument("--per-source", type=int, default=300, help="images per class and folder (default 300)")
    parser.add_argument("--view-size", type=int, default=224, help="the network's crop, which the chain keeps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    chosen = sample(Path(args.corpus), args.per_source, args.seed)
    torch.manual_seed(args.seed)
    chain, raw, after, labels, failed = FormatChain(), [], [], [], 0
    from tqdm import tqdm
    for _folder, image in tqdm(chosen, desc="reading", unit="img", disable=not sys.stderr.isatty()):
        try:
            raw_row = file_features(image.path.read_bytes())
            after_row = after_chain_features(image.path, chain, args.view_size)
        except (DeepfakeError, OSError) as error:
            failed += 1
            print(f"skipped: {image.path}: {error}", file=sys.stderr)
            continue
        raw.append(raw_row)
        after.append(after_row)
        labels.append(image.label)
    labels = np.array(labels)
    table = {"all features": FEATURES, **FEATURE_GROUPS, "all but pixel size": [
        name for name in FEATURES if name not in FEATURE_GROUPS["pixel size"]]}
    results = {name: {"raw": out_of_fold_auc(raw, labels, columns, args.seed),
                      "after_chain": out_of_fold_auc(after, labels, columns, args.seed)}
               for name, columns in table.items()}
    print(f"{len(labels)} images ({int(labels.sum())} fake, {int((1 - labels).sum())} real), {failed} unreadable; "
          f"logistic regression, 5-fold out-of-fold ROC-AUC\n")
    print("| features | raw corpus | after the format-blind chain |\n|---|---|---|")
    for name, result in results.items():
        print(f"| {name} | {result['raw']:.3f} | {result['after_chain']:.3f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"n_images": len(labels), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
