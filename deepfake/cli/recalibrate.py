"""`deepfake recalibrate`: refit a checkpoint's calibration and threshold on other validation data."""
import argparse
from typing import List, Optional

from .common import loader_arguments, weights_argument

def recalibrate_main(argv: Optional[List[str]] = None) -> int:
    from ..data.transforms import CROP_LAYOUTS
    from ..evaluation.metrics import THRESHOLD_RULES
    from ..evaluation.recalibrate import recalibrate_checkpoint
    parser = argparse.ArgumentParser(prog="python -m deepfake.recalibrate",
                                     description="Refit calibration and threshold on a checkpoint's validation split.")
    weights_argument(parser)
    parser.add_argument("--data", nargs="+", required=True, help="the --data folders the checkpoint was trained on")
    parser.add_argument("--out", default=None, help="where to write the result (default: replace --weights)")
    parser.add_argument("--threshold-rule", choices=THRESHOLD_RULES, default="balanced_accuracy")
    parser.add_argument("--eval-crops", type=int, choices=sorted(CROP_LAYOUTS), default=None,
                        help="score with this crop layout from now on (default: the checkpoint's own)")
    parser.add_argument("--mirror-views", action=argparse.BooleanOptionalAction, default=None,
                        help="score every crop and its left-right mirror from now on, or stop (default: as the "
                             "checkpoint does)")
    loader_arguments(parser)
    args = parser.parse_args(argv)
    card = recalibrate_checkpoint(args.weights, args.data, args.out, args.threshold_rule, args.batch_size,
                                  args.workers, args.eval_crops, args.mirror_views)
    metrics = card.validation_metrics
    print(f"wrote {args.out or args.weights}: P(fake) = sigmoid(logit / {card.temperature:.4f} "
          f"{card.logit_bias:+.4f}), threshold {card.threshold:.4f} ({card.threshold_rule}); validation "
          f"ECE {metrics['expected_calibration_error']:.4f}, accuracy {metrics['accuracy']:.4f}, ROC-AUC "
          f"{metrics['roc_auc']:.4f} (up to {card.preprocessing.eval_crops} crops per image"
          f"{', each also mirrored' if card.preprocessing.mirror_views else ''})")
    return 0
