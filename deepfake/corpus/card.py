"""The corpus card (OUT/CORPUS.md) and the list of dropped files (OUT/dropped.csv), written from the manifest
and the build's reports: every source with its repository, commit, licence and counts, the totals per
generator and camera family, and what was left out and why."""
import csv
from collections import Counter
from pathlib import Path
from typing import Dict, List

from .manifest import Manifest


def source_table(manifest: Manifest, reports: Dict) -> List[str]:
    """One markdown row per source and shared set: the data table of the corpus card and of the model card."""
    rows = ["| folder | class | family | made by | repository @ commit | licence | files | images | real pool | "
            "dropped |", "|---|---|---|---|---|---|---|---|---|---|"]
    for source in manifest.sources:
        report = reports.get(source.name)
        if report is None or report.missing:
            counts = "not built | | | "
        else:
            counts = (f"{report.selected:,} | {report.kept:,} | {report.pooled:,} | "
                      f"{sum(report.dropped.values()):,}")
        processing = f"; {source.tile}-px tiles of grids" if source.processing == "grid" else ""
        cap = f"; capped at {source.cap}" if source.cap else ""
        rows.append(f"| `{source.name}` | {source.label} | {source.family} | {source.made_by}{processing}{cap} | "
                    f"[{source.repo}]({source.url}) @ `{source.commit[:10]}` | {source.licence} | {counts} |")
    for shared in manifest.shared:
        report = reports.get(shared.name)
        images = "not linked" if report is None or report.missing else f"{report.kept:,}"
        rows.append(f"| `{shared.name}` | both | {shared.family} | {shared.made_by}; reals: {shared.reals} | "
                    f"`../shared/datasets/{shared.folder}` (linked) | {shared.licence} | | {images} | | |")
    return rows


def family_totals(manifest: Manifest, reports: Dict) -> List[str]:
    totals: Counter = Counter()
    for source in manifest.sources:
        report = reports.get(source.name)
        if report and not report.missing:
            totals[(source.label, source.family)] += report.kept + report.pooled
    rows = ["| class | family | images (training + pool) |", "|---|---|---|"]
    rows += [f"| {label} | {family} | {count:,} |" for (label, family), count in sorted(totals.items())]
    return rows


def write_corpus_card(manifest: Manifest, reports: Dict, drops: List[Dict[str, str]], out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    with open(out_dir / "dropped.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["source", "path", "reason"])
        writer.writeheader()
        writer.writerows(drops)
    reasons: Counter = Counter()
    for report in reports.values():
        reasons.update(report.dropped)
    missing = [f"- `{name}`: {report.missing}" for name, report in reports.items() if report.missing]
    families = manifest.families()
    lines = [
        "# The corpus",
        "",
        f"Built by `python -m deepfake.corpus build` from `{manifest.path.name if manifest.path else 'the manifest'}`"
        " (the single source of truth: repositories, commits, patterns, classes, families, licences). "
        "Train on `sources/*`; `pool/` holds real photos that no run trains on, for leave-one-generator-out "
        "(`python tools/leave_one_generator_out.py`).",
        "",
        "## Sources",
        "",
        *source_table(manifest, reports),
        "",
        "Files: selected in the repository; images: written to `sources/` (a grid counts its tiles); real pool: "
        "written to `pool/` instead.",
        "",
        "## Per family",
        "",
        *family_totals(manifest, reports),
        "",
        "Leave-one-generator-out families (fakes) and the folders that hold them: "
        + "; ".join(f"**{family}**: {', '.join(names)}" for family, names in families.items()) + ".",
        "",
        "## Dropped",
        "",
        f"{len(drops):,} files or tiles left out, every one listed with its reason in `dropped.csv`:",
        "",
        *[f"- {reason}: {count:,}" for reason, count in reasons.most_common()],
        *(["", "## Not built", "", *missing] if missing else []),
        "",
    ]
    card = out_dir / "CORPUS.md"
    card.write_text("\n".join(lines))
    return card
