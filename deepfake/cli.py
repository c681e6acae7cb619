"""Argument parsers and the main() of each root script, and of every python -m deepfake.X command (export,
recalibrate, serve, corpus, convert, synthesize): one error style for all of them (run_cli).

No library module imports this one (tests/test_layers.py): the arrows point from the command line in."""
import argparse
import json
import os
import sys
from pathlib import Path
from typing import Callable, List, Optional

from .errors import DeepfakeError

DEFAULT_DATA = "data"


def run_cli(main: Callable[[Optional[List[str]]], int]) -> Callable[[Optional[List[str]]], None]:
    """User errors become one line on stderr and exit 2; Ctrl-C exits 130 without a traceback."""
    def wrapped(argv: Optional[List[str]] = None) -> None:
        try:
            sys.exit(main(argv))
        except DeepfakeError as error:
            if os.environ.get("RANK", "0") == "0":  # under torchrun every rank fails alike: say it once
                print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)
        except BrokenPipeError:
            # `predict.py ... | head`: the reader left; stop quietly like other Unix tools.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(141)
    return wrapped


def weights_argument(parser: argparse.ArgumentParser, nargs=None) -> None:
    from .shipped_weights import DEFAULT_WEIGHTS
    parser.add_argument("--weights", nargs=nargs, default=[str(DEFAULT_WEIGHTS)] if nargs else str(DEFAULT_WEIGHTS),
                        help="checkpoint file (.safetensors, or a training state last.pt); default: the shipped "
                             "weights/deepfake_cnn.safetensors")


def face_detector_argument(parser: argparse.ArgumentParser, default: Optional[str]) -> None:
    from .data.face_detectors import FACE_DETECTORS
    parser.add_argument("--face-detector", choices=list(FACE_DETECTORS), default=default,
                        help="which finds the faces under --faces: mtcnn (a CNN cascade; the default) or haar "
                             "(OpenCV's frontal cascade, faster, misses turned and small faces)"
                             + ("" if default else "; default: the one a face-trained checkpoint was trained with"))


def device_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--amp", action="store_true",
                        help="mixed precision: bfloat16 on CPUs and GPUs that have it (float16 with loss scaling "
                             "on older GPUs); about 2x faster on recent hardware, results differ slightly")


def check_scoring_arguments(args) -> None:
    """The flags predict.py, evaluate.py and the service share, checked before anything loads: one line each."""
    if getattr(args, "batch_size", 1) < 1:
        raise DeepfakeError(f"--batch-size must be at least 1, not {args.batch_size}")
    if (getattr(args, "workers", None) or 0) < 0:
        raise DeepfakeError(f"--workers must be at least 0 (0: decode in the main process), not {args.workers}")
    from .inference.options import check_threshold
    check_threshold(getattr(args, "threshold", None))
    from .distributed import default_device
    default_device(args.device)


def loader_arguments(parser: argparse.ArgumentParser, batch_size: int = 32) -> None:
    parser.add_argument("--batch-size", type=int, default=batch_size,
                        help="images per forward pass (default %(default)s); lower it if memory runs short")
    parser.add_argument("--workers", type=int, default=None,
                        help="decoding processes (default: one per spare CPU core, at most 4; 0: decode in the "
                             "main process)")


