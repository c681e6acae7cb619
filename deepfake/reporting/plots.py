"""Pictures of a detector's quality: ROC, precision-recall, confusion matrix, score histograms, calibration,
and training curves. Figures are built without pyplot (no global state, no display needed) and saved as PNG.
"""
import textwrap
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np
from sklearn import metrics as skm

from ..extras import needs

with needs("plots and reports (--plots, --report)"):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

REAL_COLOUR, FAKE_COLOUR = "#1f77b4", "#d62728"


def _figure(title: str, subtitle: str, size=(5.6, 4.6)) -> Figure:
    figure = Figure(figsize=size, dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(title, fontsize=11, fontweight="bold")
    # Constrained layout keeps the caption clear of the axes; wrapping keeps it inside the figure.
    figure.supxlabel(textwrap.fill(subtitle, int(size[0] * 16)), fontsize=7, color="#555555")
    return figure


def roc_figure(labels, scores, threshold: float, subtitle: str) -> Figure:
    figure = _figure("ROC curve", subtitle)
    axes = figure.add_subplot()
    false_positive_rate, true_positive_rate, _ = skm.roc_curve(labels, scores)
    auc = skm.roc_auc_score(labels, scores)
    axes.plot(false_positive_rate, true_positive_rate, color=FAKE_COLOUR, lw=2, label=f"model (AUC = {auc:.3f})")
    axes.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
    labels, predicted = np.asarray(labels), np.asarray(scores) >= threshold
    operating_fpr = predicted[labels == 0].mean()
    operating_tpr = predicted[labels == 1].mean()
    axes.scatter([operating_fpr], [operating_tpr], s=60, color="black", zorder=3,
                 label=f"threshold {threshold:.3f}: TPR {operating_tpr:.2f}, FPR {operating_fpr:.2f}")
    axes.set(xlabel="false positive rate (real flagged as fake)", ylabel="true positive rate (fakes caught)",
             xlim=(0, 1), ylim=(0, 1.01))
    axes.legend(loc="lower right", fontsize=8)
    axes.grid(alpha=0.3)
    return figure


def precision_recall_figure(labels, scores, threshold: float, subtitle: str) -> Figure:
    figure = _figure("Precision-recall curve", subtitle)
    axes = figure.add_subplot()
    precision, recall, _ = skm.precision_recall_curve(labels, scores)
    average_precision = skm.average_precision_score(labels, scores)
    axes.plot(recall, precision, color=FAKE_COLOUR, lw=2, label=f"model (AP = {average_precision:.3f})")
    labels, predicted = np.asarray(labels), np.asarray(scores) >= threshold
    if predicted.any():
        axes.scatter([predicted[labels == 1].mean()], [labels[predicted].mean()], s=60, color="black", zorder=3,
                     label=f"threshold {threshold:.3f}")
    axes.axhline(labels.mean(), ls="--", color="grey", lw=1, label="chance (share of fakes)")
    axes.set(xlabel="recall (fakes caught)", ylabel="precision (flagged that are fake)", xlim=(0, 1),
             ylim=(0, 1.01))
    axes.legend(loc="lower left", fontsize=8)
    axes.grid(alpha=0.3)
    return figure


def confusion_figure(confusion: Sequence[Sequence[int]], threshold: float, subtitle: str) -> Figure:
    figure = _figure(f"Confusion matrix at threshold {threshold:.3f}", subtitle, size=(4.8, 4.4))
    axes = figure.add_subplot()
    matrix = np.asarray(confusion)
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for row in range(2):
        for column in range(2):
            axes.text(column, row, f"{matrix[row, column]}\n({shares[row, column]:.0%})", ha="center",
                      va="center", fontsize=12, color="white" if shares[row, column] > 0.5 else "black")
    axes.set_xticks([0, 1], ["predicted real", "predicted fake"])
    axes.set_yticks([0, 1], ["actual real", "actual fake"])
    return figure


def histogram_figure(labels, scores, threshold: float, subtitle: str) -> Figure:
    figure = _figure("Fake probability by true class", subtitle)
    axes = figure.add_subplot()
    labels, scores = np.asarray(labels), np.asarray(scores)
    bins = np.linspace(0, 1, 31)
    for label, name, colour in ((0, "real", REAL_COLOUR), (1, "fake", FAKE_COLOUR)):
        if (labels == label).any():
            axes.hist(scores[labels == label], bins=bins, alpha=0.6, color=colour,
                      label=f"{name} images (n={int((labels == label).sum())})")
    axes.axvline(threshold, color="black", ls="--", lw=1.5, label=f"threshold {threshold:.3f}")
    axes.set(xlabel="fake probability", ylabel="images", xlim=(0, 1))
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    return figure


def reliability_figure(labels, scores, subtitle: str, n_bins: int = 10) -> Figure:
    from ..evaluation.metrics import expected_calibration_error
    figure = _figure("Reliability diagram (calibration)", subtitle)
    axes = figure.add_subplot()
    labels, scores = np.asarray(labels, dtype=float), np.asarray(scores)
    bins = np.minimum((scores * n_bins).astype(int), n_bins - 1)
    centres, observed, counts = [], [], []
    for b in range(n_bins):
        if (bins == b).any():
            centres.append(scores[bins == b].mean())
            observed.append(labels[bins == b].mean())
            counts.append(int((bins == b).sum()))
    axes.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    axes.plot(centres, observed, marker="o", color=FAKE_COLOUR, lw=2,
              label=f"model (ECE = {expected_calibration_error(labels, scores):.3f})")
    for x, y, count in zip(centres, observed, counts):
        axes.annotate(str(count), (x, y), textcoords="offset points", xytext=(0, 6), fontsize=7, ha="center")
    axes.set(xlabel="predicted fake probability (bin mean)", ylabel="observed share of fakes", xlim=(0, 1),
             ylim=(0, 1.02))
    axes.legend(loc="upper left", fontsize=8)
    axes.grid(alpha=0.3)
    return figure


def save_evaluation_plots(labels: List[int], scores: List[float], threshold: float, confusion, out_dir,
                          subtitle: str) -> Dict[str, Path]:
    """Write the five evaluation pictures; curves that need both classes are skipped on one-class data."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = {}
    if 0 < sum(labels) < len(labels):
        figures["roc"] = roc_figure(labels, scores, threshold, subtitle)
        figures["precision_recall"] = precision_recall_figure(labels, scores, threshold, subtitle)
    figures["confusion_matrix"] = confusion_figure(confusion, threshold, subtitle)
    figures["score_histogram"] = histogram_figure(labels, scores, threshold, subtitle)
    figures["reliability"] = reliability_figure(labels, scores, subtitle)
    paths = {}
    for name, figure in figures.items():
        paths[name] = out_dir / f"{name}.png"
        figure.savefig(paths[name])
    return paths


def save_training_curves(history: List[Dict], path, subtitle: str) -> Path:
    """Loss, validation ROC-AUC and accuracy per epoch, from the trainer's history rows."""
    epochs = [row["epoch"] for row in history]
    figure = _figure("Training curves", subtitle, size=(8.4, 3.6))
    loss_axes, quality_axes = figure.subplots(1, 2)
    loss_axes.plot(epochs, [row["train_loss"] for row in history], marker="o", color="black")
    loss_axes.set(xlabel="epoch", ylabel="training loss (BCE)", title="loss")
    quality_axes.plot(epochs, [row["val_roc_auc"] or np.nan for row in history], marker="o", color=FAKE_COLOUR,
                      label="validation ROC-AUC")
    quality_axes.plot(epochs, [row["val_accuracy"] for row in history], marker="s", color=REAL_COLOUR,
                      label="validation accuracy")
    quality_axes.set(xlabel="epoch", ylabel="score", title="validation", ylim=(0, 1.02))
    quality_axes.legend(fontsize=8, loc="lower right")
    for axes in (loss_axes, quality_axes):
        axes.grid(alpha=0.3)
        axes.xaxis.get_major_locator().set_params(integer=True)
    figure.savefig(path)
    return Path(path)


def save_stress_plot(stress: Dict, clean_auc: float, path, subtitle: str) -> Path:
    """One panel per family: lighting and resolution as ROC-AUC, evasion as the share of caught fakes flipped."""
    figure = _figure("Stress sweep", subtitle, size=(12, 3.8))
    lighting_axes, resolution_axes, attack_axes = figure.subplots(1, 3)
    for kind, marker in (("brightness", "o"), ("contrast", "s"), ("gamma", "^")):
        rows = [row for row in stress["lighting"] if row["condition"].startswith(kind)]
        points = sorted([(float(row["condition"].split("_")[1]), row["roc_auc"]) for row in rows]
                        + [(1.0, clean_auc)])
        lighting_axes.plot(*zip(*points), marker=marker, label=kind)
    lighting_axes.set(title="lighting", xlabel="factor (1 = unchanged)", ylabel="ROC-AUC", ylim=(0, 1.02))
    resolution = stress["resolution"]
    resolution_axes.plot([row["condition"] for row in resolution], [row["roc_auc"] for row in resolution],
                         marker="o", color="black")
    resolution_axes.set(title="resolution", ylabel="ROC-AUC", ylim=(0, 1.02))
    resolution_axes.tick_params(axis="x", labelrotation=30, labelsize=7)
    for attack_rows in (stress["adversarial"], stress.get("transfer", [])):
        for attack in dict.fromkeys(row["attack"] for row in attack_rows):
            rows = [row for row in attack_rows if row["attack"] == attack]
            attack_axes.plot([0] + [float(row["epsilon"].split("/")[0]) for row in rows],  # "2/255" -> 2
                             [0] + [row["evasion_rate"] or 0 for row in rows], marker="o", label=attack)
    attack_axes.set(title="adversarial evasion", xlabel="L-inf budget (x/255)", ylabel="fakes flipped to real",
                    ylim=(0, 1.02))
    for axes in (lighting_axes, resolution_axes, attack_axes):
        axes.grid(alpha=0.3)
    lighting_axes.legend(fontsize=8)
    attack_axes.legend(fontsize=8)
    figure.savefig(path)
    return Path(path)
