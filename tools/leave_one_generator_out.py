"""Leave one generator family out: how a recipe does on a kind of fake it never saw.

    python tools/leave_one_generator_out.py --corpus data/corpus --out runs/logo [--family SDXL ...] \\
        [--dry-run] -- TRAIN_FLAGS...
    python tools/leave_one_generator_out.py --corpus data/corpus --out runs/logo_peer --weights W


The families and the folders that hold their fakes come from the manifest (data/sources.toml): StyleGAN faces,
SD 1.x, SDXL, FLUX, GPT image, Gemini edits, face swaps, DFDC. For each family in turn:
1. train.py trains on every folder of corpus/sources/ except the family's own: its fakes leave training, and so
   do its own reals where it has them (a shared set such as diffusion-coco leaves whole, COCO photos included);
2. its checkpoint scores the held-out fakes against the fixed pool of real photos in corpus/pool/, which no run
   ever trains on, and, where the family brought reals of its own, against those too (the same content on
   both sides: the stricter figure); --max-per-folder caps each folder, evenly spaced, for quick tables;
3. the table gives ROC-AUC per family, then the mean and the worst: the model card's headline.
TRAIN_FLAGS after `--` are the recipe (e.g. `--arch mobilenet_v2 --resize 224 --img-size 224 --format-blind`).
A family whose run finished is not trained again; an interrupted one resumes from its last.pt.

With --weights, nothing is trained: one fixed checkpoint (a peer's converted weights, or a model trained elsewhere)
is scored on every family's held-out sets, each folder scored once. A family whose folders the checkpoint trained
on (its card's data) is marked "seen": its figure is in-distribution, not a held-out one, and stays out of the
mean and the worst.
"""
import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List


