"""`deepfake evaluate` (evaluate.py): measure checkpoints on labelled folders, with plots and an HTML report."""
import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

from ..errors import DeepfakeError
from .common import (
    DEFAULT_DATA,
    check_scoring_arguments,
    device_arguments,
    loader_arguments,
    prepare_output_file,
    prepare_output_folder,
    weights_argument,
)

def get_evaluate_parser() -> argparse.ArgumentParser:
    from ..inference.aggregate import AGGREGATIONS
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

    from ..reporting.plots import save_evaluation_plots
    from ..reporting.report import write_report
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
                from ..reporting.plots import save_stress_plot
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
    from ..evaluation.evaluate import evaluate_checkpoints
    from ..reporting.tables import format_comparison, format_per_video, format_report, format_robustness, format_stress
    check_scoring_arguments(args)
    for path, flag in ((args.json, "--json"), (args.scores, "--scores"), (args.report, "--report")):
        prepare_output_file(path, flag)  # before any work: a bad output path must not cost the metrics
    prepare_output_folder(args.plots, "--plots")
    data_dirs = args.data or [DEFAULT_DATA]
    split = args.split or ("all" if args.data else "val")
    if args.data is None and not any(Path(DEFAULT_DATA).glob("*/*")):
        raise DeepfakeError(f"{DEFAULT_DATA}/ is empty: put images in {DEFAULT_DATA}/real/ and {DEFAULT_DATA}/fake/ "
                            f"(see {DEFAULT_DATA}/README.md) or pass --data DIR")
    from ..distributed import default_device, start_cluster, stop_cluster
    stress = None  # or, under --stress, the sweep each checkpoint gets
    if args.stress:
        from ..evaluation.stress import stress_sweep
        from ..inference.detector import load_detector
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
    from ..data.datasets import MIN_VALIDATION_PER_CLASS
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
