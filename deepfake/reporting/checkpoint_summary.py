"""A checkpoint as a person reads it in a terminal: `deepfake info` (load_model.py) prints this, one fact a line,
from checkpoint.describe()'s dictionary."""
from typing import Dict, List


def format_checkpoint(description: Dict) -> str:
    lines: List[str] = []
    lines.append(f"checkpoint      {description['weights']}")
    lines.append(f"architecture    {description['arch']} {description['model_kwargs'] or ''}".rstrip())
    lines.append(f"parameters      {description['parameters']:,}")
    resized = f"shorter side resized to {description['resize']} px, then " if description["resize"] else ""
    mirrored = ", each also mirrored" if description["mirror_views"] else ""
    lines.append(f"input           {resized}{description['input_size']}x{description['input_size']} crops, "
                 f"up to {description['eval_crops']} per image at inference{mirrored}, their logits averaged")
    lines.append(f"normalisation   mean {description['mean']}, std {description['std']}")
    lines.append(f"threshold       {description['threshold']:.4f} ({description['threshold_rule']})")
    lines.append(f"calibration     P(fake) = sigmoid(logit / {description['temperature']:.4f} "
                 f"{description['logit_bias']:+.4f})")
    lines.append(f"classes         0 = {description['class_names'][0]}, 1 = {description['class_names'][1]}")
    lines.append(f"package         deepfake {description['package_version']}")
    for source in description["training_data"]:
        lines.append(f"trained on      {source['name']}: {source['n_real']} real + {source['n_fake']} fake "
                     f"({source['n_train']} train / {source['n_val']} validation, file list {source['file_list_sha256']})")
    training = description["training"]
    for record in training.get("adaptations", []):
        lines.append(f"adapted         {record['date']} on {record['n_fake']} fake + {record['n_real']} real images "
                     f"(file list {record['file_list_sha256'][:16]}), from base {record['base_sha256'][:16]}")
    if training.get("source"):  # converted from a peer's published weights: no run of ours to describe
        lines.append(f"source          {training['source']}")
    elif training:
        lines.append(f"training        {training.get('best_epoch')} of {training.get('epochs')} epochs kept, "
                     f"seed {training.get('seed')}, validation fraction {training.get('val_fraction')}, "
                     f"split by {training.get('split_by')}"
                     + (f", {training['train_fraction']} of the training side used" if training.get("train_fraction", 1) < 1
                        else ""))
    started = training.get("initialised_from")
    if started:  # --init-from: the model also carries what that checkpoint learnt
        # The path as it was when training started: the file there may since have been replaced by this one.
        lines.append(f"started from    the checkpoint then at {started['weights']} ({started['arch']}), trained on "
                     + ", ".join(entry["name"] for entry in started.get("data") or []))
    metrics = description["validation_metrics"]
    if metrics:
        shown = ", ".join(f"{key} {metrics[key]:.4f}" for key in
                          ("accuracy", "precision", "recall", "f1", "roc_auc", "average_precision",
                           "expected_calibration_error")
                          if metrics.get(key) is not None)
        # An adapted checkpoint keeps its base's figures: adaptation measures nothing on the base's split.
        whose = " (the base model's, before adaptation)" if training.get("adaptations") else ""
        lines.append(f"validation      {shown}{whose}")
    return "\n".join(lines)