# ---------------------------------------------------------------- train.py
def get_train_parser() -> argparse.ArgumentParser:
    from .data.datasets import SPLIT_BY
    from .data.transforms import (
        CROP_LAYOUTS,
        DEFAULT_DEGRADATION_PROBABILITY,
        DEFAULT_EVAL_CROPS,
        DEFAULT_REFRAME_PROBABILITY,
        DEFAULT_RELIGHT_PROBABILITY,
    )
    from .evaluation.metrics import THRESHOLD_RULES
    from .registry import list_models
    from .synthesis.methods import METHODS
    from .training.recipes import PLAIN_DEFAULTS, SHIPPED_ARCH, describe_recipe
    parser = argparse.ArgumentParser(description="Train a deepfake detector on real/ and fake/ image folders. "
                                                 "With no flags but --data it trains with the shipped recipe.")
    # Each flag's dest is its TrainConfig field's name: train_main builds the config by name.
    parser.add_argument("--data", nargs="+", default=[DEFAULT_DATA], dest="data_dirs",
                        help="one or more folders, each with real/ and fake/ (or 0_real/ and 1_fake/) below it")
    parser.add_argument("--arch", default=SHIPPED_ARCH, choices=list_models(),
                        help=f"architecture (default: the shipped one, %(default)s, with the recipe it was trained "
                             f"with: {describe_recipe(SHIPPED_ARCH)}; another --arch takes the plain defaults; "
                             f"any flag given wins)")
    parser.add_argument("--model-kwargs", nargs="+", default=[], metavar="KEY=VALUE",
                        help="architecture arguments (values read as JSON: numbers, true/false, or plain text), "
                             "e.g. cnn_input_size=128; see load_model.py --json for a checkpoint's")
    parser.add_argument("--trainable-blocks", type=int, default=None, metavar="N",
                        help="pretrained backbones: 0 freezes it (the head trains on cached features, in seconds), "
                             "N fine-tunes its last N stages, -1 all of it (default: the architecture's own)")
    parser.add_argument("--layer-decay", type=float, default=1.0, metavar="D",
                        help="pretrained backbones: each stage learns at D times the rate of the stage above it, "
                             "the head at --lr (e.g. 0.75; default 1: one rate)")
    parser.add_argument("--feature-rounds", type=int, default=4, metavar="R",
                        help="frozen backbones: augmented views cached per training image drawn (under "
                             "--epoch-size, only the images drawn); epoch e trains on view e %% R "
                             "(default %(default)s)")
    parser.add_argument("--init-cnn", metavar="W", default=None,
                        help="fused architectures: start the CNN branch from this checkpoint's features "
                             "(e.g. weights/deepfake_cnn.safetensors with --model-kwargs cnn=mobilenet_v2); with --model-kwargs train_cnn=false "
                             "--trainable-blocks 0 only the fused head trains: a stacked ensemble")
    parser.add_argument("--init-from", metavar="W", default=None,
                        help="start every weight from this trained checkpoint of the same --arch, head included, "
                             "and fine-tune it on --data (e.g. weights/deepfake_cnn.safetensors on new "
                             "generators); the optimiser and learning-rate schedule start afresh, unlike --resume")
    parser.add_argument("--epochs", type=int, default=10)
    loader_arguments(parser)
    recipe = "the architecture's recipe, else %s"
    parser.add_argument("--lr", type=float, default=None,
                        help="peak learning rate of the one-cycle schedule (default: " + recipe % PLAIN_DEFAULTS["lr"]
                             + ")")
    parser.add_argument("--weight-decay", type=float, default=None,
                        help="AdamW's decoupled weight decay (default: " + recipe % PLAIN_DEFAULTS["weight_decay"]
                             + ")")
    parser.add_argument("--img-size", type=int, default=None,
                        help="side of the square the network sees, in pixels (default: "
                             + recipe % PLAIN_DEFAULTS["img_size"] + ")")
    parser.add_argument("--resize", type=int, default=None, metavar="N",
                        help="first resize every image's shorter side to N pixels (N = --img-size: the network sees "
                             "the whole image; the shipped model does); 0: crop at native resolution, which keeps "
                             "the finest generator traces but shows the network only a part of a large image "
                             "(default: " + recipe % 0 + ")")
    parser.add_argument("--eval-crops", type=int, choices=sorted(CROP_LAYOUTS), default=DEFAULT_EVAL_CROPS,
                        help="crops whose logits are averaged per image at evaluation and prediction: 1 = centre, "
                             "5 = centre + corners, 9 / 16 = a 3x3 / 4x4 grid from corner to corner")
    parser.add_argument("--mirror-views", action="store_true",
                        help="validate and predict on every crop and its left-right mirror, their logits averaged: "
                             "higher ROC-AUC for twice the network's work per image (the shipped model does not; "
                             "see weights/MODEL_CARD.md)")
    parser.add_argument("--val-fraction", type=float, default=0.2)
    parser.add_argument("--train-fraction", type=float, default=1.0, metavar="F",
                        help="train on this share of the training split (whole folders, each class and --data "
                             "folder on its own), validating on the same images as a full run: points of a "
                             "learning curve, to see whether more data would help")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split-by", choices=SPLIT_BY, default="source",
                        help="source: real/NAME/ and fake/NAME/ (a source video and the fakes made from it) stay "
                             "on one side of the split; folder: each sub-folder of real/ or fake/ (a video's "
                             "frames) on its own; file: every image on its own")
    parser.add_argument("--threshold-rule", choices=THRESHOLD_RULES, default="balanced_accuracy",
                        help="how the decision threshold is chosen on the validation split")
    parser.add_argument("--no-augment", action="store_false", dest="augment",
                        help="no reframing, relighting or blur/JPEG/downscale augmentation")
    parser.add_argument("--format-blind", action="store_true",
                        help="resize and re-encode every training image, real or fake, by one random chain "
                             "(half shrunk to 0.5-1x; JPEG or WebP at quality 60-100, or kept): with sources "
                             "whose formats differ by class (the corpus), the codec then carries no label")
    parser.add_argument("--augment-probability", type=float, default=DEFAULT_DEGRADATION_PROBABILITY, metavar="P",
                        help="probability of each degradation (downscale to 0.5-1x, Gaussian blur, JPEG 40-100), "
                             "drawn independently for every training image (default %(default)s)")
    parser.add_argument("--reframe-probability", type=float, default=DEFAULT_REFRAME_PROBABILITY, metavar="P",
                        help="probability that a training image is first cut to a random window of 75-100%% of "
                             "its width and height (never narrower than the network's view), as users crop photos "
                             "(default %(default)s)")
    parser.add_argument("--relight-probability", type=float, default=None, metavar="P",
                        help="probability of each of a brightness, a contrast and a saturation change of up to "
                             "30%% for a training image, as cameras and edits light pictures (default: "
                             + (recipe % DEFAULT_RELIGHT_PROBABILITY).replace("%", "%%") + ")")
    parser.add_argument("--balance-sets", action=argparse.BooleanOptionalAction, default=None,
                        help="with several --data folders, every epoch draws the same number of images from each "
                             "(the largest set no longer dominates); default: the architecture's recipe, else off")
    parser.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA", dest="mixup_alpha",
                        help="blend each training batch with a shuffled copy of itself, images and labels, by a "
                             "share drawn from Beta(ALPHA, ALPHA) (e.g. 0.2); 0 (default): no mixup, as the "
                             "shipped model")
    parser.add_argument("--ema-decay", type=float, default=0.0, metavar="D",
                        help="validate, calibrate and save an exponential moving average of the weights with "
                             "this decay per step (e.g. 0.999); 0 (default): the weights of the last step, "
                             "as the shipped model")
    parser.add_argument("--pseudo-fakes", nargs="*", choices=sorted(METHODS), default=[], metavar="METHOD",
                        help="add a pseudo-fake of every real training image per method: sbi (the face "
                             "self-blended into an altered copy of itself, a face swap's traces) or autoencoder "
                             "(passed through TAEF2, a latent decoder's traces); made once, from the training "
                             "split's reals only, cached in --pseudo-fake-cache")
    parser.add_argument("--reals-only", action="store_true",
                        help="leave the sets' own fakes out of training and validation: learn from real images "
                             "and their pseudo-fakes alone (needs --pseudo-fakes), the proxy for a generator no "
                             "one has seen; evaluate.py --split val then scores against the real fakes")
    parser.add_argument("--pseudo-fake-cache", default=None, metavar="DIR",
                        help="where pseudo-fakes are kept (default OUT/pseudo_fakes); runs that share it make "
                             "each image once")
    parser.add_argument("--taef2", default=None, metavar="DIR",
                        help="the folder with TAEF2's taef2_encoder.pth and taef2_decoder.pth, for "
                             "--pseudo-fakes autoencoder (default ../shared/anchors/taef2)")
    parser.add_argument("--epoch-size", type=int, default=0, metavar="N",
                        help="images per epoch, drawn afresh each epoch (with --balance-sets, an equal share "
                             "from each set); 0 (default): every training image once")
    parser.add_argument("--faces", action="store_true",
                        help="train on face crops (detected once, cached in OUT/face_cache); prediction with "
                             "the checkpoint then crops faces too")
    face_detector_argument(parser, "mtcnn")
    parser.add_argument("--out", default="runs/train", dest="out_dir",
                        help="folder for best.safetensors, last.pt and log.csv")
    parser.add_argument("--resume", nargs="?", const="auto", default=None,
                        help="continue from a training state (default: OUT/last.pt)")
    device_arguments(parser)
    return parser


