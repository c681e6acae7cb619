"""Adaptation: teach a trained detector a new generator from a few dozen confirmed examples, on a CPU, in seconds
(48 images: 12 s on 2 cores), keeping most of what it knew (docs/experiments.md measures what it costs).

Only the head learns, starting from the head that shipped; the network below it stays frozen, so each image's
features are computed once. Every step pairs the new images with a replay set: features of the base model's own
training split, kept beside its checkpoint (`W.replay.safetensors`, built once from the folders it was trained on).
Every crop is learnt by its label, and on the replay crops the head is also held to the base head's own logits
(learning without forgetting, Li and Hoiem, 2016), which keeps the old generators and cameras ranked as they were
rather than re-fitting them: against labels alone, it cut the largest loss on another family from 0.025 to 0.004
ROC-AUC at k = 32 (mean of three families), for a little less gained on the new one (docs/experiments.md). A weak
pull towards the base head's weights (L2-SP, Li et al., ICML 2018) does the same where neither says anything. The
calibration and the threshold are then chosen afresh on a held-out quarter of the new images plus the base model's
validation split (its replay features), never on an image the head trained on.

The slow part, the replay set (about a minute: a few hundred images through the network), is written once and
reused; an interrupted adaptation then reruns from it in seconds (the new images' features and a few hundred
steps), and its checkpoint is written atomically, or not at all.

Layout: replay.py (the base model's own features, kept beside its checkpoint), head.py (the few hundred AdamW
steps on the head), adapt.py (the new images' features, the held-out quarter, calibration and the record).
The features are training's feature cache's (training/feature_cache.py), the calibration and threshold
evaluation's (metrics.calibrate_on_validation): one implementation of each. `Detector.adapt` is a one-line call to adapt_detector.
"""
from .adapt import HELD_OUT_SHARE, adapt_checkpoint, adapt_detector, adapt_model, held_out_images, save_adapted
from .features import MIN_PER_CLASS, check_adaptable, embed_images
from .head import AdaptSettings, fit_head
from .replay import REPLAY_PER_FOLDER, REPLAY_SUFFIX, Replay, build_replay, replay_path, write_replay

__all__ = ["AdaptSettings", "HELD_OUT_SHARE", "MIN_PER_CLASS", "REPLAY_PER_FOLDER", "REPLAY_SUFFIX", "Replay",
           "adapt_checkpoint", "adapt_detector", "adapt_model", "build_replay", "check_adaptable", "embed_images", "fit_head",
           "held_out_images", "replay_path", "save_adapted", "write_replay"]
