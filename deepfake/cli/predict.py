"""`deepfake predict` (predict.py): score images, videos and folders; plain lines, JSON or CSV, as each file is scored."""
import argparse
import json
import sys
from pathlib import Path
from typing import Callable, List, Optional

from ..errors import DeepfakeError
from ..inference.records import CSV_COLUMNS, REAL_MEANS, csv_row
from .common import (
    check_scoring_arguments,
    device_arguments,
    face_detector_argument,
    is_main_rank,
    loader_arguments,
    prepare_output_file,
    prepare_output_folder,
    weights_argument,
)


def get_predict_parser() -> argparse.ArgumentParser:
    # Nothing here imports torch: --help and a bad flag answer at once.
    from ..inference.aggregate import AGGREGATIONS
    from ..provenance.evidence import EVIDENCE_MODES
    parser = argparse.ArgumentParser(description="Say whether images and videos are fake (AI-generated or "
                                                 "manipulated).")
    parser.add_argument("--image_path", required=True, nargs="+", metavar="PATH",
                        help="images, videos, or folders of both (searched recursively); several may be given, "
                             "and glob patterns: a quoted one ('inbox/*.webp', 'photos/**/*.jpg') is expanded "
                             "here, as it is on Windows, where no shell does it")
    weights_argument(parser)
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per line: path, label, fake_probability (+ faces, frames); a file "
                             "that could not be scored: path and error")
    parser.add_argument("--csv", metavar="OUT", default=None,
                        help="also write one CSV row per file to OUT (a failed file: its error column)")
    parser.add_argument("--faces", action="store_true",
                        help="score each detected face (the most suspicious decides); no face: the whole image")
    face_detector_argument(parser, None)
    parser.add_argument("--frames", type=int, default=16, help="frames sampled uniformly per video (default 16)")
    parser.add_argument("--aggregate", choices=sorted(AGGREGATIONS), default="mean",
                        help="how frame scores make a video's score (default: mean)")
    parser.add_argument("--threshold", type=float, default=None, help="override the checkpoint's threshold")
    parser.add_argument("--explain", metavar="OUT_DIR", default=None,
                        help="also save a Grad-CAM overlay per file (OUT_DIR/<name>-<8 hex digits of its "
                             "path>.gradcam.png, so that no two inputs share one) showing which "
                             "regions drove its verdict, at the picture's size (longer side at most 1024 px); a "
                             "video's on its most suspicious frame, with the deciding face's box under --faces")
    parser.add_argument("--strict", action="store_true",
                        help="stop at the first file that cannot be read (default: report it, skip it, go on)")
    parser.add_argument("--evidence", choices=EVIDENCE_MODES, default="decide",
                        help="provenance (C2PA, XMP, PNG text, EXIF, invisible watermarks), reported beside the "
                             "model's score: decide (default) lets a declaration of AI generation set the label, "
                             "report only lists it, off skips reading")
    parser.add_argument("--trust-anchors", metavar="PEM", default=None,
                        help="root certificates a C2PA signer must chain to for its claim to count as verified "
                             "(the project ships no trust list)")
    device_arguments(parser)
    parser.add_argument("--backend", choices=("torch", "onnx"), default="torch",
                        help="onnx: run an exported .onnx file (--weights OUT.onnx) with onnxruntime, faster on "
                             "CPU; export with: python -m deepfake.export --onnx OUT.onnx")
    loader_arguments(parser)
    return parser


def collect_inputs(given: List[str], on_error: Callable[[str], None]) -> "tuple[list, list]":
    """Every file to score from --image_path (files, folders, glob patterns), each once, and a
    Failure for each path that is not there."""
    from ..inference.detector import Failure, collect_media
    paths, failures = [], []
    for path in given:
        try:
            paths += collect_media(path, on_error=on_error)
        except DeepfakeError as error:
            if len(given) == 1:
                raise
            failures.append(Failure(path, str(error)))
    return list(dict.fromkeys(paths)), failures


def output_of(result, explain_dir: Optional[str]) -> "tuple[dict, Optional[str]]":
    """What predict.py writes for one result: its JSON record and its plain line (None for a failure, whose
    record is {path, error}). A Grad-CAM overlay is saved to explain_dir here."""
    from ..inference.detector import Failure
    from ..provenance import deciding_evidence
    if isinstance(result, Failure):
        prefix = f"{result.path}: "
        error = result.message[len(prefix):] if result.message.startswith(prefix) else result.message
        return {"path": result.path, "error": error}, None
    record = result.to_dict()
    if result.explanation is not None:
        from ..inference.explain import overlay_path
        target = overlay_path(explain_dir, result.path)
        result.explanation.picture.save(target)
        record.update(result.explanation.fields(str(target)))
    decided = ([f"decided by provenance: {deciding_evidence(result.evidence).detail}"]
               if result.decided_by == "provenance" else [])
    line = "\t".join([result.path, result.label, f"{result.fake_probability:.4f}"] + decided
                     + [record[key] for key in ("explanation", "note") if key in record])
    return record, line


