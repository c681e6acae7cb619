"""`deepfake SUBCOMMAND ARGS`: one command for every job, the way `yolo predict|train|val` works. Each
subcommand is registered here with the main() of its module and a line of help; `deepfake --help` lists them."""
import sys
from typing import Callable, Dict, List, NamedTuple, Optional


class Subcommand(NamedTuple):
    main: str  # the name of its main() in deepfake.cli, imported when the subcommand runs
    summary: str
    aliases: str  # the older entry points that run the same main()


SUBCOMMANDS: Dict[str, Subcommand] = {
    "predict": Subcommand("predict", "score images, videos and folders (real or fake, with provenance)",
                          "predict.py, deepfake-predict"),
    "train": Subcommand("train", "train a detector on real/ and fake/ folders", "train.py, deepfake-train"),
    "evaluate": Subcommand("evaluate", "measure checkpoints on labelled folders: metrics, plots, a report",
                           "evaluate.py, deepfake-evaluate"),
    "info": Subcommand("load_model", "describe a checkpoint: architecture, preprocessing, threshold, data",
                       "load_model.py, deepfake-load-model"),
    "adapt": Subcommand("adapt", "teach a checkpoint a new generator from a few dozen examples",
                        "python -m deepfake.adapt, deepfake-adapt"),
    "serve": Subcommand("serve", "the HTTP service and its page", "python -m deepfake.serve, deepfake-serve"),
    "corpus": Subcommand("corpus", "build the training corpus from its manifest",
                         "python -m deepfake.corpus, deepfake-corpus"),
    "export": Subcommand("export", "write a checkpoint as ONNX", "python -m deepfake.export"),
    "convert": Subcommand("convert", "a peer's published weights as a checkpoint", "python -m deepfake.convert"),
    "recalibrate": Subcommand("recalibrate", "refit calibration and threshold on other validation data",
                              "python -m deepfake.recalibrate"),
    "synthesize": Subcommand("synthesize", "write real images beside their pseudo-fakes",
                             "python -m deepfake.synthesize"),
}


def usage() -> str:
    width = max(map(len, SUBCOMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {command.summary} (also: {command.aliases})"
                     for name, command in SUBCOMMANDS.items())
    return ("usage: deepfake SUBCOMMAND [ARGS ...]\n\nTell whether an image, a face or a video is a deepfake or "
            f"AI-generated.\n\nsubcommands:\n{rows}\n\n`deepfake SUBCOMMAND --help` lists a subcommand's flags.")


def dispatch(argv: Optional[List[str]] = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        sys.exit(0 if argv else 2)
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"error: no subcommand {name!r}; one of: {', '.join(SUBCOMMANDS)} (deepfake --help)", file=sys.stderr)
        sys.exit(2)
    from .. import cli
    command: Callable = getattr(cli, SUBCOMMANDS[name].main)
    sys.argv[0] = f"deepfake {name}"  # what each parser's usage line shows as the program
    command(rest)
