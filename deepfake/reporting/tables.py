"""Plain-text tables of evaluation results, as evaluate.py prints them."""
from pathlib import Path
from typing import List


def _number(value) -> str:
    return "undefined" if value is None else f"{value:.4f}"


def format_report(report: dict) -> str:
    (tn, fp), (fn, tp) = report["confusion_matrix"]
    lines = [f"{report['weights']} on {', '.join(report['data'])} ({report['split']}): "
             f"{report['n_real']} real, {report['n_fake']} fake"
             + (f", {report['n_failed']} unreadable skipped" if report["n_failed"] else "")]
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "average_precision",
                "expected_calibration_error"):
        lines.append(f"  {key:<27}{_number(report[key])}")
    lines.append(f"  {'threshold':<27}{report['threshold']:.4f}  ({report['threshold_rule']})")
    lines.append("  confusion matrix            predicted real  predicted fake")
    lines.append(f"    actual real               {tn:>14}  {fp:>14}")
    lines.append(f"    actual fake               {fn:>14}  {tp:>14}")
    for key, reason in report.get("undefined", {}).items():
        lines.append(f"  note: {key} is undefined: {reason}")
    lines.append(f"  {'images/s':<27}{report['images_per_second']}")
    return "\n".join(lines)


COMPARISON_COLUMNS = ("accuracy", "precision", "recall", "f1", "roc_auc", "average_precision", "threshold",
                      "images_per_second")


def format_comparison(reports: List[dict]) -> str:
    """One row per checkpoint on the same images: the answer to "how does it do against X on my data"."""
    first = reports[0]
    header = (f"{len(reports)} checkpoints on {', '.join(first['data'])} ({first['split']}): "
              f"{first['n_real']} real, {first['n_fake']} fake")
    names = [Path(report["weights"]).name for report in reports]
    width = max(len("checkpoint"), *map(len, names))
    rows = [f"{'checkpoint':<{width}}  " + "  ".join(f"{column:>{max(len(column), 8)}}"
                                                    for column in COMPARISON_COLUMNS)]
    for name, report in zip(names, reports):
        cells = []
        for column in COMPARISON_COLUMNS:
            value = report[column]
            text = "n/a" if value is None else (f"{value:.1f}" if column == "images_per_second" else f"{value:.4f}")
            cells.append(f"{text:>{max(len(column), 8)}}")
        rows.append(f"{name:<{width}}  " + "  ".join(cells))
    return "\n".join([header, *rows])


def format_per_video(report: dict) -> str:
    videos = report["per_video"]
    (tn, fp), (fn, tp) = videos["confusion_matrix"]
    metrics = ", ".join(f"{key} {_number(videos[key])}" for key in ("roc_auc", "average_precision", "accuracy", "f1"))
    return (f"per video, {Path(report['weights']).name}: {videos['n_videos']} videos ({videos['n_real']} real, "
            f"{videos['n_fake']} fake; {videos['frames_per_video']} frames each on average, their "
            f"{videos['aggregate']}):\n  {metrics}; at threshold {videos['threshold']:.4f}: "
            f"{fp} real videos flagged, {fn} fake videos missed")


def format_robustness(report: dict) -> str:
    lines = [f"robustness of {Path(report['weights']).name}:",
             f"  {'condition':<24}{'roc_auc':>9}{'drop':>9}{'accuracy':>10}"]
    for row in report["robustness"]:
        auc, drop = row["roc_auc"], row["roc_auc_drop"]
        lines.append(f"  {row['condition']:<24}{'n/a' if auc is None else f'{auc:.4f}':>9}"
                     f"{'n/a' if drop is None else f'{drop:+.4f}':>9}{row['accuracy']:>10.4f}")
    return "\n".join(lines)


def format_stress(report: dict) -> str:
    stress = report["stress"]
    lines = [f"stress sweep of {Path(report['weights']).name} on {stress['n_images']} images "
             f"({stress['runtime_seconds']:.0f}s):"]
    for family in ("lighting", "resolution"):
        for row in stress[family]:
            auc = "n/a" if row["roc_auc"] is None else f"{row['roc_auc']:.4f}"
            lines.append(f"  {family:<11}{row['condition']:<22} roc_auc {auc}  accuracy {row['accuracy']:.4f}")
    for row in stress["adversarial"] + stress.get("transfer", []):
        rate = "n/a" if row["evasion_rate"] is None else f"{row['evasion_rate']:.3f}"
        lines.append(f"  {'evasion':<11}{row['attack'] + ' ' + row['epsilon']:<22} "
                     f"{rate} of {row['n_attacked']} caught fakes flipped to real")
    return "\n".join(lines)
