"""One self-contained HTML page per evaluation: metrics, plots, the worst mistakes, the model card summary.

Everything is inlined (PNG as base64 data URIs, CSS in the head), so the file can be mailed or archived alone.
"""
import html
from pathlib import Path
from typing import Dict, List

from PIL import Image

from ..data.images import data_uri, load_rgb_image
from ..errors import DeepfakeError
from ..evaluation.evaluate import Evaluation
from ..provenance import read_evidence

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222;
     padding:0 1rem;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.sub{color:#666;margin-top:0} table{border-collapse:collapse;margin:.5rem 0}
td,th{padding:.3rem .8rem;border-bottom:1px solid #eee;text-align:left} th{background:#f6f6f6}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:1rem}
.plots img{width:100%;border:1px solid #eee}
.thumbs{display:flex;flex-wrap:wrap;gap:.8rem} figure{margin:0;width:150px;font-size:.75rem;word-break:break-all}
figure img{width:150px;height:150px;object-fit:cover;border:3px solid #d62728} .none{color:#888}
ul.evidence{margin:.2rem 0 0;padding-left:1rem;color:#555}
"""


def _number(value) -> str:
    return "undefined" if value is None else f"{value:.4f}"


def worst_mistakes(evaluation: Evaluation, label: int, count: int) -> List[Dict]:
    """The most confident errors: reals scored most fake (label 0), or fakes scored most real (label 1)."""
    threshold = evaluation.report["threshold"]
    wrong = [(probability, path) for path, truth, probability in
             zip(evaluation.paths, evaluation.labels, evaluation.fake_probabilities)
             if truth == label and (probability >= threshold) != bool(label)]
    wrong.sort(reverse=(label == 0))
    return [{"path": path, "fake_probability": probability} for probability, path in wrong[:count]]


def _thumbnails(mistakes: List[Dict]) -> str:
    if not mistakes:
        return '<p class="none">None at this threshold.</p>'
    cells = []
    for mistake in mistakes:
        try:
            source = data_uri(load_rgb_image(mistake["path"]), max_side=300, format_name="JPEG")
        except DeepfakeError:
            continue
        cells.append(f'<figure><img src="{source}" alt="{html.escape(Path(mistake["path"]).name)}">'
                     f'<figcaption>{mistake["fake_probability"]:.3f} &mdash; '
                     f'{html.escape(Path(mistake["path"]).name)}{_evidence_list(mistake["path"])}</figcaption>'
                     f'</figure>')
    return f'<div class="thumbs">{"".join(cells)}</div>'


def _evidence_list(path) -> str:
    """What the file's metadata declares (provenance), under its thumbnail: a mistake the metadata would have
    settled is worth seeing as such."""
    evidence = read_evidence(path)
    items = "".join(f'<li title="{html.escape(item.detail)}">{html.escape(item.kind)}: {html.escape(item.says)}'
                    f'{" (verified)" if item.verified else ""}</li>' for item in evidence)
    return f'<ul class="evidence">{items}</ul>' if items else ""


def _metrics_tables(report: Dict) -> str:
    """The metrics and the confusion matrix of a report: of images, or of videos (report["per_video"])."""
    (tn, fp), (fn, tp) = report["confusion_matrix"]
    metric_rows = "".join(
        f"<tr><td>{name}</td><td class=num>{_number(report[key])}</td></tr>"
        for name, key in (("Accuracy", "accuracy"), ("Precision (flagged that are fake)", "precision"),
                          ("Recall (fakes caught)", "recall"), ("F1", "f1"), ("ROC-AUC", "roc_auc"),
                          ("Average precision", "average_precision"),
                          ("Expected calibration error", "expected_calibration_error")))
    return f"""<table><tr><th>Metric</th><th>Value</th></tr>{metric_rows}</table>
<table><tr><th></th><th>predicted real</th><th>predicted fake</th></tr>
<tr><th>actual real</th><td class=num>{tn}</td><td class=num>{fp}</td></tr>
<tr><th>actual fake</th><td class=num>{fn}</td><td class=num>{tp}</td></tr></table>"""


def _per_video_section(report: Dict) -> str:
    videos = report.get("per_video")
    if not videos:
        return ""
    return (f"<h2>Per video: {videos['n_videos']} videos ({videos['n_real']} real, {videos['n_fake']} fake), "
            f"each scored by the {html.escape(videos['aggregate'])} of its frames</h2>{_metrics_tables(videos)}")


def render_report(evaluation: Evaluation, plot_paths: Dict[str, Path], n_thumbnails: int = 8) -> str:
    report, card = evaluation.report, evaluation.card
    notes = "".join(f"<li>{html.escape(key)} is undefined: {html.escape(reason)}</li>"
                    for key, reason in report.get("undefined", {}).items())
    plots = "".join(f'<img src="{data_uri(Image.open(path))}" alt="{html.escape(name)}">'
                    for name, path in plot_paths.items())
    trained_on = "".join(
        f"<li>{html.escape(str(entry['name']))}: {entry['n_real']} real + {entry['n_fake']} fake "
        f"({entry['n_train']} train / {entry['n_val']} validation)</li>" for entry in card.training.get("data", []))
    source = card.training.get("source")
    card_rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in (
        ("Architecture", card.arch), ("Input", f"{card.preprocessing.input_size} px crops, "
                                             f"up to {card.preprocessing.eval_crops} per image"
                                             f"{' and their mirrors' if card.preprocessing.mirror_views else ''}"),
        ("Threshold", f"{card.threshold:.4f} ({card.threshold_rule})"), ("Package version", card.package_version)))
    title = f"{Path(report['weights']).name} on {', '.join(Path(d).name for d in report['data'])}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Deepfake detector report: {html.escape(title)}</title>
<style>{STYLE}</style></head><body>
<h1>Deepfake detector report</h1>
<p class="sub">{html.escape(title)} &middot; split: {html.escape(report['split'])} &middot;
{report['n_real']} real, {report['n_fake']} fake images{f", {report['n_failed']} unreadable skipped"
                                                        if report['n_failed'] else ""}</p>
<h2>Metrics at threshold {report['threshold']:.4f}</h2>
{_metrics_tables(report)}
{f"<ul>{notes}</ul>" if notes else ""}
{_per_video_section(report)}
<h2>Plots</h2><div class="plots">{plots}</div>
<h2>Worst false positives (real images scored most fake)</h2>{_thumbnails(worst_mistakes(evaluation, 0, n_thumbnails))}
<h2>Worst false negatives (fake images scored most real)</h2>{_thumbnails(worst_mistakes(evaluation, 1, n_thumbnails))}
<h2>Model card</h2><table>{card_rows}</table>
{f"<p>Trained on:</p><ul>{trained_on}</ul>" if trained_on else ""}
{f"<p>{html.escape(source)}</p>" if source else ""}
</body></html>
"""


def write_report(evaluation: Evaluation, plot_paths: Dict[str, Path], path) -> Path:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(render_report(evaluation, plot_paths), encoding="utf-8")
    return Path(path)
