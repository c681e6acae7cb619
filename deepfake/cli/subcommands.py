"""`deepfake SUBCOMMAND ARGS`: one command for every job, the way `yolo predict|train|val` works. Each
subcommand is registered here with the main() of its module and a line of help; `deepfake --help` lists them."""
import sys
from typing import Callable, Dict, List, NamedTuple, Optional

from ..errors import DeepfakeError


class Subcommand(NamedTuple):
    main: str  # the name of its *_main() in deepfake.cli: returns an exit code, run_cli wraps the whole command
    summary: str
    aliases: str  # the older entry points that run the same main()


SUBCOMMANDS: Dict[str, Subcommand] = {
    "predict": Subcommand("predict_main", "score images, videos and folders (real or fake, with provenance)",
                          "predict.py, deepfake-predict"),
    "train": Subcommand("train_main", "train a detector on real/ and fake/ folders", "train.py, deepfake-train"),
    "evaluate": Subcommand("evaluate_main", "measure checkpoints on labelled folders: metrics, plots, a report",
                           "evaluate.py, deepfake-evaluate"),
    "info": Subcommand("load_model_main", "describe a checkpoint: architecture, preprocessing, threshold, data",
                       "load_model.py, deepfake-load-model"),
    "adapt": Subcommand("adapt_main", "teach a checkpoint a new generator from a few dozen examples",
                        "python -m deepfake.adapt, deepfake-adapt"),
    "serve": Subcommand("serve_main", "the HTTP service and its page", "python -m deepfake.serve, deepfake-serve"),
    "corpus": Subcommand("corpus_main", "build the training corpus from its manifest",
                         "python -m deepfake.corpus, deepfake-corpus"),
    "export": Subcommand("export_main", "write a checkpoint as ONNX", "python -m deepfake.export"),
    "convert": Subcommand("convert_main", "a peer's published weights as a checkpoint", "python -m deepfake.convert"),
    "recalibrate": Subcommand("recalibrate_main", "refit calibration and threshold on other validation data",
                              "python -m deepfake.recalibrate"),
    "synthesize": Subcommand("synthesize_main", "write real images beside their pseudo-fakes",
                             "python -m deepfake.synthesize"),
}


def usage() -> str:
    width = max(map(len, SUBCOMMANDS))
    rows = "\n".join(f"  {name:<{width}}  {command.summary} (also: {command.aliases})"
                     for name, command in SUBCOMMANDS.items())
    return ("usage: deepfake SUBCOMMAND [ARGS ...]\n\nTell whether an image, a face or a video is a deepfake or "
            f"AI-generated.\n\nsubcommands:\n{rows}\n\n`deepfake SUBCOMMAND --help` lists a subcommand's flags.")


def dispatch(argv: Optional[List[str]] = None) -> int:
    """Run `deepfake ARGV`; returns the exit code (run_cli turns errors into one line, as for every command)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        raise DeepfakeError(f"no subcommand {name!r}; one of: {', '.join(SUBCOMMANDS)} (deepfake --help)")
    from .. import cli
    command: Callable[[List[str]], int] = getattr(cli, SUBCOMMANDS[name].main)
    sys.argv[0] = f"deepfake {name}"  # what each parser's usage line shows as the program
    return command(rest)
