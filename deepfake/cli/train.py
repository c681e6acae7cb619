"""`deepfake train` (train.py): train a detector on labelled folders; the recipe of the architecture fills in what is not given."""
import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional

from ..errors import DeepfakeError
from .common import device_arguments, face_detector_argument, loader_arguments

def get_train_parser() -> argparse.ArgumentParser:
    from ..data.datasets import SPLIT_BY
    from ..data.transforms import CROP_LAYOUTS
    from ..evaluation.metrics import THRESHOLD_RULES
    from ..registry import list_models
    from ..synthesis.methods import METHODS
    from ..training.recipes import PLAIN_DEFAULTS, SHIPPED_ARCH, describe_recipe
    parser = argparse.ArgumentParser(description="Train a deepfake detector on real/ and fake/ image folders. "
                                                 "With no flags but --data it trains with the shipped recipe.")
    # Each flag's dest is its TrainConfig field's name: train_main builds the config by name.
    parser.add_argument("--data", nargs="+", dest="data_dirs",
                        help="one or more folders, each with real/ and fake/ (or 0_real/ and 1_fake/) below it")
    parser.add_argument("--arch", choices=list_models(),
                        help=f"architecture (default: the shipped one, %(default)s, with the recipe it was trained "
                             f"with: {describe_recipe(SHIPPED_ARCH)}; another --arch takes the plain defaults; "
                             f"any flag given wins)")
    parser.add_argument("--model-kwargs", nargs="+", default=[], metavar="KEY=VALUE",
                        help="architecture arguments (values read as JSON: numbers, true/false, or plain text), "
                             "e.g. cnn_input_size=128; see load_model.py --json for a checkpoint's")
    parser.add_argument("--trainable-blocks", type=int, default=None, metavar="N",
                        help="pretrained backbones: 0 freezes it (the head trains on cached features, in seconds), "
                             "N fine-tunes its last N stages, -1 all of it (default: the architecture's own)")
    parser.add_argument("--layer-decay", type=float, metavar="D",
                        help="pretrained backbones: each stage learns at D times the rate of the stage above it, "
                             "the head at --lr (e.g. 0.75; default 1: one rate)")
    parser.add_argument("--feature-rounds", type=int, metavar="R",
                        help="frozen backbones: augmented views cached per training image drawn (under "
                             "--epoch-size, only the images drawn); epoch e trains on view e %% R "
                             "(default %(default)s)")
    parser.add_argument("--init-cnn", metavar="W",
                        help="fused architectures: start the CNN branch from this checkpoint's features "
                             "(e.g. weights/deepfake_cnn.safetensors with --model-kwargs cnn=mobilenet_v2); with --model-kwargs train_cnn=false "
                             "--trainable-blocks 0 only the fused head trains: a stacked ensemble")
    parser.add_argument("--init-branch", dest="init_branches", action="append", metavar="NAME=W",
                        help="two-view architectures: start branch NAME (global or trace) from this trained "
                             "checkpoint's features; once per branch (e.g. --init-branch "
                             "global=weights/deepfake_cnn.safetensors --init-branch trace=runs/trace/best.safetensors)")
    parser.add_argument("--init-from", metavar="W",
                        help="start every weight from this trained checkpoint of the same --arch, head included, "
                             "and fine-tune it on --data (e.g. weights/deepfake_cnn.safetensors on new "
                             "generators); the optimiser and learning-rate schedule start afresh, unlike --resume")
    parser.add_argument("--epochs", type=int)
    loader_arguments(parser)
    recipe = "the architecture's recipe, else %s"
    parser.add_argument("--lr", type=float,
                        help="peak learning rate of the one-cycle schedule (default: " + recipe % PLAIN_DEFAULTS["lr"]
                             + ")")
    parser.add_argument("--weight-decay", type=float,
                        help="AdamW's decoupled weight decay (default: " + recipe % PLAIN_DEFAULTS["weight_decay"]
                             + ")")
    parser.add_argument("--img-size", type=int,
                        help="side of the square the network sees, in pixels (default: "
                             + recipe % PLAIN_DEFAULTS["img_size"] + ")")
    parser.add_argument("--resize", type=int, metavar="N",
                        help="first resize every image's shorter side to N pixels (N = --img-size: the network sees "
                             "the whole image; the shipped model does); 0: crop at native resolution, which keeps "
                             "the finest generator traces but shows the network only a part of a large image "
                             "(default: " + recipe % 0 + ")")
    parser.add_argument("--eval-crops", type=int, choices=sorted(CROP_LAYOUTS),
                        help="crops whose logits are averaged per image at evaluation and prediction: 1 = centre, "
                             "5 = centre + corners, 9 / 16 = a 3x3 / 4x4 grid from corner to corner")
    parser.add_argument("--mirror-views", action="store_true",
                        help="validate and predict on every crop and its left-right mirror, their logits averaged: "
                             "higher ROC-AUC for twice the network's work per image (the shipped model does not; "
                             "see weights/MODEL_CARD.md)")
    parser.add_argument("--val-fraction", type=float)
    parser.add_argument("--train-fraction", type=float, metavar="F",
                        help="train on this share of the training split (whole folders, each class and --data "
                             "folder on its own), validating on the same images as a full run: points of a "
                             "learning curve, to see whether more data would help")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--split-by", choices=SPLIT_BY,
                        help="source: real/NAME/ and fake/NAME/ (a source video and the fakes made from it) stay "
                             "on one side of the split; folder: each sub-folder of real/ or fake/ (a video's "
                             "frames) on its own; file: every image on its own")
    parser.add_argument("--threshold-rule", choices=THRESHOLD_RULES,
                        help="how the decision threshold is chosen on the validation split")
    parser.add_argument("--no-augment", action="store_false", dest="augment",
                        help="no reframing, relighting or blur/JPEG/downscale augmentation")
    parser.add_argument("--format-blind", action="store_true",
                        help="resize and re-encode every training image, real or fake, by one random chain "
                             "(half shrunk to 0.5-1x; JPEG or WebP at quality 60-100, or kept): with sources "
                             "whose formats differ by class (the corpus), the codec then carries no label")
    parser.add_argument("--augment-probability", type=float, metavar="P",
                        help="probability of each degradation (downscale to 0.5-1x, Gaussian blur, JPEG 40-100), "
                             "drawn independently for every training image (default %(default)s)")
    parser.add_argument("--reframe-probability", type=float, metavar="P",
                        help="probability that a training image is first cut to a random window of 75-100%% of "
                             "its width and height (never narrower than the network's view), as users crop photos "
                             "(default %(default)s)")
    parser.add_argument("--relight-probability", type=float, metavar="P",
                        help="probability of each of a brightness, a contrast and a saturation change of up to "
                             "30%% for a training image, as cameras and edits light pictures (default: "
                             + (recipe % PLAIN_DEFAULTS["relight_probability"]).replace("%", "%%") + ")")
    parser.add_argument("--balance-sets", action=argparse.BooleanOptionalAction,
                        help="with several --data folders, every epoch draws the same number of images from each "
                             "(the largest set no longer dominates); default: the architecture's recipe, else off")
    parser.add_argument("--mixup", type=float, metavar="ALPHA", dest="mixup_alpha",
                        help="blend each training batch with a shuffled copy of itself, images and labels, by a "
                             "share drawn from Beta(ALPHA, ALPHA) (e.g. 0.2); 0 (default): no mixup, as the "
                             "shipped model")
    parser.add_argument("--ema-decay", type=float, metavar="D",
                        help="validate, calibrate and save an exponential moving average of the weights with "
                             "this decay per step (e.g. 0.999); 0 (default): the weights of the last step, "
                             "as the shipped model")
    parser.add_argument("--pseudo-fakes", nargs="*", choices=sorted(METHODS), default=[], metavar="METHOD",
                        help="add a pseudo-fake of every real training image per method: sbi (the face "
                             "self-blended into an altered copy of itself, a face swap's traces) or autoencoder "
                             "(passed through TAEF2, a latent decoder's traces); made once, from the training "
                             "split's reals only, cached in --pseudo-fake-cache")
    parser.add_argument("--reals-only", action="store_true",
                        help="leave the sets' own fakes out of training and validation: learn from real images "
                             "and their pseudo-fakes alone (needs --pseudo-fakes), the proxy for a generator no "
                             "one has seen; evaluate.py --split val then scores against the real fakes")
    parser.add_argument("--pseudo-fake-cache", metavar="DIR",
                        help="where pseudo-fakes are kept (default OUT/pseudo_fakes); runs that share it make "
                             "each image once")
    parser.add_argument("--taef2", metavar="DIR",
                        help="the folder with TAEF2's taef2_encoder.pth and taef2_decoder.pth, for "
                             "--pseudo-fakes autoencoder (default ../shared/anchors/taef2)")
    parser.add_argument("--epoch-size", type=int, metavar="N",
                        help="images per epoch, drawn afresh each epoch (with --balance-sets, an equal share "
                             "from each set); 0 (default): every training image once")
    parser.add_argument("--faces", action="store_true",
                        help="train on face crops (detected once, cached in OUT/face_cache); prediction with "
                             "the checkpoint then crops faces too")
    parser.add_argument("--face-crops", action="store_true",
                        help="the --data images are face crops already (as the shared face sets are): train on "
                             "them as they are; prediction with the checkpoint crops faces, as after --faces")
    face_detector_argument(parser, "mtcnn")
    parser.add_argument("--out", dest="out_dir",
                        help="folder for best.safetensors, last.pt and log.csv")
    parser.add_argument("--resume", nargs="?", const="auto", default=None,
                        help="continue from a training state (default: OUT/last.pt)")
    device_arguments(parser)
    # The defaults are TrainConfig's, read from it: one place for them (None where the recipe decides).
    from dataclasses import MISSING, fields

    from ..training.config import TrainConfig
    defaults = {field.name: field.default for field in fields(TrainConfig) if field.default is not MISSING}
    parser.set_defaults(**{action.dest: defaults[action.dest] for action in parser._actions
                           if action.dest in defaults})
    return parser


