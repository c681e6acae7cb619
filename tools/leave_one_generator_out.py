"""Leave one generator family out: how a recipe does on a kind of fake it never saw.

    python tools/leave_one_generator_out.py --corpus data/corpus --out runs/logo [--family SDXL ...] \\
        [--dry-run] -- TRAIN_FLAGS...

The families and the folders that hold their fakes come from the manifest (data/sources.toml): StyleGAN faces,
SD 1.x, SDXL, FLUX, GPT image, Gemini edits, face swaps, DFDC. For each family in turn:
1. train.py trains on every folder of corpus/sources/ except the family's own: its fakes leave training, and so
   do its own reals where it has them (a shared set such as diffusion-coco leaves whole, COCO photos included);
2. evaluate.py scores the held-out fakes against the fixed pool of real photos in corpus/pool/, which no run
   ever trains on, and, where the family brought reals of its own, against those too (the same content on
   both sides: the stricter figure);
3. the table gives ROC-AUC per family, then the mean and the worst: the model card's headline.
TRAIN_FLAGS after `--` are the recipe (e.g. `--arch mobilenet_v2 --resize 224 --img-size 224 --format-blind`).
A family whose run finished is not trained again; an interrupted one resumes from its last.pt.
"""
import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deepfake.data.corpus_builder import POOL_FOLDER, SOURCES_FOLDER  # noqa: E402
from deepfake.data.corpus_manifest import DEFAULT_MANIFEST, load_manifest  # noqa: E402

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


def link(target: Path, link_path: Path) -> None:
    link_path.parent.mkdir(parents=True, exist_ok=True)
    if not link_path.is_symlink():
        link_path.symlink_to(target.resolve(), target_is_directory=True)


def evaluation_folders(corpus: Path, run: dict, out: Path) -> Dict[str, Path]:
    """Folders of symbolic links: the held-out fakes with the real pool, and (where there are any) with the
    family's own reals."""
    folders = {}
    versus_pool = out / "versus_pool"
    for name in run["held_out"]:
        link(corpus / SOURCES_FOLDER / name / "fake", versus_pool / "fake" / name)
    link(corpus / POOL_FOLDER / "real", versus_pool / "real" / "pool")
    folders["pool"] = versus_pool
    own_reals = [name for name in run["held_out"] if (corpus / SOURCES_FOLDER / name / "real").is_dir()]
    if own_reals:
        versus_own = out / "versus_own_reals"
        for name in run["held_out"]:
            link(corpus / SOURCES_FOLDER / name / "fake", versus_own / "fake" / name)
        for name in own_reals:
            link(corpus / SOURCES_FOLDER / name / "real", versus_own / "real" / name)
        folders["own reals"] = versus_own
    return folders


def run_family(corpus: Path, run: dict, out_root: Path, train_flags: List[str]) -> dict:
    out = out_root / slug(run["family"])
    best = out / "best.safetensors"
    if not (out / "done").exists():
        resume = ["--resume"] if (out / "last.pt").exists() else []
        command = [sys.executable, str(ROOT / "train.py"), "--data", *run["train_roots"], *train_flags,
                   "--out", str(out), *resume]
        print(f"[{run['family']}] {' '.join(command)}", file=sys.stderr)
        subprocess.run(command, check=True, cwd=ROOT)
        (out / "done").write_text("trained\n")
    result = {"family": run["family"], "held_out": run["held_out"]}
    for name, folder in evaluation_folders(corpus, run, out).items():
        metrics_path = out / f"metrics_{slug(name)}.json"
        subprocess.run([sys.executable, str(ROOT / "evaluate.py"), "--data", str(folder), "--weights", str(best),
                        "--json", str(metrics_path)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        metrics = json.loads(metrics_path.read_text())
        result[name] = {"roc_auc": metrics["roc_auc"], "n_real": metrics["n_real"], "n_fake": metrics["n_fake"],
                        "accuracy": metrics["accuracy"]}
    return result


def table(results: List[dict]) -> str:
    lines = ["| held-out family | its folders | fakes | ROC-AUC vs the real pool | ROC-AUC vs its own reals |",
             "|---|---|---|---|---|"]
    for result in results:
        own = f"{result['own reals']['roc_auc']:.3f}" if "own reals" in result else ""
        lines.append(f"| {result['family']} | {', '.join(result['held_out'])} | {result['pool']['n_fake']:,} | "
                     f"{result['pool']['roc_auc']:.3f} | {own} |")
    pool_aucs = [result["pool"]["roc_auc"] for result in results]
    if pool_aucs:
        worst = min(results, key=lambda result: result["pool"]["roc_auc"])
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
    args = parser.parse_args(own)
    corpus, out = Path(args.corpus), Path(args.out)
    runs = plan(corpus, load_manifest(args.manifest).families(), args.family)
    if args.dry_run:
        for run in runs:
            print(f"{run['family']}: hold out {', '.join(run['held_out'])}; train on "
                  f"{', '.join(Path(root).name for root in run['train_roots'])}")
        return 0
    results = [run_family(corpus, run, out, train_flags) for run in runs]
    out.mkdir(parents=True, exist_ok=True)
    (out / "logo.json").write_text(json.dumps({"train_flags": train_flags, "results": results}, indent=2))
    (out / "logo.md").write_text(table(results) + "\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