def parse_model_kwargs(pairs: List[str]) -> dict:
    """["hidden=128", "cnn=artifact_cnn"] -> {"hidden": 128, "cnn": "artifact_cnn"}."""
    kwargs = {}
    for pair in pairs:
        key, separator, text = pair.partition("=")
        if not separator or not key:
            raise DeepfakeError(f"--model-kwargs takes KEY=VALUE pairs, not {pair!r}")
        try:
            kwargs[key] = json.loads(text)
        except json.JSONDecodeError:
            kwargs[key] = text
    return kwargs


def train_main(argv: Optional[List[str]] = None) -> int:
    """Parse, fill in the architecture's recipe, build the config by field name (it checks itself), fit."""
    args = get_train_parser().parse_args(argv)
    from dataclasses import fields

    from .training.recipes import recipe_defaults
    from .training.trainer import TRAINING_STATE, TrainConfig, fit
    vars(args).update(recipe_defaults(args.arch, vars(args)))
    model_kwargs = parse_model_kwargs(args.model_kwargs)
    if args.trainable_blocks is not None:
        model_kwargs["trainable_blocks"] = args.trainable_blocks
    settings = {field.name: getattr(args, field.name) for field in fields(TrainConfig)
                if getattr(args, field.name, None) is not None}
    settings.update(model_kwargs=model_kwargs, show_progress=sys.stderr.isatty(),
                    resume=str(Path(args.out_dir) / TRAINING_STATE) if args.resume == "auto" else args.resume)
    fit(TrainConfig(**settings))
    return 0


