"""End-to-end folder prediction against its own limits, measured in one run.

    python benchmarks/inference.py [--images 200] [--folder DIR] [--weights W] [--workers N] [--compile]

(a) decode + preprocess alone (same DataLoader, same workers; also with every pixel decoded, to show what
decoding a large JPEG at a reduced scale saves), (b) the model alone on pre-decoded tensors
(float32, bfloat16 autocast, torch.compile with --compile, and the ONNX export under onnxruntime),
end to end = predict_paths (decode -> preprocess -> model -> results) with the torch and the onnx backend
(float32, and int8 weights from `python -m deepfake.export --int8`),
and (c) torchvision's ResNet-50 (random init, eval, 224 px; CNNDetection's backbone) end to end on the same
files. On a machine where decoding and the model share the cores, the best a pipeline can do is the serial
bound 1/(1/a + 1/b). Prints the figures, then the ratios.
"""
import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader

ROOT = Path(__file__).resolve().parent.parent

from deepfake import load_detector  # noqa: E402
from deepfake.inference.forward import mixed_precision  # noqa: E402
from deepfake.inference.onnx_export import export_onnx  # noqa: E402
from deepfake.inference.detector import DEFAULT_WEIGHTS  # noqa: E402
from deepfake.data.datasets import ImagePathDataset, collate_skipping_failures, iter_image_files, worker_count  # noqa: E402
from deepfake.inference.forward import crop_averaged_logits  # noqa: E402


def jpeg_folder(count: int, folder: str) -> list:
    if folder:
        return list(iter_image_files(Path(folder)))[:count]
    out = Path(tempfile.mkdtemp(prefix="bench_"))
    rng = np.random.default_rng(0)
    for index in range(count):
        pixels = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).resize((512, 384), Image.BICUBIC).save(out / f"{index:05d}.jpg", quality=90)
    return sorted(out.glob("*.jpg"))


