"""The command line: `deepfake SUBCOMMAND ...` (and `python -m deepfake ...`), one module per subcommand, each
the only code that knows its flags. The root scripts (train.py, evaluate.py, predict.py, load_model.py), the
`deepfake-*` console scripts and the `python -m deepfake.X` modules call the same functions, so no user's
script breaks: `predict.py ARGS`, `deepfake-predict ARGS` and `deepfake predict ARGS` are one command.

No library module imports this package (tests/test_layers.py): the arrows point from the command line in."""
from .adapt import adapt_main
from .common import run_cli
from .convert import convert_main
from .corpus import corpus_main
from .evaluate import evaluate_main
from .export import export_main
from .info import load_model_main
from .predict import predict_main
from .recalibrate import recalibrate_main
from .serve import serve_main
from .synthesize import synthesize_main
from .train import train_main

train = run_cli(train_main)
evaluate = run_cli(evaluate_main)
predict = run_cli(predict_main)
load_model = run_cli(load_model_main)
export = run_cli(export_main)
recalibrate = run_cli(recalibrate_main)
serve = run_cli(serve_main)
corpus = run_cli(corpus_main)
convert = run_cli(convert_main)
synthesize = run_cli(synthesize_main)
adapt = run_cli(adapt_main)


def _deepfake_main(argv=None) -> int:
    from .subcommands import dispatch
    return dispatch(argv)


main = run_cli(_deepfake_main)  # `deepfake SUBCOMMAND ARGS`: the console script and `python -m deepfake`