# ---------------------------------------------------------------- evaluate.py
def get_evaluate_parser() -> argparse.ArgumentParser:
    from .inference.aggregate import AGGREGATIONS
    parser = argparse.ArgumentParser(description="Measure a checkpoint on labelled real/ and fake/ folders.")
    parser.add_argument("--data", nargs="+", default=None,
                        help=f"labelled folders (default: the validation split of {DEFAULT_DATA}/)")
    weights_argument(parser, nargs="+")
    parser.add_argument("--split", choices=("all", "val", "train"), default=None,
                        help="which images: all, or one side of the split recorded in the checkpoint "
                             "(default: val without --data, all with it)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="override the checkpoint's threshold (it was chosen on validation data)")
    parser.add_argument("--json", metavar="OUT", default=None, help="also write the metrics as JSON to OUT")
    parser.add_argument("--scores", metavar="CSV", default=None,
                        help="also write every image's path, label and fake probability to CSV (one checkpoint)")
    parser.add_argument("--per-video", nargs="?", const="mean", default=None, metavar="RULE",
                        choices=sorted(AGGREGATIONS),
                        help="also report metrics over videos: each sub-folder of real/ or fake/ (one video's "
                             "frames) is one sample, its frames' probabilities combined by RULE (default mean; "
                             f"{', '.join(sorted(AGGREGATIONS))})")
    parser.add_argument("--robustness", action="store_true",
                        help="also score the images re-encoded as JPEG q95/75/50, downscaled 0.5x, blurred "
                             "(sigma 1) and centre-cropped to 0.8, and print ROC-AUC under each")
    parser.add_argument("--stress", action="store_true",
                        help="sweep lighting (brightness, contrast, gamma), resolution (down-up 0.25-0.75, upscale "
                             "1.5x) and white-box FGSM/PGD evasion at 1, 2, 4, 8/255")
    parser.add_argument("--stress-images", type=int, default=400,
                        help="images (half real, half fake, evenly spread) for --stress's lighting and resolution "
                             "sweep; 0 = all (default 400)")
    parser.add_argument("--attack-images", type=int, default=50,
                        help="fake images attacked by --stress (evenly spread; default 50)")
    parser.add_argument("--transfer-from", metavar="W", default=None,
                        help="with --stress: also attack this checkpoint and score the result on ours (transfer)")
    parser.add_argument("--plots", metavar="DIR", default=None,
                        help="write ROC, precision-recall, confusion matrix, score histogram and reliability PNGs")
    parser.add_argument("--report", metavar="HTML", default=None,
                        help="write one self-contained HTML page: metrics, plots, worst mistakes, model card")
    device_arguments(parser)
    loader_arguments(parser)
    return parser


def write_pictures(evaluations, plots_dir: Optional[str], report_path: Optional[str]) -> None:
    """Plots per checkpoint (a sub-folder each when several are compared) and the HTML report(s)."""
    import tempfile

    from .reporting.plots import save_evaluation_plots
    from .reporting.report import write_report
    several = len(evaluations) > 1
    with tempfile.TemporaryDirectory() as scratch:
        for evaluation in evaluations:
            report = evaluation.report
            stem = Path(report["weights"]).stem
            out_dir = Path(plots_dir or scratch) / (stem if several else "")
            subtitle = (f"{Path(report['weights']).name} ({report['arch']}) on "
                        f"{', '.join(Path(d).name for d in report['data'])}, {report['split']}: "
                        f"{report['n_real']} real, {report['n_fake']} fake")
            plot_paths = save_evaluation_plots(evaluation.labels, evaluation.fake_probabilities,
                                               report["threshold"], report["confusion_matrix"], out_dir, subtitle)
            if "stress" in report:
                from .reporting.plots import save_stress_plot
                plot_paths["stress"] = save_stress_plot(report["stress"], report["roc_auc"], out_dir / "stress.png",
                                                        subtitle)
            if plots_dir:
                print(f"plots: {', '.join(str(path) for path in plot_paths.values())}", file=sys.stderr)
            if report_path:
                target = Path(report_path)
                if several:
                    target = target.with_name(f"{target.stem}.{stem}{target.suffix}")
                write_report(evaluation, plot_paths, target)
                print(f"report: {target}", file=sys.stderr)


def evaluate_main(argv: Optional[List[str]] = None) -> int:
    args = get_evaluate_parser().parse_args(argv)
    from .evaluation.evaluate import evaluate_checkpoints
    from .reporting.tables import format_comparison, format_per_video, format_report, format_robustness, format_stress
    check_scoring_arguments(args)
    for path, flag in ((args.json, "--json"), (args.scores, "--scores"), (args.report, "--report")):
        prepare_output_file(path, flag)  # before any work: a bad output path must not cost the metrics
    prepare_output_folder(args.plots, "--plots")
    data_dirs = args.data or [DEFAULT_DATA]
    split = args.split or ("all" if args.data else "val")
    if args.data is None and not any(Path(DEFAULT_DATA).glob("*/*")):
        raise DeepfakeError(f"{DEFAULT_DATA}/ is empty: put images in {DEFAULT_DATA}/real/ and {DEFAULT_DATA}/fake/ "
                            f"(see {DEFAULT_DATA}/README.md) or pass --data DIR")
    from .distributed import default_device, start_cluster, stop_cluster
    stress = None
    if args.stress:
        from .evaluation.stress import stress_sweep
        from .inference.detector import load_detector
        transfer_from = load_detector(args.transfer_from) if args.transfer_from else None

        def stress(detector, images):
            return stress_sweep(detector, images, args.batch_size, args.workers, args.stress_images,
                                args.attack_images, transfer_from, show_progress=sys.stderr.isatty())
    cluster = start_cluster(default_device(args.device).type)  # torchrun: the ranks share the scoring
    try:
        evaluations = evaluate_checkpoints(args.weights, data_dirs, split, args.batch_size, args.workers,
                                           args.threshold, show_progress=sys.stderr.isatty(),
                                           on_failure=lambda message: print(f"skipped: {message}", file=sys.stderr),
                                           robustness=args.robustness, per_video=args.per_video, stress=stress,
                                           cluster=cluster, device=args.device, amp=args.amp)
    finally:
        stop_cluster(cluster)
    if not cluster.is_main:
        return 0  # rank 0 reports for every rank, once
    reports = [evaluation.report for evaluation in evaluations]
    from .data.datasets import MIN_VALIDATION_PER_CLASS
    smallest = min(min(report["n_real"], report["n_fake"]) for report in reports)
    if 0 < smallest < MIN_VALIDATION_PER_CLASS:  # said as train.py says it: a handful of images measures nothing
        print(f"warning: {reports[0]['n_real']} real and {reports[0]['n_fake']} fake images scored; below "
              f"{MIN_VALIDATION_PER_CLASS} per class the metrics are noise (one image moves accuracy by several "
              f"points): read them as a demonstration, not a measurement", file=sys.stderr)
    print(format_report(reports[0]) if len(reports) == 1 else format_comparison(reports))
    for report in reports:
        if "per_video" in report:
            print(format_per_video(report))
        if "robustness" in report:
            print(format_robustness(report))
        if "stress" in report:
            print(format_stress(report))
    if args.json:
        Path(args.json).write_text(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2) + "\n")
    if args.scores:
        import csv
        with open(args.scores, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "label", "fake_probability"])
            writer.writerows((str(path), label, f"{probability:.6f}") for path, label, probability in
                             zip(evaluations[0].paths, evaluations[0].labels, evaluations[0].fake_probabilities))
    if args.plots or args.report:
        write_pictures(evaluations, args.plots, args.report)
    return 0


# ---------------------------------------------------------------- predict.py
def get_predict_parser() -> argparse.ArgumentParser:
    # Nothing here imports torch: --help and a bad flag answer at once.
    from .inference.aggregate import AGGREGATIONS
    from .provenance.evidence import EVIDENCE_MODES
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


CSV_COLUMNS = ("path", "kind", "label", "fake_probability", "n_faces", "n_frames", "aggregation", "note",
               "explanation", "decided_by", "evidence", "error")
# What a "real" verdict is worth (weights/MODEL_CARD.md: near chance on generators the model never saw): said
# once per run on a terminal, and beside every verdict on the service's page.
REAL_MEANS = "'real' means the model found no sign of generation, not that the picture is authentic"


# A spreadsheet runs a cell that starts with one of these as a formula: a file named "=HYPERLINK(...).jpg"
# would become a link in the user's sheet. OWASP's advice: prefix such a cell with a quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def csv_row(record: dict) -> dict:
    """predict.py's CSV row for one JSON record: a scored file, or a failed one ({"path", "error"}); text
    cells that a spreadsheet would run as a formula are escaped."""
    if "error" in record:
        row = {"path": record["path"], "error": record["error"]}
    else:
        from .provenance.evidence import compact as compact_evidence
        frames = record.get("frames")
        faces = record.get("faces")
        row = {"path": record["path"], "kind": "video" if frames is not None else "image",
               "label": record["label"], "fake_probability": record["fake_probability"],
               "n_faces": "" if faces is None else len(faces), "n_frames": "" if frames is None else len(frames),
               "aggregation": record.get("aggregation", ""), "note": record.get("note", ""),
               "explanation": record.get("explanation", ""), "decided_by": record["decided_by"],
               "evidence": compact_evidence(record["evidence"])}
    return {key: spreadsheet_safe(value) for key, value in row.items()}


