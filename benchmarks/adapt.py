"""k-shot adaptation, measured over the leave-one-generator-out families (issue 36).

    python benchmarks/adapt.py --logo runs/logo_v2_recipe --corpus data/corpus --out runs/adapt \\
        [--k 8 32 128] [--plot docs/adaptation_curve.png]

For each family, start from the model that never saw it (`--logo`: what tools/leave_one_generator_out.py trained,
one folder per family) and adapt it (deepfake/adaptation/, the code behind python -m deepfake.adapt) on k of
the family's fakes, and as many of its own reals where it brought some. Then score, with the adapted head, the
rest of that family (up to --test-per-family fakes never used for adaptation) and every other family's fakes
(up to --per-folder of each folder), each against the same real pool (corpus/pool/real, which no run trains on).
Prints, per family and k: the held-out family's ROC-AUC before and after, the largest loss on any other family,
and the wall time of the adaptation (features of the k new images included; the replay set is built once per
model beforehand and not counted). Results per family are kept in OUT/<family>.json, so a rerun skips them.
"""
import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from sklearn.metrics import roc_auc_score  # noqa: E402

from deepfake.checkpoint import load_model  # noqa: E402
from deepfake.corpus.builder import POOL_FOLDER, SOURCES_FOLDER  # noqa: E402
from deepfake.corpus.manifest import DEFAULT_MANIFEST, load_manifest  # noqa: E402
from deepfake.data.datasets import iter_image_files  # noqa: E402
from deepfake.adaptation import (  # noqa: E402
    AdaptSettings,
    Replay,
    adapt_model,
    build_replay,
    embed_images,
    replay_path,
)
from leave_one_generator_out import plan, slug  # noqa: E402


def by_hash(paths):
    """A fixed shuffle: which images adapt and which test depends on their names only."""
    return sorted(paths, key=lambda path: hashlib.sha256(str(path).encode()).hexdigest())


def images_of(folder: Path, limit: int = 0):
    paths = by_hash(iter_image_files(folder)) if folder.is_dir() else []
    return paths[:limit] if limit else paths


def auc(head, reals, fakes) -> float:
    real_logits, fake_logits = reals.image_logits(head).tolist(), fakes.image_logits(head).tolist()
    return float(roc_auc_score([0] * len(real_logits) + [1] * len(fake_logits), real_logits + fake_logits))


