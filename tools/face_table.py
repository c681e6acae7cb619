"""The face model's protocol table, in Markdown, from what tools/face_protocol.sh wrote (runs/faces/ROW/*.json).

    python tools/face_table.py [--runs runs/faces] [--rows sbi plain reals-only]

Per row: each face family held out in turn and scored against its own reals (faceswap-frames per frame and per
video), the worst of the three (the rule's first criterion), then the held-in families' validation figures
(the rule's second). A figure whose run did not finish prints as "not measured".
"""
import argparse
import json
from pathlib import Path

FAMILIES = {"faceswap-frames": "face swaps", "dfdc-faces": "DFDC", "faces-stylegan": "StyleGAN"}


def read(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


def figure(report, per_video: bool = False) -> str:
    if report is None:
        return "not measured"
    if per_video:
        return f"{report['roc_auc']:.3f} ({report['per_video']['roc_auc']:.3f} per video)"
    return f"{report['roc_auc']:.3f}"


def held_out_row(runs: Path, row: str) -> str:
    cells, worst = [], []
    held_in = {family: [] for family in FAMILIES}
    for family in FAMILIES:
        if row == "reals-only":
            report = read(runs / row / f"all_on_{family}.json")
        else:
            report = read(runs / row / f"without-{family}_on_{family}.json")
            for other in FAMILIES:
                if other != family:
                    held_in[other].append(read(runs / row / f"without-{family}_on_{other}.json"))
        cells.append(figure(report, family == "faceswap-frames"))
        worst.append(report["roc_auc"] if report else None)
    worst_cell = f"**{min(worst):.3f}**" if None not in worst else "not measured"
    in_distribution = " / ".join(
        "-" if row == "reals-only" or not reports or None in reports
        else f"{sum(r['roc_auc'] for r in reports) / len(reports):.3f}" for reports in held_in.values())
    return f"| {row} | {' | '.join(cells)} | {worst_cell} | {in_distribution} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/faces")
    parser.add_argument("--rows", nargs="+", default=["sbi", "plain", "reals-only"])
    args = parser.parse_args()
    print("| row | face swaps held out | DFDC held out | StyleGAN held out | worst | held in (mean of its two runs): "
          "face swaps / DFDC / StyleGAN |")
    print("|---|---|---|---|---|---|")
    for row in args.rows:
        print(held_out_row(Path(args.runs), row))


if __name__ == "__main__":
    main()