def rate(count: int, seconds: float) -> float:
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--folder", default=str(ROOT.parent / "shared" / "datasets" / "diffusion-coco" / "fake")
                        if (ROOT.parent / "shared").is_dir() else "")
    parser.add_argument("--weights", default=str(DEFAULT_WEIGHTS),
                        help="checkpoint to time (default: the shipped weights)")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (about a minute to compile)")
    args = parser.parse_args()
    paths = jpeg_folder(args.images, args.folder)
    for path in paths:  # into the page cache, so that no measurement below pays for the first read from disk
        path.read_bytes()
    workers = worker_count(args.workers)
    detector = load_detector(args.weights, device="cpu")
    print(f"{len(paths)} images from {args.folder or 'generated 512x384 JPEGs'}; {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {workers} decoding workers")

    def loader(transform):
        return DataLoader(ImagePathDataset(paths, transform), batch_size=args.batch_size, num_workers=workers,
                          collate_fn=collate_skipping_failures)

    started = time.perf_counter()
    batches = [(batch.images, batch.crops_per_image) for batch in loader(detector.transform)]
    decode = rate(len(paths), time.perf_counter() - started)
    # The same preprocessing without the decode size it declares (data.load_for): every pixel decoded.
    started = time.perf_counter()
    sum(1 for _ in loader(lambda image: detector.transform(image)))
    decode_every_pixel = rate(len(paths), time.perf_counter() - started)

    def model_alone(model, amp=False) -> float:
        with torch.inference_mode(), mixed_precision(torch.device("cpu"), amp):
            crop_averaged_logits(model, *batches[0])  # warm-up (and, for torch.compile, the compilation)
            started = time.perf_counter()
            for crops, crops_per_image in batches:
                crop_averaged_logits(model, crops, crops_per_image)
            return rate(len(paths), time.perf_counter() - started)

    model_only = model_alone(detector.model)
    model_bf16 = model_alone(detector.model, amp=True)
    compiled = None
    if args.compile:
        started = time.perf_counter()
        compiled = model_alone(torch.compile(detector.model, dynamic=False))
        print(f"torch.compile: {time.perf_counter() - started:.0f}s including compilation")

    onnx_file = Path(tempfile.mkdtemp(prefix="bench_onnx_")) / "model.onnx"
    export_onnx(args.weights, onnx_file)
    onnx_detector = load_detector(onnx_file, backend="onnx")
    onnx_model = model_alone(onnx_detector.model)
    int8_detector = load_detector(export_onnx(args.weights, onnx_file.with_name("int8.onnx"), int8=True),
                                  backend="onnx")
    int8_model = model_alone(int8_detector.model)

    def end_to_end_rate(chosen) -> float:
        started = time.perf_counter()
        scored = sum(1 for _ in chosen.predict_paths(paths, args.batch_size, workers))
        return rate(scored, time.perf_counter() - started)

    end_to_end = end_to_end_rate(detector)
    onnx_end_to_end = end_to_end_rate(onnx_detector)
    int8_end_to_end = end_to_end_rate(int8_detector)

    from torchvision.models import resnet50
    from torchvision.transforms import v2
    resnet = resnet50().eval()  # random init: speed only; no weights are downloaded
    resnet_transform = v2.Compose([v2.PILToTensor(), v2.Resize(256), v2.CenterCrop(224),
                                   v2.ToDtype(torch.float32, scale=True),
                                   v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    started = time.perf_counter()
    with torch.inference_mode():
        for batch in loader(resnet_transform):
            resnet(batch.images)
    resnet_end_to_end = rate(len(paths), time.perf_counter() - started)

    bound = 1 / (1 / decode + 1 / model_only)
    onnx_bound = 1 / (1 / decode + 1 / onnx_model)
    # What the model really scored: distinct crop positions of each (possibly resized) image, not the layout.
    crops = sum(len(crops) for crops, _ in batches) / len(paths)
    print(f"(a) decode + preprocess alone        {decode:8.1f} images/s")
    print(f"    the same, every pixel decoded    {decode_every_pixel:8.1f} images/s")
    print(f"(b) model alone                      {model_only:8.1f} images/s  ({crops:.2f} crops per image)")
    print(f"    model alone, bfloat16 autocast   {model_bf16:8.1f} images/s")
    if compiled is not None:
        print(f"    model alone, torch.compile       {compiled:8.1f} images/s")
    print(f"    model alone, onnxruntime         {onnx_model:8.1f} images/s")
    print(f"    model alone, onnxruntime int8    {int8_model:8.1f} images/s")
    print(f"    serial bound 1/(1/a+1/b)         {bound:8.1f} images/s")
    print(f"    end to end (predict_paths)       {end_to_end:8.1f} images/s")
    print(f"    end to end, --backend onnx       {onnx_end_to_end:8.1f} images/s  (bound {onnx_bound:.1f})")
    print(f"    end to end, onnx int8            {int8_end_to_end:8.1f} images/s")
    print(f"(c) ResNet-50 end to end             {resnet_end_to_end:8.1f} images/s")
    print(f"ratio end-to-end / serial bound: {end_to_end / bound:.2f} (target >= 0.85); "
          f"onnx {onnx_end_to_end / onnx_bound:.2f}")
    print(f"ratio decode at reduced scale / every pixel: {decode / decode_every_pixel:.2f}")
    print(f"ratio onnx / torch end to end: {onnx_end_to_end / end_to_end:.2f}; bfloat16 / float32 model alone: "
          f"{model_bf16 / model_only:.2f}" + (f"; compiled / eager model alone: {compiled / model_only:.2f}"
                                             if compiled is not None else ""))
    print(f"ratio ours / ResNet-50 end to end: {end_to_end / resnet_end_to_end:.2f}, with --backend onnx "
          f"{onnx_end_to_end / resnet_end_to_end:.2f}, onnx int8 {int8_end_to_end / resnet_end_to_end:.2f} "
          f"(target >= 2 for detector v2)")


if __name__ == "__main__":
    main()