def parse_pairs(flag: str, pairs: List[str]) -> Dict[str, str]:
    """["global=a.safetensors"] -> {"global": "a.safetensors"}, with a one-line error naming `flag`."""
    parsed = {}
    for pair in pairs:
        key, separator, text = pair.partition("=")
        if not separator or not key:
            raise DeepfakeError(f"{flag} takes KEY=VALUE pairs, not {pair!r}")
        parsed[key] = text
    return parsed


def parse_model_kwargs(pairs: List[str]) -> dict:
    """["hidden=128", "cnn=artifact_cnn"] -> {"hidden": 128, "cnn": "artifact_cnn"}."""
    kwargs = {}
    for key, text in parse_pairs("--model-kwargs", pairs).items():
        try:
            kwargs[key] = json.loads(text)
        except json.JSONDecodeError:
            kwargs[key] = text
    return kwargs


def train_config(args):
    """The TrainConfig a parsed train.py command line means: each flag by its field's name, none dropped."""
    from dataclasses import fields

    from ..training.config import TrainConfig
    from ..training.trainer import TRAINING_STATE
    settings = dict(vars(args))
    model_kwargs = parse_model_kwargs(settings.pop("model_kwargs"))
    settings["init_branches"] = parse_pairs("--init-branch", settings.pop("init_branches") or [])
    trainable_blocks = settings.pop("trainable_blocks")
    if trainable_blocks is not None:
        model_kwargs["trainable_blocks"] = trainable_blocks
    unknown = set(settings) - {field.name for field in fields(TrainConfig)}
    if unknown:  # a flag added to the parser without a field: refuse rather than drop it silently
        raise AssertionError(f"train.py flags with no TrainConfig field: {sorted(unknown)}")
    if settings["resume"] == "auto":
        settings["resume"] = str(Path(settings["out_dir"]) / TRAINING_STATE)
    return TrainConfig(**settings, model_kwargs=model_kwargs, show_progress=sys.stderr.isatty())


def train_main(argv: Optional[List[str]] = None) -> int:
    """Parse, build the config (it fills in the architecture's recipe and checks itself), fit."""
    args = get_train_parser().parse_args(argv)
    from ..training.trainer import fit
    fit(train_config(args))
    return 0