from deepfake.corpus.builder import POOL_FOLDER, SOURCES_FOLDER  # noqa: E402
from deepfake.corpus.manifest import DEFAULT_MANIFEST, load_manifest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def slug(family: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", family.lower()).strip("-")


def plan(corpus: Path, families: Dict[str, List[str]], chosen: List[str]) -> List[dict]:
    """Per held-out family: the training roots, and the folders whose fakes (and reals) it is scored on."""
    present = sorted(path.name for path in (corpus / SOURCES_FOLDER).iterdir() if path.is_dir())
    unknown = [family for family in chosen if family not in families]
    if unknown:
        raise SystemExit(f"error: no family {', '.join(unknown)} in the manifest; families: {', '.join(families)}")
    runs = []
    for family in chosen or list(families):
        held_out = [name for name in families[family] if name in present]
        if not held_out:
            print(f"skipped: {family}: none of its folders ({', '.join(families[family])}) is in "
                  f"{corpus / SOURCES_FOLDER}", file=sys.stderr)
            continue
        runs.append({"family": family, "held_out": held_out,
                     "train_roots": [str(corpus / SOURCES_FOLDER / name) for name in present if name not in held_out]})
    return runs


class FolderScores:
    """One checkpoint's fake probabilities, each folder scored once: at most `limit` of its images (0: all),
    evenly spaced in sorted order, so every checkpoint of a table is scored on the same images."""

    def __init__(self, weights, limit: int = 0):
        from deepfake.inference.detector import load_detector
        self.detector, self.limit, self.scores = load_detector(weights), limit, {}

    def __call__(self, folder: Path) -> List[float]:
        from tqdm import tqdm

        from deepfake.inference.detector import Prediction, collect_media
        if folder not in self.scores:
            paths = collect_media(folder, on_error=lambda message: print(message, file=sys.stderr))
            if self.limit and len(paths) > self.limit:
                paths = [paths[index * len(paths) // self.limit] for index in range(self.limit)]
            with tqdm(total=len(paths), desc=f"{folder.parent.name}/{folder.name}", unit="img", leave=False) as bar:
                self.scores[folder] = [result.fake_probability
                                       for result in self.detector.predict_paths(paths, on_batch=bar.update)
                                       if isinstance(result, Prediction)]
        return self.scores[folder]


def family_result(scores: FolderScores, corpus: Path, run: dict) -> dict:
    """ROC-AUC of the held-out fakes against the real pool, and against the family's own reals where it has them
    (the same content on both sides: the stricter figure)."""
    from sklearn.metrics import roc_auc_score
    fakes = [p for name in run["held_out"] for p in scores(corpus / SOURCES_FOLDER / name / "fake")]
    reals_by_side = {"pool": scores(corpus / POOL_FOLDER / "real")}
    own = [p for name in run["held_out"] if (corpus / SOURCES_FOLDER / name / "real").is_dir()
           for p in scores(corpus / SOURCES_FOLDER / name / "real")]
    if own:
        reals_by_side["own reals"] = own
    result = {"family": run["family"], "held_out": run["held_out"]}
    for side, reals in reals_by_side.items():
        result[side] = {"roc_auc": float(roc_auc_score([0] * len(reals) + [1] * len(fakes), reals + fakes)),
                        "n_real": len(reals), "n_fake": len(fakes)}
    return result


def run_family(corpus: Path, run: dict, out_root: Path, train_flags: List[str], limit: int = 0) -> dict:
    out = out_root / slug(run["family"])
    if not (out / "done").exists():
        resume = ["--resume"] if (out / "last.pt").exists() else []
        command = [sys.executable, str(ROOT / "train.py"), "--data", *run["train_roots"], *train_flags,
                   "--out", str(out), *resume]
        print(f"[{run['family']}] {' '.join(command)}", file=sys.stderr)
        subprocess.run(command, check=True, cwd=ROOT)
        (out / "done").write_text("trained\n")
    return family_result(FolderScores(out / "best.safetensors", limit), corpus, run)


def score_fixed_checkpoint(corpus: Path, runs: List[dict], weights: str, limit: int = 0) -> List[dict]:
    """Every family's figures for one checkpoint that trains on nothing here; a family whose folders it was
    trained on (its card's data) is marked seen."""
    scores = FolderScores(weights, limit)
    seen = {entry["name"] for entry in scores.detector.card.training.get("data", [])}
    return [dict(family_result(scores, corpus, run), seen=bool(seen & set(run["held_out"]))) for run in runs]


def table(results: List[dict]) -> str:
    lines = ["| held-out family | its folders | fakes | ROC-AUC vs the real pool | ROC-AUC vs its own reals |",
             "|---|---|---|---|---|"]
    for result in results:
        own = f"{result['own reals']['roc_auc']:.3f}" if "own reals" in result else ""
        seen = " (seen in training)" if result.get("seen") else ""
        lines.append(f"| {result['family']}{seen} | {', '.join(result['held_out'])} | {result['pool']['n_fake']:,} | "
                     f"{result['pool']['roc_auc']:.3f} | {own} |")
    held_out = [result for result in results if not result.get("seen")]
    pool_aucs = [result["pool"]["roc_auc"] for result in held_out]
    if pool_aucs:
        worst = min(held_out, key=lambda result: result["pool"]["roc_auc"])
        lines.append(f"| **mean** / **worst** | | | **{sum(pool_aucs) / len(pool_aucs):.3f}** / "
                     f"**{worst['pool']['roc_auc']:.3f}** ({worst['family']}) | |")
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    train_flags = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="data/corpus", help="what python -m deepfake.corpus build wrote")
    parser.add_argument("--manifest", default=str(DEFAULT_MANIFEST))
    parser.add_argument("--out", default="runs/logo", help="one run folder per family, and logo.json / logo.md")
    parser.add_argument("--family", nargs="+", default=[], help="only these families (default: all)")
    parser.add_argument("--dry-run", action="store_true", help="print what each run trains and scores, and stop")
    parser.add_argument("--weights", default=None,
                        help="train nothing: score this checkpoint (a peer) on every family's held-out sets")
    parser.add_argument("--max-per-folder", type=int, default=0,
                        help="score at most this many images of each folder, evenly spaced (default 0: all)")
    args = parser.parse_args(own)
    corpus, out = Path(args.corpus), Path(args.out)
    runs = plan(corpus, load_manifest(args.manifest).families(), args.family)
    if args.dry_run:
        for run in runs:
            print(f"{run['family']}: hold out {', '.join(run['held_out'])}; train on "
                  f"{', '.join(Path(root).name for root in run['train_roots'])}")
        return 0
    if args.weights:
        results = score_fixed_checkpoint(corpus, runs, args.weights, args.max_per_folder)
    else:
        results = [run_family(corpus, run, out, train_flags, args.max_per_folder) for run in runs]
    out.mkdir(parents=True, exist_ok=True)
    record = {"weights": args.weights} if args.weights else {"train_flags": train_flags}
    record["max_per_folder"] = args.max_per_folder
    (out / "logo.json").write_text(json.dumps(dict(record, results=results), indent=2))
    (out / "logo.md").write_text(table(results) + "\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