def prepare_output_file(path: Optional[str], flag: str) -> None:
    """Checked before any work: its folder is made if missing; a folder in its place, or a folder that cannot
    be made, is one error now rather than a traceback after the results are computed."""
    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise DeepfakeError(f"{flag} {path}: is a folder; give a file name")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise DeepfakeError(f"{flag} {path}: {target.parent} is a file, not a folder") from None
    except PermissionError:
        raise DeepfakeError(f"{flag} {path}: permission denied making {target.parent}") from None
    if not os.access(target.parent, os.W_OK):
        raise DeepfakeError(f"{flag} {path}: cannot write in {target.parent} (permission denied)")


def prepare_output_folder(path: Optional[str], flag: str) -> None:
    """Made now if missing; a file in its place is one error before any work."""
    if path is None:
        return
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise DeepfakeError(f"{flag} {path}: is a file; give a folder")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise DeepfakeError(f"{flag} {path}: a parent of it is a file, not a folder") from None
    except PermissionError:
        raise DeepfakeError(f"{flag} {path}: permission denied") from None


def collect_inputs(given: List[str], on_error: Callable[[str], None]) -> "tuple[list, list]":
    """Every file to score from --image_path (files, folders, glob patterns), each once, and a
    Failure for each path that is not there."""
    from .inference.detector import Failure, collect_media
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
    from .inference.detector import Failure
    from .provenance import deciding_evidence
    if isinstance(result, Failure):
        prefix = f"{result.path}: "
        error = result.message[len(prefix):] if result.message.startswith(prefix) else result.message
        return {"path": result.path, "error": error}, None
    record = result.to_dict()
    if result.explanation is not None:
        from .inference.explain import overlay_path
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

    from .data.images import load_rgb_image
    from .data.video import is_video_file
    from .distributed import default_device, rank_device, start_cluster, stop_cluster
    from .inference.detector import load_detector, reporting_order
    from .inference.options import PredictOptions
    from .provenance.c2pa_manifest import load_trust_anchors

    options = PredictOptions(faces=args.faces, face_detector=args.face_detector, frames=args.frames,
                             aggregate=args.aggregate, explain=bool(args.explain))
    is_main = os.environ.get("RANK", "0") == "0"

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


# ---------------------------------------------------------------- load_model.py
def get_load_model_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Describe a checkpoint: architecture, preprocessing, metrics.")
    weights_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the full model card as JSON")
    return parser


def describe_checkpoint(weights) -> dict:
    from .checkpoint import describe, load_model
    model, card = load_model(weights)
    return {"weights": str(weights), **describe(card, model)}


def load_model_main(argv: Optional[List[str]] = None) -> int:
    args = get_load_model_parser().parse_args(argv)
    description = describe_checkpoint(args.weights)
    if args.json:
        print(json.dumps(description, indent=2))
        return 0
    print(f"checkpoint      {description['weights']}")
    print(f"architecture    {description['arch']} {description['model_kwargs'] or ''}".rstrip())
    print(f"parameters      {description['parameters']:,}")
    resized = f"shorter side resized to {description['resize']} px, then " if description["resize"] else ""
    mirrored = ", each also mirrored" if description["mirror_views"] else ""
    print(f"input           {resized}{description['input_size']}x{description['input_size']} crops, "
          f"up to {description['eval_crops']} per image at inference{mirrored}, their logits averaged")
    print(f"normalisation   mean {description['mean']}, std {description['std']}")
    print(f"threshold       {description['threshold']:.4f} ({description['threshold_rule']})")
    print(f"calibration     P(fake) = sigmoid(logit / {description['temperature']:.4f} "
          f"{description['logit_bias']:+.4f})")
    print(f"classes         0 = {description['class_names'][0]}, 1 = {description['class_names'][1]}")
    print(f"package         deepfake {description['package_version']}")
    for source in description["training_data"]:
        print(f"trained on      {source['name']}: {source['n_real']} real + {source['n_fake']} fake "
              f"({source['n_train']} train / {source['n_val']} validation, file list {source['file_list_sha256']})")
    training = description["training"]
    for record in training.get("adaptations", []):
        print(f"adapted         {record['date']} on {record['n_fake']} fake + {record['n_real']} real images "
              f"(file list {record['file_list_sha256'][:16]}), from base {record['base_sha256'][:16]}")
    if training.get("source"):  # converted from a peer's published weights: no run of ours to describe
        print(f"source          {training['source']}")
    elif training:
        print(f"training        {training.get('best_epoch')} of {training.get('epochs')} epochs kept, "
              f"seed {training.get('seed')}, validation fraction {training.get('val_fraction')}, "
              f"split by {training.get('split_by')}"
              + (f", {training['train_fraction']} of the training side used" if training.get("train_fraction", 1) < 1
                 else ""))
    started = training.get("initialised_from")
    if started:  # --init-from: the model also carries what that checkpoint learnt
        # The path as it was when training started: the file there may since have been replaced by this one.
        print(f"started from    the checkpoint then at {started['weights']} ({started['arch']}), trained on "
              + ", ".join(entry["name"] for entry in started.get("data") or []))
    metrics = description["validation_metrics"]
    if metrics:
        shown = ", ".join(f"{key} {metrics[key]:.4f}" for key in
                          ("accuracy", "precision", "recall", "f1", "roc_auc", "average_precision",
                           "expected_calibration_error")
                          if metrics.get(key) is not None)
        # An adapted checkpoint keeps its base's figures: adaptation measures nothing on the base's split.
        whose = " (the base model's, before adaptation)" if training.get("adaptations") else ""
        print(f"validation      {shown}{whose}")
    return 0