def measure_family(run: dict, runs: list, corpus: Path, logo: Path, ks, per_folder: int, test_per_family: int,
                   pool_size: int, settings: AdaptSettings = AdaptSettings()) -> dict:
    weights = logo / slug(run["family"]) / "best.safetensors"
    model, card = load_model(weights)
    stored = replay_path(weights)
    if stored.is_file():
        replay = Replay.load(stored)
    else:
        replay = build_replay(model, card, card.training["data_dirs"], per_folder=32, show_progress=True)
        replay.save(stored)
    own_fakes = [path for name in run["held_out"] for path in images_of(corpus / SOURCES_FOLDER / name / "fake")]
    own_reals = [path for name in run["held_out"] for path in images_of(corpus / SOURCES_FOLDER / name / "real")]
    own_fakes, own_reals = by_hash(own_fakes), by_hash(own_reals)
    # At most half of a small family adapts, so that the rest can test it; a k larger than that is not measured.
    n_adapt = min(max(ks), len(own_fakes) // 2)
    adapt_fakes, test_fakes = own_fakes[:n_adapt], own_fakes[n_adapt:][:test_per_family]
    pool = images_of(corpus / POOL_FOLDER / "real", pool_size)

    def features(paths, label):
        return embed_images(model, card, paths, [label] * len(paths))[0]

    reals = features(pool, 0)
    test_sets = {run["family"]: features(test_fakes, 1)}
    for other in runs:
        if other["family"] != run["family"]:
            test_sets[other["family"]] = features(
                [path for name in other["held_out"] for path in images_of(corpus / SOURCES_FOLDER / name / "fake",
                                                                          per_folder)], 1)
    before = {family: auc(model.head, reals, fakes) for family, fakes in test_sets.items()}
    result = {"family": run["family"], "n_test_fakes": len(test_fakes), "n_pool": len(pool),
              "before": before, "k": {}}
    for k in (k for k in ks if k <= n_adapt):
        started = time.perf_counter()
        adapted, adapted_card, _ = adapt_model(model, card, replay, adapt_fakes[:k], own_reals[:k],
                                               settings=settings, log=lambda message: None)
        seconds = time.perf_counter() - started
        after = {family: auc(adapted.head, reals, fakes) for family, fakes in test_sets.items()}
        others = [after[family] - before[family] for family in after if family != run["family"]]
        result["k"][str(k)] = {"after": after, "seconds": seconds, "n_real": min(k, len(own_reals)),
                               "worst_other_change": min(others), "threshold": adapted_card.threshold}
        print(f"{run['family']}: k={k}: {before[run['family']]:.3f} -> {after[run['family']]:.3f}; "
              f"worst other family {min(others):+.3f}; {seconds:.1f} s", file=sys.stderr)
    return result


def table(results, ks) -> str:
    lines = ["| held-out family | before | " + " | ".join(f"k = {k}" for k in ks) +
             " | worst change on another family (k = " + ", ".join(map(str, ks)) + ") | seconds at k = "
             f"{max(ks)} |", "|---|---|" + "---|" * len(ks) + "---|---|"]
    for result in results:
        family, measured = result["family"], result["k"]
        cells = [f"{measured[str(k)]['after'][family]:.3f}" if str(k) in measured else "-" for k in ks]
        changes = ", ".join(f"{measured[str(k)]['worst_other_change']:+.3f}" if str(k) in measured else "-"
                            for k in ks)
        seconds = f"{measured[str(max(ks))]['seconds']:.0f}" if str(max(ks)) in measured else "-"
        lines.append(f"| {family} | {result['before'][family]:.3f} | " + " | ".join(cells) +
                     f" | {changes} | {seconds} |")
    means = []
    for k in ks:
        afters = [result["k"][str(k)]["after"][result["family"]] for result in results if str(k) in result["k"]]
        means.append(f"**{sum(afters) / len(afters):.3f}** ({len(afters)})" if afters else "-")
    before = sum(result["before"][result["family"]] for result in results) / len(results)
    lines.append(f"| **mean** (families) | {before:.3f} | " + " | ".join(means) + " | | |")
    return "\n".join(lines)


def plot(results, ks, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, axis = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    for result in results:
        family = result["family"]
        measured = [k for k in ks if str(k) in result["k"]]
        axis.plot([0] + measured, [result["before"][family]] + [result["k"][str(k)]["after"][family] for k in measured],
                  marker="o", label=family)
    axis.set_xscale("symlog", linthresh=8)
    axis.set_xticks([0] + list(ks), ["0"] + [str(k) for k in ks])
    axis.axhline(0.9, color="grey", linestyle=":", linewidth=1)
    axis.set_xlabel("fakes of the new family adapted on (k)")
    axis.set_ylabel("ROC-AUC on the rest of that family vs real pool")
    axis.set_title("Adapting the head to a generator the model never saw")
    axis.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logo", required=True, help="tools/leave_one_generator_out.py's --out (one model per family)")
    parser.add_argument("--corpus", default="data/corpus")
    parser.add_argument("--manifest", default=str(DEFAULT_MANIFEST))
    parser.add_argument("--out", default="runs/adapt")
    parser.add_argument("--k", type=int, nargs="+", default=[8, 32, 128])
    parser.add_argument("--per-folder", type=int, default=60, help="fakes per folder of each other family")
    parser.add_argument("--test-per-family", type=int, default=200, help="held-out fakes of the adapted family")
    parser.add_argument("--pool", type=int, default=200, help="real images of the pool")
    parser.add_argument("--family", nargs="+", default=[])
    parser.add_argument("--plot", default=None, help="where to draw k against ROC-AUC (PNG)")
    parser.add_argument("--anchor", type=float, default=AdaptSettings.anchor, help="L2-SP pull (adaptation.py)")
    parser.add_argument("--steps", type=int, default=AdaptSettings.steps)
    parser.add_argument("--preserve", type=float, default=AdaptSettings.preserve,
                        help="weight holding the replay logits to the base head's (0: labels alone)")
    parser.add_argument("--new-per-step", type=int, default=AdaptSettings.new_per_step)
    parser.add_argument("--replay-per-step", type=int, default=AdaptSettings.replay_per_step)
    args = parser.parse_args()
    corpus, logo, out = Path(args.corpus), Path(args.logo), Path(args.out)
    runs = plan(corpus, load_manifest(args.manifest).families(), [])
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for run in runs:
        if args.family and run["family"] not in args.family:
            continue
        saved = out / f"{slug(run['family'])}.json"
        if not saved.is_file():
            if not (logo / slug(run["family"]) / "done").is_file():  # the tool marks a finished run so
                print(f"skipped {run['family']}: no finished run in {logo / slug(run['family'])}", file=sys.stderr)
                continue
            settings = AdaptSettings(steps=args.steps, anchor=args.anchor, new_per_step=args.new_per_step,
                                     replay_per_step=args.replay_per_step, preserve=args.preserve)
            saved.write_text(json.dumps(measure_family(run, runs, corpus, logo, args.k, args.per_folder,
                                                       args.test_per_family, args.pool, settings), indent=2))
        results.append(json.loads(saved.read_text()))
    if results:
        print(table(results, args.k))
        if args.plot:
            plot(results, args.k, Path(args.plot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