def predict_main(argv: Optional[List[str]] = None) -> int:
    """Parse, collect, score, write. One process, or one rank of `torchrun --nproc_per_node N predict.py ...`:
    each rank scores a strided shard of the files (in the order one process reports them) and rank 0 writes
    every result, in that order."""
    args = get_predict_parser().parse_args(argv)
    check_scoring_arguments(args)
    if args.explain and args.backend != "torch":
        raise DeepfakeError("--explain needs gradients: use the torch backend (the default)")
    import csv
    import itertools
    from contextlib import ExitStack

    from tqdm import tqdm

    from ..data.images import load_rgb_image
    from ..data.video import is_video_file
    from ..distributed import default_device, rank_device, start_cluster, stop_cluster
    from ..inference.detector import load_detector, reporting_order
    from ..inference.options import PredictOptions
    from ..provenance.c2pa_manifest import load_trust_anchors

    options = PredictOptions(faces=args.faces, face_detector=args.face_detector, frames=args.frames,
                             aggregate=args.aggregate, explain=bool(args.explain))
    is_main = is_main_rank()

    def report_failure(message: str) -> None:
        if args.strict:
            raise DeepfakeError(f"{message} (--strict)")
        tqdm.write(f"skipped: {message}", file=sys.stderr)

    if is_main:  # before any work: a bad output path must not cost the results
        prepare_output_file(args.csv, "--csv")
        prepare_output_folder(args.explain, "--explain")
    paths, missing = collect_inputs(args.image_path, report_failure if is_main else lambda message: None)
    # One file given: its failure is the command's, an error and exit 2. An image is checked before the model
    # loads, decoded at its smallest scale (libjpeg still reads all the data, so a truncated file fails here).
    single_file = len(args.image_path) == 1 and len(paths) == 1 and not Path(args.image_path[0]).is_dir()
    if single_file and not is_video_file(paths[0]):
        load_rgb_image(paths[0], shorter_side=1)
    device = default_device(args.device)
    cluster = start_cluster(device.type)
    show_bar = sys.stderr.isatty() and cluster.is_main and not single_file
    try:
        detector = load_detector(args.weights, str(rank_device(device, cluster)), args.backend, args.amp,
                                 args.evidence, load_trust_anchors(args.trust_anchors), args.threshold)
        mine = cluster.shard(reporting_order(paths))
        bar = tqdm(total=len(paths), unit="file", desc="predicting", file=sys.stderr, leave=False,
                   disable=not show_bar)
        results = detector.predict_files(mine, options, args.batch_size, args.workers, on_progress=bar.update)
        outputs = (output_of(result, args.explain) for result in results)  # streamed as scored, in one process
        if cluster.distributed:
            outputs = cluster.merge_shards(list(outputs))
    finally:
        stop_cluster(cluster)
    if not cluster.is_main:
        return 0  # rank 0 reports for every rank, once
    n_failed = n_scored = n_real = 0
    with ExitStack() as stack:
        csv_writer = None
        if args.csv:
            csv_file = stack.enter_context(open(args.csv, "w", newline=""))
            csv_writer = csv.DictWriter(csv_file, fieldnames=CSV_COLUMNS)
            csv_writer.writeheader()
        # Each result is written as it is scored: an interrupted run keeps every row before the interruption.
        for record, line in itertools.chain((output_of(failure, None) for failure in missing), outputs):
            if line is None:
                if single_file:
                    raise DeepfakeError(f"{record['path']}: {record['error']}")
                n_failed += 1
                report_failure(f"{record['path']}: {record['error']}")
            else:
                n_scored += 1
                n_real += record["label"] == "real"
            if csv_writer:
                csv_writer.writerow(csv_row(record))
                csv_file.flush()
            if args.json or line is not None:
                # Through tqdm, so that on a terminal a result never lands inside the progress bar.
                tqdm.write(json.dumps(record) if args.json else line, file=sys.stdout)
                sys.stdout.flush()
    bar.close()
    if len(paths) + len(missing) > 1 or n_failed:
        print(f"{n_scored} scored, {n_failed} failed", file=sys.stderr)
    if n_real and sys.stderr.isatty():
        print(f"note: {REAL_MEANS}", file=sys.stderr)
    return 1 if n_failed else 0