# ---------------------------------------------------------------- python -m deepfake.export
def export_main(argv: Optional[List[str]] = None) -> int:
    from .inference.onnx_export import export_onnx
    parser = argparse.ArgumentParser(prog="python -m deepfake.export",
                                     description="Export a checkpoint to ONNX (model card included).")
    weights_argument(parser)
    parser.add_argument("--onnx", metavar="OUT", required=True, help="where to write the .onnx file")
    parser.add_argument("--opset", type=int, default=18)
    parser.add_argument("--int8", action="store_true",
                        help="quantise weights to int8 (dynamic quantisation; smaller, faster on CPU)")
    args = parser.parse_args(argv)
    out = export_onnx(args.weights, args.onnx, args.opset, args.int8)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB); run it with: python predict.py --backend onnx "
          f"--weights {out} --image_path ...", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- python -m deepfake.recalibrate
def recalibrate_main(argv: Optional[List[str]] = None) -> int:
    from .data.transforms import CROP_LAYOUTS
    from .evaluation.metrics import THRESHOLD_RULES
    from .evaluation.recalibrate import recalibrate_checkpoint
    parser = argparse.ArgumentParser(prog="python -m deepfake.recalibrate",
                                     description="Refit calibration and threshold on a checkpoint's validation split.")
    weights_argument(parser)
    parser.add_argument("--data", nargs="+", required=True, help="the --data folders the checkpoint was trained on")
    parser.add_argument("--out", default=None, help="where to write the result (default: replace --weights)")
    parser.add_argument("--threshold-rule", choices=THRESHOLD_RULES, default="balanced_accuracy")
    parser.add_argument("--eval-crops", type=int, choices=sorted(CROP_LAYOUTS), default=None,
                        help="score with this crop layout from now on (default: the checkpoint's own)")
    parser.add_argument("--mirror-views", action=argparse.BooleanOptionalAction, default=None,
                        help="score every crop and its left-right mirror from now on, or stop (default: as the "
                             "checkpoint does)")
    loader_arguments(parser)
    args = parser.parse_args(argv)
    card = recalibrate_checkpoint(args.weights, args.data, args.out, args.threshold_rule, args.batch_size,
                                  args.workers, args.eval_crops, args.mirror_views)
    metrics = card.validation_metrics
    print(f"wrote {args.out or args.weights}: P(fake) = sigmoid(logit / {card.temperature:.4f} "
          f"{card.logit_bias:+.4f}), threshold {card.threshold:.4f} ({card.threshold_rule}); validation "
          f"ECE {metrics['expected_calibration_error']:.4f}, accuracy {metrics['accuracy']:.4f}, ROC-AUC "
          f"{metrics['roc_auc']:.4f} (up to {card.preprocessing.eval_crops} crops per image"
          f"{', each also mirrored' if card.preprocessing.mirror_views else ''})")
    return 0


# ---------------------------------------------------------------- python -m deepfake.convert
def convert_main(argv: Optional[List[str]] = None) -> int:
    from .models.converters import CONVERTERS
    parser = argparse.ArgumentParser(prog="python -m deepfake.convert",
                                     description="Convert a peer detector's published weights to our checkpoint.")
    parser.add_argument("family", choices=sorted(CONVERTERS))
    parser.add_argument("source", help="the published weights file (mesonet: a Keras .h5; ferretnet: the authors' .pth)")
    parser.add_argument("out", help="where to write the .safetensors checkpoint")
    parser.add_argument("--arch", default=None, help="override the architecture guessed from the file name")
    args = parser.parse_args(argv)
    card = CONVERTERS[args.family](args.source, args.out, args.arch)
    print(f"wrote {args.out} ({card.arch})")
    return 0


# ---------------------------------------------------------------- python -m deepfake.synthesize
def synthesize_main(argv: Optional[List[str]] = None) -> int:
    from .synthesis import METHODS
    parser = argparse.ArgumentParser(prog="python -m deepfake.synthesize",
                                     description="Write a folder of real images and their pseudo-fakes.")
    parser.add_argument("method", choices=sorted(METHODS))
    parser.add_argument("--data", required=True, help="a folder of real images (or a set: its real/ is used)")
    parser.add_argument("--out", required=True, help="the folder to write (an interrupted run resumes in it)")
    parser.add_argument("--taef2", default=None, help="autoencoder: the folder with TAEF2's two .pth files "
                                                       "(default ../shared/anchors/taef2)")
    parser.add_argument("--max-pixels", type=int, default=0, metavar="N",
                        help="a photo above N pixels gives its central crop of N pixels, at native scale, written "
                             "as the pair's real side beside its pseudo-fake (e.g. 1048576: 1024 x 1024; the "
                             "autoencoder costs about 6 s per megapixel on one core); 0 (default): whole images")
    args = parser.parse_args(argv)
    if args.max_pixels < 0:
        raise DeepfakeError(f"--max-pixels must be 0 (whole images) or more, not {args.max_pixels}")
    from .synthesis.folder import synthesize_folder
    manifest = synthesize_folder(args.method, args.data, args.out, args.taef2, sys.stderr.isatty(),
                                 on_failure=lambda message: print(message, file=sys.stderr),
                                 max_pixels=args.max_pixels)
    print(f"{manifest['n_pairs']} pairs in {args.out} ({manifest['n_failed']} skipped); "
          f"train on them with: python train.py --data {args.out}")
    return 0 if manifest["n_pairs"] else 1


