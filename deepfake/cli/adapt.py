"""`deepfake adapt`: teach a checkpoint a new generator from a few dozen examples."""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

from ..errors import DeepfakeError
from .common import weights_argument

def adapt_main(argv: Optional[List[str]] = None) -> int:
    from ..adaptation import MIN_PER_CLASS, REPLAY_SUFFIX, AdaptSettings
    parser = argparse.ArgumentParser(
        prog="python -m deepfake.adapt",
        description="Teach a checkpoint a new generator from a few dozen examples: only its head learns, on frozen "
                    "features, replaying its own training data so that it keeps most of what it knew (what it "
                    "costs: docs/experiments.md); about 12 s for 48 images on 2 CPU cores. Writes --out and, "
                    "beside it, OUT.replay.safetensors (about 10 MB), the replay set a later adaptation of it "
                    "reads.")
    weights_argument(parser)
    parser.add_argument("--data",
                        help=f"a folder with fake/ (the new generator's images, at least {MIN_PER_CLASS}) and "
                             f"optionally real/ (your own real images, e.g. false positives; at least "
                             f"{MIN_PER_CLASS} if given)")
    parser.add_argument("--out", help="where to write the adapted checkpoint (.safetensors)")
    parser.add_argument("--build-replay", action="store_true",
                        help="only build the checkpoint's replay set from --replay-data, write it beside --weights "
                             "and stop (done once per checkpoint; the shipped weights come with theirs)")
    parser.add_argument("--replay-data", nargs="+", default=[],
                        help=f"the folders the checkpoint was trained on, to build its replay set once (written "
                             f"beside it as *{REPLAY_SUFFIX}); default: the replay file beside --weights, else the "
                             f"folders its card records")
    parser.add_argument("--steps", type=int, default=AdaptSettings.steps, help="optimizer steps on the head")
    parser.add_argument("--seed", type=int, default=AdaptSettings.seed)
    args = parser.parse_args(argv)
    if args.steps < 1:
        raise DeepfakeError(f"--steps must be at least 1, not {args.steps}")
    from ..data.datasets import iter_image_files
    from ..adaptation import adapt_checkpoint, write_replay
    if args.build_replay:
        if not args.replay_data:
            raise DeepfakeError("--build-replay needs --replay-data: the folders the checkpoint was trained on")
        replay, path = write_replay(Path(args.weights), args.replay_data, show_progress=sys.stderr.isatty())
        n_train, n_val = len(replay.train.crops_per_image), len(replay.val.crops_per_image)
        print(f"wrote {path}: features of {n_train} training and {n_val} "
              f"validation images of {', '.join(replay.data)}")
        return 0
    if not args.data or not args.out:
        raise DeepfakeError("give --data (a folder with fake/ and optionally real/) and --out")
    data = Path(args.data)
    if not (data / "fake").is_dir():
        raise DeepfakeError(f"{data}: no fake/ folder; put the new generator's images in {data / 'fake'}")
    listed = {name: sorted(iter_image_files(data / name, on_error=lambda message: print(message, file=sys.stderr)))
              if (data / name).is_dir() else [] for name in ("fake", "real")}
    out, card = adapt_checkpoint(Path(args.weights), listed["fake"], listed["real"], Path(args.out),
                                 args.replay_data, AdaptSettings(steps=args.steps, seed=args.seed),
                                 show_progress=sys.stderr.isatty(), log=lambda message: print(message, file=sys.stderr))
    record = card.training["adaptations"][-1]
    print(f"wrote {out}: adapted on {record['n_fake']} fake and {record['n_real']} real images "
          f"({record['n_held_out']['fake']} and {record['n_held_out']['real']} of them held out for the threshold), "
          f"replaying {record['replay']['n_train']} of the base model's training images; threshold "
          f"{card.threshold:.4f} (was {record['base_threshold']:.4f})")
    return 0
