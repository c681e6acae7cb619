"""The model card's tables, in Markdown, from the JSON files that the measuring scripts write.

    python tools/card_tables.py [--card runs/card] [--xdomain runs/card] [--weights weights/deepfake_cnn.safetensors]

The data table joins what the checkpoint recorded of each training folder (its images, split) with what the
corpus manifest (data/sources.toml) says of it (class, family, generator or cameras, licence).

Reads what `tools/model_card_figures.sh` (OUT/<set>.json, OUT/<set>.meso.json), `experiments/cross_domain.sh`
(xdomain_<set>.json) and `experiments/reals_only.sh` (reals_only_<set>.json) wrote; a missing file prints as
"not measured", so the card never carries a figure that was not run.
"""
import argparse
import json
from pathlib import Path


from deepfake.corpus.manifest import load_manifest  # noqa: E402

SETS = ("faces-stylegan", "diffusion-coco", "faceswap-frames", "dfdc-faces")
CONDITIONS = ("jpeg_q95", "jpeg_q75", "jpeg_q50", "downscale_0.5x", "gaussian_blur_sigma1", "center_crop_0.8")


def read(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


def metrics_row(name: str, report) -> str:
    if report is None:
        return f"| {name} | not measured |"
    (tn, fp), (fn, tp) = report["confusion_matrix"]
    return (f"| {name} | {report['roc_auc']:.3f} | {report['average_precision']:.3f} | {report['accuracy']:.3f} | "
            f"{report['precision']:.3f} | {report['recall']:.3f} | {report['f1']:.3f} | "
            f"{report['expected_calibration_error']:.3f} | [[{tn}, {fp}], [{fn}, {tp}]] |")


def data(weights: Path) -> None:
    from deepfake.checkpoint import load_model
    _, card = load_model(weights)
    manifest = load_manifest()
    described = {source.name: (source.label, source.family, source.made_by, source.licence)
                 for source in manifest.sources}
    described.update({shared.name: ("both", shared.family, f"{shared.made_by}; reals: {shared.reals}", shared.licence)
                      for shared in manifest.shared})
    print("| folder | class | family | made by | licence | real | fake | train | validation |")
    print("|---|---|---|---|---|---|---|---|---|")
    totals = [0, 0, 0, 0]
    for entry in card.training["data"]:
        label, family, made_by, licence = described.get(entry["name"], ("", "not in the manifest", "", ""))
        counts = [entry["n_real"], entry["n_fake"], entry["n_train"], entry["n_val"]]
        totals = [total + count for total, count in zip(totals, counts)]
        print(f"| `{entry['name']}` | {label} | {family} | {made_by} | {licence} | "
              + " | ".join(f"{count:,}" for count in counts) + " |")
    print("| **all** | | | | | " + " | ".join(f"**{count:,}**" for count in totals) + " |")
    started = card.training.get("initialised_from")
    if started:  # --init-from: the model also carries what the checkpoint it started from was trained on
        print()
        print(started_from_note(started, card.training))


def started_from_note(started: dict, training: dict) -> str:
    """What the checkpoint a run started from (--init-from) trained on, and whether each folder both runs used
    was split alike: the same files, train/validation counts and, where the start recorded them, split settings.
    If not, an image one run validated on may have trained the other."""
    own = {entry["name"]: entry for entry in training["data"]}
    earlier = started.get("data") or []
    settings = started.get("split")
    settings_differ = bool(settings) and any(settings[name] != training.get(name) for name in settings)
    counts = ("file_list_sha256", "n_train", "n_val")
    different = [entry["name"] for entry in earlier if entry["name"] in own and
                 (settings_differ or any(entry.get(key) != own[entry["name"]].get(key) for key in counts))]
    names = ", ".join(f"`{entry['name']}`" for entry in earlier)
    if different:
        verdict = (f"split differently in the two runs: {', '.join(different)}; its validation figures may count "
                   "images the first run trained on")
    elif settings:
        verdict = ("each folder the two runs share was split alike (same files, counts, seed, validation fraction "
                   "and grouping), so no validation image trained either")
    else:
        verdict = ("each folder the two runs share has the same files and train/validation counts in both (the "
                   "first run's split settings are not in this record; its own card has them)")
    return (f"Started from the checkpoint then at `{started['weights']}` ({started['arch']}), trained on {names}: "
            f"{verdict}.")


def in_distribution(card: Path) -> None:
    print("| set (validation split) | ROC-AUC | AP | accuracy | precision | recall | F1 | ECE | "
          "confusion [[TN, FP], [FN, TP]] |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in SETS:
        report = read(card / f"{name}.json")
        print(metrics_row(name, report))
        if report and "per_video" in report:
            print(metrics_row(f"{name}, per video ({report['per_video']['n_videos']} videos)", report["per_video"]))


def robustness(card: Path) -> None:
    print("| ROC-AUC drop under | " + " | ".join(SETS) + " |")
    print("|---|" + "---|" * len(SETS))
    reports = {name: read(card / f"{name}.json") for name in SETS}
    for condition in ("clean",) + CONDITIONS:
        cells = []
        for name in SETS:
            rows = {row["condition"]: row for row in (reports[name] or {}).get("robustness", [])}
            if condition not in rows:
                cells.append("-")
            elif condition == "clean":
                cells.append(f"{rows[condition]['roc_auc']:.3f}")
            else:
                drop = rows[condition]["roc_auc_drop"]
                cells.append(f"**{drop:.3f}**" if drop > 0.03 else f"{drop:.3f}")
        print(f"| {condition} | " + " | ".join(cells) + " |")


def mesonet(card: Path) -> None:
    print("| ROC-AUC (validation split) | " + " | ".join(SETS) + " |")
    print("|---|" + "---|" * len(SETS))
    ours = [read(card / f"{name}.json") for name in SETS]
    print("| **shipped** | " + " | ".join(f"**{r['roc_auc']:.3f}**" if r else "-" for r in ours) + " |")
    meso = {name: read(card / f"{name}.meso.json") for name in SETS}
    checkpoints = next((m for m in meso.values() if m), None)
    for index, entry in enumerate(checkpoints or []):
        label = Path(entry["weights"]).stem
        print(f"| {label} | " + " | ".join(f"{meso[name][index]['roc_auc']:.3f}" if meso[name] else "-"
                                          for name in SETS) + " |")


def held_out(folder: Path, prefix: str, title: str) -> None:
    print(f"| {title} | ROC-AUC | AP | accuracy | precision | recall | F1 | ECE | confusion [[TN, FP], [FN, TP]] |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in SETS:
        print(metrics_row(name, read(folder / f"{prefix}_{name}.json")))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--card", default="runs/card")
    parser.add_argument("--xdomain", default="runs/card")
    parser.add_argument("--weights", default="weights/deepfake_cnn.safetensors")
    args = parser.parse_args()
    card, xdomain = Path(args.card), Path(args.xdomain)
    for title, table in (("Data", lambda: data(Path(args.weights))),
                         ("In distribution", lambda: in_distribution(card)), ("Robustness", lambda: robustness(card)),
                         ("MesoNet", lambda: mesonet(card)),
                         ("Leave one set out", lambda: held_out(xdomain, "xdomain", "held out (all its images)")),
                         ("Reals only", lambda: held_out(xdomain, "reals_only", "set (validation split)"))):
        print(f"\n### {title}\n")
        table()


if __name__ == "__main__":
    main()