# ---------------------------------------------------------------- python -m deepfake.adapt
def adapt_main(argv: Optional[List[str]] = None) -> int:
    from .inference.adaptation import MIN_PER_CLASS, REPLAY_SUFFIX, AdaptSettings
    parser = argparse.ArgumentParser(
        prog="python -m deepfake.adapt",
        description="Teach a checkpoint a new generator from a few dozen examples: only its head learns, on frozen "
                    "features, replaying its own training data so that it keeps most of what it knew (what it "
                    "costs: docs/experiments.md); about 12 s for 48 images on 2 CPU cores. Writes --out and, "
                    "beside it, OUT.replay.safetensors (about 10 MB), the replay set a later adaptation of it "
                    "reads.")
    weights_argument(parser)
    parser.add_argument("--data",
                        help=f"a folder with fake/ (the new generator's images, at least {MIN_PER_CLASS}) and "
                             f"optionally real/ (your own real images, e.g. false positives; at least "
                             f"{MIN_PER_CLASS} if given)")
    parser.add_argument("--out", help="where to write the adapted checkpoint (.safetensors)")
    parser.add_argument("--build-replay", action="store_true",
                        help="only build the checkpoint's replay set from --replay-data, write it beside --weights "
                             "and stop (done once per checkpoint; the shipped weights come with theirs)")
    parser.add_argument("--replay-data", nargs="+", default=[],
                        help=f"the folders the checkpoint was trained on, to build its replay set once (written "
                             f"beside it as *{REPLAY_SUFFIX}); default: the replay file beside --weights, else the "
                             f"folders its card records")
    parser.add_argument("--steps", type=int, default=AdaptSettings.steps, help="optimizer steps on the head")
    parser.add_argument("--seed", type=int, default=AdaptSettings.seed)
    args = parser.parse_args(argv)
    if args.steps < 1:
        raise DeepfakeError(f"--steps must be at least 1, not {args.steps}")
    from .data.datasets import iter_image_files
    from .inference.adaptation import adapt_checkpoint, write_replay
    if args.build_replay:
        if not args.replay_data:
            raise DeepfakeError("--build-replay needs --replay-data: the folders the checkpoint was trained on")
        replay, path = write_replay(Path(args.weights), args.replay_data, show_progress=sys.stderr.isatty())
        print(f"wrote {path}: features of {len(replay.train.crops)} training and {len(replay.val.crops)} "
              f"validation images of {', '.join(replay.data)}")
        return 0
    if not args.data or not args.out:
        raise DeepfakeError("give --data (a folder with fake/ and optionally real/) and --out")
    data = Path(args.data)
    if not (data / "fake").is_dir():
        raise DeepfakeError(f"{data}: no fake/ folder; put the new generator's images in {data / 'fake'}")
    listed = {name: sorted(iter_image_files(data / name, on_error=lambda message: print(message, file=sys.stderr)))
              if (data / name).is_dir() else [] for name in ("fake", "real")}
    out, card = adapt_checkpoint(Path(args.weights), listed["fake"], listed["real"], Path(args.out),
                                 args.replay_data, AdaptSettings(steps=args.steps, seed=args.seed),
                                 show_progress=sys.stderr.isatty(), log=lambda message: print(message, file=sys.stderr))
    record = card.training["adaptations"][-1]
    print(f"wrote {out}: adapted on {record['n_fake']} fake and {record['n_real']} real images "
          f"({record['n_held_out']['fake']} and {record['n_held_out']['real']} of them held out for the threshold), "
          f"replaying {record['replay']['n_train']} of the base model's training images; threshold "
          f"{card.threshold:.4f} (was {record['base_threshold']:.4f})")
    return 0


# ---------------------------------------------------------------- python -m deepfake.corpus
def get_corpus_parser() -> argparse.ArgumentParser:
    from .data.corpus_builder import BuildLimits
    from .data.corpus_manifest import DEFAULT_MANIFEST
    parser = argparse.ArgumentParser(prog="python -m deepfake.corpus",
                                     description="Build the training corpus of many generators and cameras from "
                                                 "the public repositories its manifest names.")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build (or resume building) the corpus into --out")
    where = build.add_mutually_exclusive_group(required=True)
    where.add_argument("--mirror", metavar="DIR",
                       help="a folder of bare git clones, one per repository the manifest names, named "
                            "owner+name (or owner/name.git, or owner+name/repo), each holding the manifest's "
                            "commit: on a machine with network access, `python -m deepfake.corpus build --clone "
                            "DIR` (or `git clone --bare https://github.com/OWNER/NAME DIR/OWNER+NAME` per "
                            "entry), then copy DIR here (data/README.md)")
    where.add_argument("--clone", metavar="DIR",
                       help="git clone each repository (bare) into DIR first, at the manifest's commit; needs "
                            "internet access")
    build.add_argument("--out", default=os.path.join(DEFAULT_DATA, "corpus"),
                       help="where the corpus goes (default data/corpus): sources/, pool/, CORPUS.md")
    build.add_argument("--manifest", default=str(DEFAULT_MANIFEST), help="default: data/sources.toml")
    build.add_argument("--shared", default=str(DEFAULT_MANIFEST.parents[2] / "shared" / "datasets"),
                       help="the shared datasets folder whose sets are linked in (default ../shared/datasets)")
    build.add_argument("--min-side", type=int, default=BuildLimits.min_side,
                       help=f"drop images whose shorter side is below this (default {BuildLimits.min_side} px)")
    build.add_argument("--max-mb", type=float, default=BuildLimits.max_bytes / 2 ** 20,
                       help=f"drop files larger than this (default {BuildLimits.max_bytes // 2 ** 20} MiB)")
    build.add_argument("--no-progress", action="store_true")
    return parser


