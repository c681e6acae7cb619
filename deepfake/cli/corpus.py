"""`deepfake corpus build`: build the training corpus from the manifest's public repositories."""
import argparse
import os
import sys
from pathlib import Path
from typing import List, Optional

from ..errors import DeepfakeError
from .common import DEFAULT_DATA

def get_corpus_parser() -> argparse.ArgumentParser:
    from ..corpus.builder import BuildLimits
    from ..corpus.manifest import DEFAULT_MANIFEST
    parser = argparse.ArgumentParser(prog="python -m deepfake.corpus",
                                     description="Build the training corpus of many generators and cameras from "
                                                 "the public repositories its manifest names.")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build (or resume building) the corpus into --out")
    where = build.add_mutually_exclusive_group(required=True)
    where.add_argument("--mirror", metavar="DIR",
                       help="a folder of bare git clones, one per repository the manifest names, named "
                            "owner+name (or owner/name.git, or owner+name/repo), each holding the manifest's "
                            "commit: on a machine with network access, `python -m deepfake.corpus build --clone "
                            "DIR` (or `git clone --bare https://github.com/OWNER/NAME DIR/OWNER+NAME` per "
                            "entry), then copy DIR here (data/README.md)")
    where.add_argument("--clone", metavar="DIR",
                       help="git clone each repository (bare) into DIR first, at the manifest's commit; needs "
                            "internet access")
    build.add_argument("--out", default=os.path.join(DEFAULT_DATA, "corpus"),
                       help="where the corpus goes (default data/corpus): sources/, pool/, CORPUS.md")
    build.add_argument("--manifest", default=str(DEFAULT_MANIFEST), help="default: data/sources.toml")
    build.add_argument("--shared", default=str(DEFAULT_MANIFEST.parents[2] / "shared" / "datasets"),
                       help="the shared datasets folder whose sets are linked in (default ../shared/datasets)")
    build.add_argument("--min-side", type=int, default=BuildLimits.min_side,
                       help=f"drop images whose shorter side is below this (default {BuildLimits.min_side} px)")
    build.add_argument("--max-mb", type=float, default=BuildLimits.max_bytes / 2 ** 20,
                       help=f"drop files larger than this (default {BuildLimits.max_bytes // 2 ** 20} MiB)")
    build.add_argument("--no-progress", action="store_true")
    return parser


def corpus_main(argv: Optional[List[str]] = None) -> int:
    args = get_corpus_parser().parse_args(argv)
    from ..corpus.builder import BuildLimits, CorpusBuilder
    from ..corpus.card import write_corpus_card
    from ..corpus.manifest import load_manifest
    from ..corpus.git_snapshot import clone_at, has_commit, mirror_folder
    if args.min_side < 1 or args.max_mb <= 0:
        raise DeepfakeError("--min-side must be at least 1 and --max-mb above 0")
    manifest = load_manifest(args.manifest)

    def locate(source) -> Path:
        if args.clone:
            return clone_at(f"{source.url}.git", source.commit, Path(args.clone) / source.repo.replace("/", "+"))
        git_dir = mirror_folder(Path(args.mirror), source.repo)
        if git_dir is None:
            raise DeepfakeError(f"no mirror of {source.repo} under {args.mirror}")
        if not has_commit(git_dir, source.commit):
            raise DeepfakeError(f"{git_dir}: lacks commit {source.commit[:10]} that the manifest records; "
                                f"update the mirror or use --clone")
        return git_dir

    if args.mirror:
        if not Path(args.mirror).is_dir():
            raise DeepfakeError(f"--mirror {args.mirror}: no such folder")
        present = [source for source in manifest.sources if mirror_folder(Path(args.mirror), source.repo)]
        if manifest.sources and not present:  # one error, not a skip line per source and an empty card
            example = manifest.sources[0].repo
            raise DeepfakeError(f"--mirror {args.mirror}: holds none of the manifest's {len(manifest.sources)} "
                                f"repositories (looked for e.g. {args.mirror}/{example.replace('/', '+')}, a bare "
                                f"clone); make the folder with --clone DIR on a machine with network access "
                                f"(data/README.md)")
    limits = BuildLimits(min_side=args.min_side, max_bytes=int(args.max_mb * 2 ** 20))
    builder = CorpusBuilder(manifest, Path(args.out), limits, show_progress=not args.no_progress,
                            log=lambda message: print(message, file=sys.stderr))
    reports = builder.build(locate, Path(args.shared))
    card = write_corpus_card(manifest, reports, builder.drops, Path(args.out))
    built = {name: report for name, report in reports.items() if not report.missing}
    images = sum(report.kept + report.pooled for report in built.values())
    print(f"{len(built)} of {len(reports)} sources, {images:,} images, {len(builder.drops):,} dropped; "
          f"card: {card}")
    return 0 if len(built) == len(reports) else 1