def corpus_main(argv: Optional[List[str]] = None) -> int:
    args = get_corpus_parser().parse_args(argv)
    from .data.corpus_builder import BuildLimits, CorpusBuilder
    from .data.corpus_card import write_corpus_card
    from .data.corpus_manifest import load_manifest
    from .data.git_snapshot import clone_at, has_commit, mirror_folder
    if args.min_side < 1 or args.max_mb <= 0:
        raise DeepfakeError("--min-side must be at least 1 and --max-mb above 0")
    manifest = load_manifest(args.manifest)

    def locate(source) -> Path:
        if args.clone:
            return clone_at(f"{source.url}.git", source.commit, Path(args.clone) / source.repo.replace("/", "+"))
        git_dir = mirror_folder(Path(args.mirror), source.repo)
        if git_dir is None:
            raise DeepfakeError(f"no mirror of {source.repo} under {args.mirror}")
        if not has_commit(git_dir, source.commit):
            raise DeepfakeError(f"{git_dir}: lacks commit {source.commit[:10]} that the manifest records; "
                                f"update the mirror or use --clone")
        return git_dir

    if args.mirror:
        if not Path(args.mirror).is_dir():
            raise DeepfakeError(f"--mirror {args.mirror}: no such folder")
        present = [source for source in manifest.sources if mirror_folder(Path(args.mirror), source.repo)]
        if manifest.sources and not present:  # one error, not a skip line per source and an empty card
            example = manifest.sources[0].repo
            raise DeepfakeError(f"--mirror {args.mirror}: holds none of the manifest's {len(manifest.sources)} "
                                f"repositories (looked for e.g. {args.mirror}/{example.replace('/', '+')}, a bare "
                                f"clone); make the folder with --clone DIR on a machine with network access "
                                f"(data/README.md)")
    limits = BuildLimits(min_side=args.min_side, max_bytes=int(args.max_mb * 2 ** 20))
    builder = CorpusBuilder(manifest, Path(args.out), limits, show_progress=not args.no_progress,
                            log=lambda message: print(message, file=sys.stderr))
    reports = builder.build(locate, Path(args.shared))
    card = write_corpus_card(manifest, reports, builder.drops, Path(args.out))
    built = {name: report for name, report in reports.items() if not report.missing}
    images = sum(report.kept + report.pooled for report in built.values())
    print(f"{len(built)} of {len(reports)} sources, {images:,} images, {len(builder.drops):,} dropped; "
          f"card: {card}")
    return 0 if len(built) == len(reports) else 1


# ---------------------------------------------------------------- python -m deepfake.serve
def get_serve_parser() -> argparse.ArgumentParser:
    from .data.datasets import worker_count
    from .serve.settings import ServiceSettings
    parser = argparse.ArgumentParser(prog="deepfake-serve", description="Serve the detector on HTTP: a JSON API "
                                     "(/v1/predict, /v1/predict/batch, /v1/health, /v1/model, docs at /docs) and "
                                     "a web page at /.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; there is no TLS)")
    parser.add_argument("--port", type=int, default=8000)
    weights_argument(parser)
    parser.add_argument("--workers", type=int, default=max(1, worker_count(None)),
                        help="threads that decode and crop uploads while the model scores (default: one per "
                             "spare core); the model itself runs on one thread, batching what waits")
    parser.add_argument("--max-upload-mb", type=float, default=50.0,
                        help="largest request body, in MB (default 50); larger ones get 413 before being read")
    parser.add_argument("--api-key", default=os.environ.get("DEEPFAKE_API_KEY"),
                        help="require this key (Authorization: Bearer KEY, or X-API-Key) on /v1/; default: the "
                             "DEEPFAKE_API_KEY environment variable, which keeps it out of the process list")
    parser.add_argument("--queue-size", type=int, default=64,
                        help="predict requests being scored at once, counted once their upload is complete "
                             "(default 64); one more gets 503 and Retry-After")
    parser.add_argument("--upload-timeout", type=float, default=ServiceSettings.upload_timeout_s, metavar="S",
                        help="seconds a request body may take to arrive (default %(default)s); a slower upload "
                             "gets 408, so stalled clients cannot hold the service")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                        help="a web origin (https://tools.example.org) whose pages may post to the service; "
                             "by default only the service's own page may (browsers post forms cross-site "
                             "without asking); repeat for several")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda when available)")
    face_detector_argument(parser, None)
    return parser


def serve_main(argv: Optional[List[str]] = None) -> int:
    args = get_serve_parser().parse_args(argv)
    import ipaddress

    from .extras import needs
    from .inference.detector import load_detector
    with needs("the service (python -m deepfake.serve)"):
        import uvicorn

        from .serve import ServiceSettings, create_app
    if args.max_upload_mb <= 0 or args.queue_size < 1 or args.workers < 1 or args.upload_timeout <= 0:
        raise DeepfakeError("--max-upload-mb and --upload-timeout must be above 0, --queue-size and --workers at "
                            "least 1")
    check_scoring_arguments(args)
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback:
        print(f"warning: serving on {args.host} over plain HTTP (no TLS): uploads, results and any API key "
              f"cross the network readable; put a TLS proxy in front", file=sys.stderr)
    detector = load_detector(args.weights, args.device)
    settings = ServiceSettings(max_upload_mb=args.max_upload_mb, api_key=args.api_key or None,
                               queue_size=args.queue_size, workers=args.workers, face_detector=args.face_detector,
                               upload_timeout_s=args.upload_timeout,
                               allowed_origins=tuple(origin.rstrip("/") for origin in args.allow_origin))
    print(f"deepfake-serve: {detector.card.arch} on {detector.device}, threshold {detector.threshold:.4f}; page at "
          f"http://{args.host}:{args.port}/, API docs at /docs", file=sys.stderr)
    uvicorn.run(create_app(detector, settings), host=args.host, port=args.port, log_level="info")
    return 0


train = run_cli(train_main)
evaluate = run_cli(evaluate_main)
predict = run_cli(predict_main)
load_model = run_cli(load_model_main)
export = run_cli(export_main)
recalibrate = run_cli(recalibrate_main)
serve = run_cli(serve_main)
corpus = run_cli(corpus_main)
convert = run_cli(convert_main)
synthesize = run_cli(synthesize_main)
adapt = run_cli(adapt_main)
